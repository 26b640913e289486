"""The canonical form of an event, its hash, and the chain of hashes that links a stream."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

# What json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds on every
# call, built once: every event is hashed on the unit and again at the centre (encode() keeps no
# state between calls, so one encoder serves every thread).
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(obj: Any) -> bytes:
    return _CANONICAL_ENCODER.encode(obj).encode("utf-8")


def event_hash(event: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical form of the event without its "hash" field."""
    body = dict(event)
    body.pop("hash", None)
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


class ChainError(ValueError):
    """A batch whose hashes, chain or order do not hold together."""


def verify_chain(events: Iterable[Mapping[str, Any]], stream_id: str) -> None:
    """Check every event's own hash and that each links onto the one before it in the batch.

    The link of the batch's first event to what the receiver already holds is the receiver's
    business (it knows the stored head); this checks only what the batch itself proves.
    """
    previous: Mapping[str, Any] | None = None
    for event in events:
        if event.get("stream_id") != stream_id:
            raise ChainError(f"event seq {event.get('seq')} belongs to another stream")
        if event_hash(event) != event.get("hash"):
            raise ChainError(f"event seq {event.get('seq')} does not match its hash")
        if event.get("seq") == 1 and event.get("prev_hash") != "":
            raise ChainError("seq 1 must have an empty prev_hash")
        if previous is not None:
            if event.get("seq") != previous["seq"] + 1:
                raise ChainError(f"seq {event.get('seq')} does not follow {previous['seq']}")
            if event.get("prev_hash") != previous["hash"]:
                raise ChainError(f"event seq {event.get('seq')} does not chain onto seq {previous['seq']}")
        previous = event

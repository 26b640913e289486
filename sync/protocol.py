"""The kiosk ↔ centre protocol's pure parts: canonical form, event hashes, the chain, head signatures.

Both sides import this module, so the unit and the centre can never disagree on what a hash or a
signature covers. No I/O here.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PROTOCOL_VERSION = 1
MAX_BATCH = 500

EVENT_FIELDS = (
    "event_id", "stream_id", "seq", "type", "wall_time", "mono_ns", "boot_id", "clock_synced",
    "data", "prev_hash", "hash",
)

# Rating levels, best to worst, as PROTOCOL.md codes them.
LEVEL_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = frozenset({1, 2})  # 差评


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


def head_message(stream_id: str, last_seq: int, last_hash: str) -> bytes:
    return f"{stream_id}:{last_seq}:{last_hash}".encode("utf-8")


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


# --- Ed25519 keys and head signatures -------------------------------------------------------

def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the unit key is not an Ed25519 key")
    return key


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key_b64(text: str) -> Ed25519PublicKey:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_head(key: Ed25519PrivateKey, stream_id: str, last_seq: int, last_hash: str) -> str:
    return base64.b64encode(key.sign(head_message(stream_id, last_seq, last_hash))).decode("ascii")


def verify_head(public_key: Ed25519PublicKey, signature_b64: str, stream_id: str, last_seq: int,
                last_hash: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, head_message(stream_id, last_seq, last_hash))
    except (InvalidSignature, ValueError):
        return False
    return True

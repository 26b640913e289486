"""Checking the event store's own copy of the hash chain (issue 15): a byte changed in a stored
event must be noticed before anything new is chained onto it or sent to the centre.

SQLite's quick_check sees damaged pages, not a changed character inside a valid row: the chain of
PROTOCOL.md does. `ChainWalk` takes stored rows in seq order and checks each the way the centre
will: its own hash, its link to the event before it, its stream, and that the row's columns say
what its body says. The store walks from the last seq it verified (kept in its meta), so a start
reads only what was added since; `kiosk selftest` walks everything.
"""
from __future__ import annotations

import json
from typing import Iterable

from protocol.chain import event_hash

Row = tuple[int, str, str, str]   # seq, event_id, type, body — as the events table stores them


class ChainBroken(Exception):
    def __init__(self, seq: int, why: str) -> None:
        super().__init__(f"event seq {seq} {why}")
        self.seq = seq
        self.why = why


class ChainWalk:
    """Walks rows in seq order. Seqs missing below `prunable_through` are allowed (acknowledged
    events are pruned after their retention); the link across such a hole cannot be checked."""

    def __init__(self, stream_id: str, prunable_through: int = 0, after_seq: int = 0,
                 after_hash: str | None = "") -> None:
        self.stream_id = stream_id
        self.prunable_through = prunable_through
        self.seq = after_seq          # the last seq checked (0: none yet)
        self.hash = after_hash        # its hash; None when it is not known (the link is not checked)
        self.checked = 0

    def check_all(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.check(row)

    def check(self, row: Row) -> None:
        seq, event_id, kind, body = row
        try:
            event = json.loads(body)
        except ValueError:
            raise ChainBroken(seq, "is not readable JSON") from None
        if not isinstance(event, dict):
            raise ChainBroken(seq, "is not an event object")
        if (event.get("seq"), event.get("event_id"), event.get("type")) != (seq, event_id, kind):
            raise ChainBroken(seq, "does not match its row (seq, event_id or type differ)")
        if event.get("stream_id") != self.stream_id:
            raise ChainBroken(seq, "belongs to another stream")
        if event_hash(event) != event.get("hash"):
            raise ChainBroken(seq, "does not match its hash (its content was changed)")
        if seq == 1:
            if event.get("prev_hash") != "":
                raise ChainBroken(seq, "is the first event but has a prev_hash")
        elif seq == self.seq + 1:
            if self.hash is not None and event.get("prev_hash") != self.hash:
                raise ChainBroken(seq, f"does not chain onto seq {self.seq}")
        elif seq <= self.seq:
            raise ChainBroken(seq, f"comes after seq {self.seq}")
        elif seq - 1 > self.prunable_through:
            raise ChainBroken(self.seq + 1, f"is missing (the store goes on at seq {seq})")
        self.seq, self.hash = seq, event["hash"]
        self.checked += 1

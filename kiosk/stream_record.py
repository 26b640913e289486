"""What the unit remembers of its stream outside the event database (issue 15): the stream id and
the highest seq it knew committed and acknowledged, in a small file beside the database.

A database emptied (`truncate -s 0`), deleted, or swapped for an older copy would otherwise open
as a new stream at seq 1, or as a shorter one, and nobody would hear that events were lost. With
this record the store refuses such a database as storage_corrupt until a technician decides
(`kiosk reset-store`). The record never names more than was committed: it is written when the
store is created or opened, when the centre acknowledges, and at a clean close. Writing it is
best effort (a full disk): a record left behind only makes the check weaker, never wrong.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sync.files import write_atomic

RECORD_MODE = 0o644


@dataclass(frozen=True)
class StreamRecord:
    stream_id: str
    head_seq: int          # the highest seq known committed
    acked_through: int     # the highest seq the centre acknowledged

    @property
    def unsent(self) -> int:
        return max(0, self.head_seq - self.acked_through)


def stream_record_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".stream")


def load_stream_record(db_path: Path) -> StreamRecord | None:
    """The record, None when there is none; ValueError when it cannot be read as one."""
    try:
        data = json.loads(stream_record_path(db_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    try:
        return StreamRecord(str(data["stream_id"]), int(data["head_seq"]), int(data["acked_through"]))
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a stream record: {error}") from None


def save_stream_record(db_path: Path, record: StreamRecord) -> None:
    write_atomic(stream_record_path(db_path), json.dumps(asdict(record)).encode("utf-8"), mode=RECORD_MODE)

"""Stored events for the report and ledger tests, written straight into the events table (the
upload path has its own tests; here thousands of events must go in quickly)."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from centre.storage.db import Database
from centre.storage.models import Event, Stream, Unit
from protocol.events import EventType

TEXT_FIELDS = ("staff_id", "counter_id", "transaction_id", "ticket", "service_item")


class EventWriter:
    """Events of many units, each unit one stream, seq counting from 1."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.streams: dict[str, tuple[str, int]] = {}

    def add(self, unit_id: str, type_: str, wall_time: str, data: dict[str, Any]) -> None:
        type_ = EventType(type_)  # a misspelt type fails here, not as a report that counts nothing
        stream_id, seq = self.streams.get(unit_id, (str(uuid.uuid4()), 0))
        seq += 1
        self.streams[unit_id] = (stream_id, seq)
        event = {"event_id": str(uuid.uuid4()), "stream_id": stream_id, "seq": seq, "type": type_,
                 "wall_time": wall_time, "mono_ns": seq, "boot_id": "b", "clock_synced": True,
                 "data": data, "prev_hash": "", "hash": uuid.uuid4().hex}
        self.rows.append({
            "unit_id": unit_id, "stream_id": stream_id, "seq": seq, "event_id": event["event_id"],
            "type": type_, "wall_time": wall_time,
            "wall_time_utc": datetime.fromisoformat(wall_time).astimezone(timezone.utc),
            "received_at": datetime.now(timezone.utc), "hash": event["hash"],
            "level": data.get("level") if type_ == EventType.RATING_SUBMITTED else None,
            **{name: (None if data.get(name) is None else str(data[name])) for name in TEXT_FIELDS},
            "raw_json": json.dumps(event, ensure_ascii=False),
        })

    def store(self, db: Database) -> None:
        now = datetime.now(timezone.utc)
        with db.transaction() as session:
            for unit_id, (stream_id, seq) in self.streams.items():
                if session.get(Unit, unit_id) is None:
                    session.add(Unit(unit_id=unit_id, role="counter", created_at=now))
                    session.flush()
                stream = session.get(Stream, stream_id)
                if stream is None:  # a second store() of the same writer carries on its streams
                    session.add(Stream(stream_id=stream_id, unit_id=unit_id, acked_through=seq,
                                       head_hash="", first_seen=now, last_seen=now))
                else:
                    stream.acked_through = seq
            session.flush()
            session.execute(Event.__table__.insert(), self.rows)
        self.rows = []

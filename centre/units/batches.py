"""An upload batch before it touches the database: its shape (check 2) and its signatures (check 3).

Pure functions, so the CPU work of a 500-event batch happens outside any database transaction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from centre.units.schemas import UnitHealth, UploadBatch, parse_rfc3339
from centre.web.bodies import raw_array_items, validate
from centre.web.errors import ApiError, invalid
from protocol.chain import ChainError, verify_chain
from protocol.events import EventType
from protocol.signing import load_public_key_b64, verify_head

# Values copied out of `data` into their own columns, for the reports.
TEXT_COLUMNS = ("staff_id", "counter_id", "transaction_id", "ticket", "service_item")
# A unit's are a few characters (a transaction id is a UUID); the ledger keeps a transaction id
# in 128, so a longer one would stop every later ledger update on PostgreSQL.
MAX_TEXT_COLUMN = 128


@dataclass(frozen=True)
class IncomingBatch:
    stream_id: str
    events: list[dict[str, Any]]  # as decoded: what the hashes are checked against
    raw_events: list[str]  # the source text of each event, kept as the audit trail
    report_columns: list[dict[str, Any]]  # per event: wall_time_utc, level, staff_id, …
    head_sig: str
    sent_at: datetime
    health: UnitHealth | None
    health_json: str | None

    @property
    def is_heartbeat(self) -> bool:
        return not self.events


def claimed_stream_id(data: Any) -> str | None:
    """The stream a batch says it is for, if it says so plainly, even when the rest is malformed."""
    if isinstance(data, dict) and isinstance(data.get("stream_id"), str) and len(data["stream_id"]) <= 64:
        return data["stream_id"]
    return None


def _text_column(data: dict[str, Any], name: str, field: str) -> str | None:
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{field}.{name}", "must be a string or an integer")
    if len(value) > MAX_TEXT_COLUMN:
        raise invalid(f"{field}.{name}", f"at most {MAX_TEXT_COLUMN} characters")
    return value


def _report_columns(event: dict[str, Any], field: str) -> dict[str, Any]:
    data = event["data"]
    columns: dict[str, Any] = {name: _text_column(data, name, f"{field}.data") for name in TEXT_COLUMNS}
    level = None
    if event["type"] == EventType.RATING_SUBMITTED:
        level = data.get("level")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            raise invalid(f"{field}.data.level", "a rating's level is an integer from 1 to 5")
    columns["level"] = level
    columns["wall_time_utc"] = parse_rfc3339(event["wall_time"]).astimezone(timezone.utc)
    return columns


def parse_batch(text: str, data: Any) -> IncomingBatch:
    """The batch whose JSON `text` decoded to `data`, or 422 invalid naming the first field that
    does not fit PROTOCOL.md."""
    if not isinstance(data, dict):
        raise invalid("body", "must be a JSON object")
    batch = validate(UploadBatch, data)
    events: list[dict[str, Any]] = data["events"]
    raw_events = raw_array_items(text, "events")
    if raw_events is None or len(raw_events) != len(events):
        raise AssertionError("the events array of a validated batch could not be located in its text")
    columns = []
    for index, event in enumerate(events):
        field = f"events[{index}]"
        if event["stream_id"] != batch.stream_id:
            raise invalid(f"{field}.stream_id", "differs from the batch's stream_id")
        columns.append(_report_columns(event, field))
    if not events and batch.head_sig:
        raise invalid("head_sig", "must be empty in a heartbeat (a batch without events)")
    health = data.get("health")
    return IncomingBatch(
        stream_id=batch.stream_id, events=events, raw_events=raw_events, report_columns=columns,
        head_sig=batch.head_sig, sent_at=parse_rfc3339(batch.sent_at), health=batch.health,
        health_json=None if health is None else json.dumps(health, ensure_ascii=False),
    )


def verify_batch(batch: IncomingBatch, public_key_b64: str) -> None:
    """Each hash, the chain inside the batch and the head signature, or 422 bad_signature."""
    if batch.is_heartbeat:
        return
    try:
        verify_chain(batch.events, batch.stream_id)
    except ChainError as exc:
        raise ApiError(422, "bad_signature", str(exc)) from exc
    last = batch.events[-1]
    if not verify_head(load_public_key_b64(public_key_b64), batch.head_sig, batch.stream_id,
                       last["seq"], last["hash"]):
        raise ApiError(422, "bad_signature", "head_sig is not the unit's signature of this batch")

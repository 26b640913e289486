"""Receiving an upload: PROTOCOL.md's checks in their order, then the batch stored in one transaction.

Exactly-once: a stream's row is locked for the whole write (SELECT … FOR UPDATE on PostgreSQL,
BEGIN IMMEDIATE on SQLite), so two uploads of one stream are handled one after the other and each
sees what the other stored. UNIQUE(stream_id, seq) backs this up in the schema.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from centre.platform.outbox import queue_new_events
from centre.storage.db import Database
from centre.storage.models import Event, Stream, Unit
from centre.units.batches import IncomingBatch, claimed_stream_id, parse_batch, verify_batch
from centre.units.claims import apply_voids, held_columns
from centre.units.ticket_refs import index_ticket_refs
from centre.web.auth import AuthenticatedUnit, authenticate_unit
from centre.web.bodies import decode_json, decode_text
from centre.web.errors import ApiError

log = logging.getLogger("centre.ingest")  # the logger's name as the log has always shown it

# Refusals of a batch after which the unit stops the stream (PROTOCOL.md). A gap it resends; a
# refused heartbeat carried no events, so it stops nothing.
STREAM_STOPPING_CODES = frozenset({"conflict", "bad_signature", "invalid"})


@dataclass(frozen=True)
class UploadResult:
    acked_through: int
    stored: int
    duplicates: int


def receive_upload(db: Database, unit_id: str, authorization: str | None, body: bytes,
                   received_at: datetime) -> UploadResult:
    # One connection for the whole upload; the checks that need no database (the body's shape,
    # hashes, signature) run between its two transactions, so no lock is held while they do.
    # Core transactions on the Connection, not ORM Sessions: an upload loads no ORM objects, and a
    # Session's bookkeeping cost more CPU than its few statements.
    with db.connection() as connection:
        with connection.begin():
            unit = authenticate_unit(connection, unit_id, authorization)
        stream_id, carries_events = None, False
        try:
            text = decode_text(body)
            data = decode_json(text)
            stream_id = claimed_stream_id(data)
            carries_events = isinstance(data, dict) and bool(data.get("events"))
            batch = parse_batch(text, data)
            verify_batch(batch, unit.public_key)
            with connection.begin():
                return _store(connection, unit, batch, received_at)
        except ApiError as refusal:
            log.warning("unit %s stream %s: refused %s: %s", unit_id, stream_id, refusal.code,
                        refusal.message)
            if refusal.code in STREAM_STOPPING_CODES and carries_events:
                with db.transaction(connection) as session:
                    _record_stop(session, unit_id, stream_id, refusal, received_at)
            raise


# Core statements, not ORM objects: an upload reads one row and updates two, and the ORM's
# identity map and unit of work cost more CPU than the SQL itself for a small batch.
_STREAMS, _UNITS, _EVENTS = Stream.__table__, Unit.__table__, Event.__table__
_READ_STREAM = (select(_STREAMS.c.unit_id, _STREAMS.c.acked_through, _STREAMS.c.head_hash)
                .where(_STREAMS.c.stream_id == bindparam("stream_id")))
_LOCK_STREAM = _READ_STREAM.with_for_update()
# Built once: the SET clause comes from the keys of the parameters, so each upload only binds values
# (a statement built with .values() per call costs more in SQLAlchemy than the update itself).
_UPDATE_STREAM = _STREAMS.update().where(_STREAMS.c.stream_id == bindparam("key_stream_id"))
_UPDATE_UNIT = _UNITS.update().where(_UNITS.c.unit_id == bindparam("key_unit_id"))


def _lock_stream(connection: Connection, unit_id: str, stream_id: str, now: datetime) -> Row:
    """The stream's row (acked_through, head_hash), locked for this transaction, made if new.

    The row is looked up first, because it almost always exists: one round trip instead of an
    insert that does nothing and then the lookup. Two first batches of a new stream at once both
    find nothing and both insert; ON CONFLICT DO NOTHING makes the later one wait for the earlier
    one's transaction and then leave the row alone, and its second lookup sees the committed row.
    """
    stream = connection.execute(_LOCK_STREAM, {"stream_id": stream_id}).first()
    if stream is None:
        dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(
            dialect_insert(_STREAMS)
            .values(stream_id=stream_id, unit_id=unit_id, acked_through=0, head_hash="",
                    first_seen=now, last_seen=now)
            .on_conflict_do_nothing(index_elements=[_STREAMS.c.stream_id]))
        stream = connection.execute(_LOCK_STREAM, {"stream_id": stream_id}).one()
    if stream.unit_id != unit_id:
        raise ApiError(403, "forbidden", f"stream {stream_id} belongs to another unit")
    return stream


def _store(connection: Connection, unit: AuthenticatedUnit, batch: IncomingBatch, now: datetime
           ) -> UploadResult:
    unit_id = unit.unit_id
    if batch.is_heartbeat:
        return _heartbeat(connection, unit_id, batch, now)
    stream = _lock_stream(connection, unit_id, batch.stream_id, now)
    acked = stream.acked_through
    held = [event for event in batch.events if event["seq"] <= acked]
    if held:
        stored_hashes = dict(connection.execute(
            select(_EVENTS.c.seq, _EVENTS.c.hash).where(
                _EVENTS.c.stream_id == batch.stream_id,
                _EVENTS.c.seq.between(held[0]["seq"], held[-1]["seq"]))
        ).all())
        for event in held:
            if stored_hashes.get(event["seq"]) != event["hash"]:
                raise ApiError(409, "conflict", f"seq {event['seq']} differs from the event the "
                               "centre already holds at that seq")
    new_events = len(held)
    fresh = batch.events[new_events:]
    # An accepted batch shows the stream flows again: it ends a stop an earlier refusal marked
    # (the refusal itself stays in last_refusal).
    stream_changes: dict[str, object] = {"last_seen": now, "stopped_reason": None, "stopped_at": None}
    if fresh:
        first = fresh[0]
        if first["seq"] != acked + 1:
            raise ApiError(409, "gap", f"the centre holds this stream through seq {acked}; "
                           f"resend from seq {acked + 1}", expected_seq=acked + 1)
        if first["prev_hash"] != stream.head_hash:
            raise ApiError(409, "conflict", f"seq {first['seq']} does not chain onto seq {acked} "
                           "as the centre holds it")
        rows = event_rows(unit_id, batch, now, skip=new_events, unit=unit)
        connection.execute(_EVENTS.insert(), rows)
        apply_voids(connection, rows)
        index_ticket_refs(connection, fresh, rows)
        queue_new_events(connection, batch.stream_id, first["seq"], fresh[-1]["seq"], now)
        acked = fresh[-1]["seq"]
        stream_changes.update(acked_through=acked, head_hash=fresh[-1]["hash"])
    connection.execute(_UPDATE_STREAM, {"key_stream_id": batch.stream_id, **stream_changes})
    # The health the unit sent describes it before this batch: what is left to send is its
    # backlog less what the centre now holds (the unit's backlog starts at this batch's first seq).
    left = None if batch.health is None or batch.health.backlog is None else max(
        0, batch.events[0]["seq"] - 1 + batch.health.backlog - acked)
    unit_changes = {"current_stream_id": batch.stream_id, "stream_stopped_reason": None,
                    "stream_stopped_at": None, **_health_columns(batch, now, backlog=left)}
    connection.execute(_UPDATE_UNIT, {"key_unit_id": unit_id, **unit_changes})
    return UploadResult(acked_through=acked, stored=len(fresh), duplicates=len(held))


def event_rows(unit_id: str, batch: IncomingBatch, received_at: datetime, skip: int = 0,
               unit: AuthenticatedUnit | None = None) -> list[dict]:
    """The `events` rows for a batch's events after its first `skip` (those the centre held), their
    report columns held to the unit's registration (`unit`; None only where a tool stores a copy
    it trusts, such as bench/drain.py's baseline)."""
    return [
        {"unit_id": unit_id, "stream_id": batch.stream_id, "seq": event["seq"],
         "event_id": event["event_id"], "type": event["type"], "wall_time": event["wall_time"],
         "received_at": received_at, "hash": event["hash"], "raw_json": raw,
         **(columns if unit is None else held_columns(unit, event, columns, received_at))}
        for event, raw, columns in zip(batch.events[skip:], batch.raw_events[skip:],
                                       batch.report_columns[skip:])
    ]


def _heartbeat(connection: Connection, unit_id: str, batch: IncomingBatch, now: datetime) -> UploadResult:
    """Health only. A heartbeat is not signed, so it neither makes a stream nor changes which one
    is current: those follow signed batches alone."""
    stream = connection.execute(_READ_STREAM, {"stream_id": batch.stream_id}).first()
    if stream is not None and stream.unit_id != unit_id:
        raise ApiError(403, "forbidden", f"stream {batch.stream_id} belongs to another unit")
    connection.execute(_UPDATE_UNIT, {"key_unit_id": unit_id, **_health_columns(batch, now)})
    return UploadResult(acked_through=stream.acked_through if stream is not None else 0, stored=0,
                        duplicates=0)


def _health_columns(batch: IncomingBatch, now: datetime, backlog: int | None = None) -> dict[str, object]:
    """The unit's columns an accepted upload or heartbeat sets: last seen, clock offset and, when
    the unit sent them, its health figures (`backlog`: the one to record, when not as sent)."""
    columns: dict[str, object] = {
        "last_seen": now, "clock_offset_ms": round((now - batch.sent_at).total_seconds() * 1000)}
    health = batch.health
    if health is None:
        return columns
    columns.update(
        health_json=batch.health_json, backlog=health.backlog if backlog is None else backlog,
        paper=health.paper,
        version=health.version,
        disk_free_mb=None if health.disk_free_mb is None else int(health.disk_free_mb),
        uptime_s=None if health.uptime_s is None else int(health.uptime_s))
    return columns


def _record_stop(session: Session, unit_id: str, stream_id: str | None, refusal: ApiError,
                 now: datetime) -> None:
    """Show in fleet health that the unit's stream was refused and why (stopped until a batch is
    accepted after it; kept as last_refusal for good); no event is stored."""
    reason = f"{refusal.code}: {refusal.message}"
    if stream_id is not None:
        stream = session.scalars(select(Stream).where(Stream.stream_id == stream_id,
                                                      Stream.unit_id == unit_id).with_for_update()
                                 ).one_or_none()
        if stream is not None:
            stream.stopped_reason = stream.last_refusal = reason
            stream.stopped_at = stream.last_refusal_at = now
    unit = session.get(Unit, unit_id)
    unit.stream_stopped_reason = unit.last_refusal = (
        reason if stream_id is None else f"stream {stream_id}: {reason}")
    unit.stream_stopped_at = unit.last_refusal_at = now
    unit.last_seen = now

"""The outbox of records for the 好差评 platform: filled as events are stored, read by the worker.

Every counted `rating.submitted` and `rating.reason` gets its record in the transaction that
stores it (queue_new_events, called by centre.units.upload), so a crash can neither lose one nor
make one twice: the record's `key` is the event's event_id, UNIQUE here and the platform's
idempotency key. A 差评's reasons normally travel inside its rating's record (comma-separated
codes; the reason records are then `merged`); a reason that arrives after its rating was sent goes
on its own. A rating set aside after it was queued (a later `rating.voided`) is `withheld` when
its turn comes, never sent. Rectifications and callbacks recorded in the 差评 ledger are queued
by the worker (queue_ledger_updates), keyed by the rating's event_id and what they are.

Records go strictly in the order of `rated_at`, then `id`: the worker only ever tries the first
pending one (next_due), so the platform receives them in the order they were rated.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, case, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from centre.platform.mapping import PlatformConfig
from centre.storage.models import Event, LedgerEntry, OutboxStatus, PlatformOutbox, SetAside
from protocol.events import EventType

_OUTBOX, _EVENTS, _LEDGER = PlatformOutbox.__table__, Event.__table__, LedgerEntry.__table__
FORWARDED_TYPES = (EventType.RATING_SUBMITTED, EventType.RATING_REASON)
# A claimed record is not tried by anyone else for this long past its timeout: a worker that dies
# mid-send leaves its record to be tried again after it, by the next worker or a restart.
CLAIM_MARGIN_S = 30.0
# A 差评 (level 1 or 2) waits for the reasons the citizen picks right after it.
BAD_LEVELS = (1, 2)


def _insert(connection: Connection):
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(_OUTBOX)


def queue_new_events(connection: Connection, stream_id: str, first_seq: int, last_seq: int,
                     now: datetime) -> None:
    """Queue the counted ratings and reasons of the stream's events first_seq…last_seq, just
    stored in this transaction (after their voids were applied, so what a void in the same batch
    took back is not queued). One INSERT … SELECT; an event_id already queued (a unit that sent
    one twice) is left as it is."""
    kind = case((_EVENTS.c.type == EventType.RATING_SUBMITTED, literal("rating")), else_=literal("reason"))
    chosen = select(
        _EVENTS.c.event_id, kind, _EVENTS.c.unit_id, _EVENTS.c.event_id, _EVENTS.c.transaction_id,
        _EVENTS.c.wall_time_utc, literal(OutboxStatus.PENDING), literal(0), literal(now, PlatformOutbox.next_attempt_at.type),
        literal(now, PlatformOutbox.created_at.type),
    ).where(_EVENTS.c.stream_id == stream_id, _EVENTS.c.seq.between(first_seq, last_seq),
            _EVENTS.c.type.in_(FORWARDED_TYPES), _EVENTS.c.set_aside.is_(None))
    columns = ["key", "kind", "unit_id", "event_id", "transaction_id", "rated_at", "status", "attempts",
               "next_attempt_at", "created_at"]
    connection.execute(_insert(connection).from_select(columns, chosen)
                       .on_conflict_do_nothing(index_elements=[_OUTBOX.c.key]))


def queue_ledger_updates(connection: Connection, now: datetime) -> int:
    """Queue the 差评 ledger's rectifications and callbacks not queued yet (key: the rating's
    event_id and `:rectification` or `:callback`); how many were queued."""
    queued = 0
    for kind, done_at in (("rectification", _LEDGER.c.rectified_at), ("callback", _LEDGER.c.callback_at)):
        rating = (select(_EVENTS.c.event_id)
                  .where(_EVENTS.c.transaction_id == _LEDGER.c.transaction_id,
                         _EVENTS.c.type == EventType.RATING_SUBMITTED, _EVENTS.c.set_aside.is_(None))
                  .order_by(_EVENTS.c.id).limit(1).correlate(_LEDGER))
        rows = connection.execute(
            select(_LEDGER.c.transaction_id, done_at, rating.scalar_subquery().label("event_id"))
            .where(done_at.is_not(None))
            .where(~exists().where(_OUTBOX.c.transaction_id == _LEDGER.c.transaction_id,
                                   _OUTBOX.c.kind == kind))).all()
        for transaction_id, at, event_id in rows:
            if event_id is None:
                continue
            queued += connection.execute(_insert(connection).values(
                key=f"{event_id}:{kind}", kind=kind, unit_id=None, event_id=event_id,
                transaction_id=transaction_id, rated_at=at, status=OutboxStatus.PENDING, attempts=0,
                next_attempt_at=now, created_at=now).on_conflict_do_nothing(
                index_elements=[_OUTBOX.c.key])).rowcount
    return queued


@dataclass(frozen=True)
class Claimed:
    """A record the worker has claimed and is about to send."""

    id: int
    key: str
    attempts: int
    body: dict[str, Any]
    merged_ids: tuple[int, ...]  # reason records travelling inside this rating's record


def _event_data(connection: Connection, event_id: str | None, unit_id: str | None) -> tuple[Any, dict[str, Any]] | None:
    """(set_aside, the event's whole JSON) of the stored event, or None if there is none."""
    query = select(_EVENTS.c.set_aside, _EVENTS.c.raw_json).where(_EVENTS.c.event_id == event_id)
    if unit_id is not None:
        query = query.where(_EVENTS.c.unit_id == unit_id)
    row = connection.execute(query.order_by(_EVENTS.c.id).limit(1)).first()
    return None if row is None else (row.set_aside, json.loads(row.raw_json))


def _counted(set_aside: str | None) -> bool:
    return set_aside is None or set_aside == SetAside.UNKNOWN_TYPE


def _local_time(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def record_values(record: Any, event: dict[str, Any], reason_codes: list[str], zone: ZoneInfo,
                  config: PlatformConfig) -> dict[str, Any]:
    """The centre's values for one outbox record, named as in mapping.SOURCE_FIELDS."""
    data = event.get("data") or {}
    values: dict[str, Any] = {
        "key": record.key, "kind": record.kind, "event_id": record.event_id,
        "transaction_id": record.transaction_id, "area_code": config.area_code,
        "service_item": data.get("service_item"), "level": data.get("level"),
        "rated_at": _local_time(datetime.fromisoformat(event["wall_time"]), zone),
        "reason_codes": ",".join(reason_codes), "channel": data.get("channel", "keypad"),
        "counter_id": data.get("counter_id"), "staff_id": data.get("staff_id"),
        "ticket": data.get("ticket"), "unit_id": record.unit_id, "note": None, "done_at": None,
    }
    if record.kind == "reason":
        values["reason_codes"] = str(data.get("reason_code", ""))
    return values


def _ledger_values(connection: Connection, record: Any, zone: ZoneInfo) -> dict[str, Any]:
    entry = connection.execute(select(_LEDGER).where(_LEDGER.c.transaction_id == record.transaction_id)).one()
    if record.kind == "rectification":
        return {"note": entry.rectification, "done_at": _local_time(entry.rectified_at, zone)}
    return {"note": entry.callback_note, "done_at": _local_time(entry.callback_at, zone)}


def mark_dead_letters(connection: Connection, config: PlatformConfig, now: datetime) -> int:
    """Pending records made more than dead_after_days ago become dead (a person resends them)."""
    cutoff = now - timedelta(days=config.dead_after_days)
    return connection.execute(
        update(_OUTBOX).where(_OUTBOX.c.status == OutboxStatus.PENDING, _OUTBOX.c.created_at < cutoff)
        .values(status=OutboxStatus.DEAD, last_error=func.coalesce(_OUTBOX.c.last_error, "")
                + f" (not taken in {config.dead_after_days:g} days)")).rowcount


def next_due(connection: Connection, config: PlatformConfig, zone: ZoneInfo, now: datetime) -> Claimed | None:
    """The first pending record in rating order, claimed for sending, if its time has come; None
    when there is nothing to send now (the first one waits for its retry, or another worker has
    it). Records whose events were set aside on the way are withheld, and the next one is taken."""
    while True:
        head = connection.execute(
            select(_OUTBOX).where(_OUTBOX.c.status == OutboxStatus.PENDING)
            .order_by(_OUTBOX.c.rated_at, _OUTBOX.c.id).limit(1)).first()
        if head is None or head.next_attempt_at > now:
            return None
        stored = _event_data(connection, head.event_id, head.unit_id)
        if stored is None or not _counted(stored[0]):
            connection.execute(update(_OUTBOX).where(_OUTBOX.c.id == head.id).values(
                status=OutboxStatus.WITHHELD, last_error=f"not counted: {stored[0] if stored else 'no event'}"))
            continue
        event = stored[1]
        reasons: list[Any] = []
        if head.kind == "rating":
            level = (event.get("data") or {}).get("level")
            if level in BAD_LEVELS:  # only a 差评 has reasons
                if now < head.created_at + timedelta(seconds=config.reason_wait_s):
                    return None
                reasons = _pending_reasons(connection, head)
        values = record_values(head, event, [code for _, code in reasons], zone, config)
        if head.kind in ("rectification", "callback"):
            values.update(_ledger_values(connection, head, zone))
        claimed = connection.execute(
            update(_OUTBOX).where(_OUTBOX.c.id == head.id, _OUTBOX.c.status == OutboxStatus.PENDING,
                                  _OUTBOX.c.next_attempt_at == head.next_attempt_at)
            .values(next_attempt_at=now + timedelta(seconds=config.timeout_s + CLAIM_MARGIN_S))).rowcount
        if claimed != 1:
            return None
        return Claimed(head.id, head.key, head.attempts, config.record(values),
                       tuple(record_id for record_id, _ in reasons))


def _pending_reasons(connection: Connection, head: Any) -> list[tuple[int, str]]:
    """The rating's reasons still waiting in the outbox, counted, in their order: (id, code)."""
    rows = connection.execute(
        select(_OUTBOX.c.id, _EVENTS.c.raw_json, _EVENTS.c.set_aside)
        .join(_EVENTS, and_(_EVENTS.c.event_id == _OUTBOX.c.event_id, _EVENTS.c.unit_id == _OUTBOX.c.unit_id))
        .where(_OUTBOX.c.kind == "reason", _OUTBOX.c.status == OutboxStatus.PENDING,
               _OUTBOX.c.unit_id == head.unit_id, _OUTBOX.c.transaction_id == head.transaction_id)
        .order_by(_OUTBOX.c.rated_at, _OUTBOX.c.id)).all()
    return [(row.id, str((json.loads(row.raw_json).get("data") or {}).get("reason_code", "")))
            for row in rows if _counted(row.set_aside)]


def record_sent(connection: Connection, claimed: Claimed, sent_json: str, now: datetime) -> None:
    connection.execute(update(_OUTBOX).where(_OUTBOX.c.id == claimed.id).values(
        status=OutboxStatus.SENT, attempts=claimed.attempts + 1, sent_at=now, sent_json=sent_json,
        last_error=None))
    if claimed.merged_ids:
        connection.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(claimed.merged_ids)).values(
            status=OutboxStatus.MERGED, sent_at=now, last_error=None))


def retry_delay(attempts: int, config: PlatformConfig, rng: random.Random) -> float:
    """Exponential backoff with jitter: up to base × 2^(attempts−1), capped, at least half of it
    (so many centres' retries after one outage spread out instead of arriving together)."""
    ceiling = min(config.backoff_max_s, config.backoff_base_s * 2 ** min(attempts - 1, 30))
    return rng.uniform(ceiling / 2, ceiling)


def record_failure(connection: Connection, claimed: Claimed, error: str, *, permanent: bool,
                   config: PlatformConfig, rng: random.Random, now: datetime) -> None:
    """A try that failed: retried after the backoff, or dead at once when the platform refused the
    record itself (a person must look at it: the mapping, the data)."""
    attempts = claimed.attempts + 1
    changes: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000]}
    if permanent:
        changes["status"] = OutboxStatus.DEAD
    else:
        changes["next_attempt_at"] = now + timedelta(seconds=retry_delay(attempts, config, rng))
    connection.execute(update(_OUTBOX).where(_OUTBOX.c.id == claimed.id).values(**changes))


RESENDABLE = (OutboxStatus.DEAD, OutboxStatus.SENT)


def resend(connection: Connection, now: datetime, *, keys: list[str] | None = None, dead: bool = False) -> int:
    """Put records back to pending, to be sent at once in their turn: the given keys (dead or
    sent: the platform de-duplicates a sent one by its key), or every dead one. How many."""
    query = update(_OUTBOX).values(status=OutboxStatus.PENDING, next_attempt_at=now, attempts=0,
                                   created_at=now)
    if keys:
        query = query.where(_OUTBOX.c.key.in_(keys), _OUTBOX.c.status.in_(RESENDABLE))
    elif dead:
        query = query.where(_OUTBOX.c.status == OutboxStatus.DEAD)
    else:
        return 0
    return connection.execute(query).rowcount


def outbox_status(connection: Connection, limit: int = 20) -> dict[str, Any]:
    """How many records stand where, the oldest pending, and the latest troubled records."""
    counts = dict(connection.execute(select(_OUTBOX.c.status, func.count()).group_by(_OUTBOX.c.status)).all())
    oldest = connection.execute(select(func.min(_OUTBOX.c.rated_at))
                                .where(_OUTBOX.c.status == OutboxStatus.PENDING)).scalar()
    troubled = connection.execute(
        select(_OUTBOX.c.key, _OUTBOX.c.kind, _OUTBOX.c.status, _OUTBOX.c.attempts, _OUTBOX.c.last_error,
               _OUTBOX.c.rated_at, _OUTBOX.c.next_attempt_at)
        .where(_OUTBOX.c.status.in_((OutboxStatus.DEAD, OutboxStatus.PENDING)), _OUTBOX.c.last_error.is_not(None))
        .order_by(_OUTBOX.c.id.desc()).limit(limit)).all()
    return {
        "counts": {status.value: counts.get(status.value, 0) for status in OutboxStatus},
        "oldest_pending": oldest.isoformat() if oldest else None,
        "troubled": [dict(row._mapping, rated_at=row.rated_at.isoformat(),
                          next_attempt_at=row.next_attempt_at.isoformat()) for row in troubled],
    }


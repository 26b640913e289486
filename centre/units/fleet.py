"""What the centre knows about its units: fleet health (with the events it set aside and why),
streams, the audit trail, revocation."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session

from centre.storage.models import Event, SetAside, Stream, Unit
from centre.units.enrolment import UnitError
from centre.web.errors import ApiError
from protocol.events import EVENT_TYPES


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def revoke_unit(session: Session, unit_id: str, now: datetime) -> bool:
    """Refuse the unit's uploads from now on (its stored events stay). False if it already was."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise UnitError(f"no unit {unit_id}")
    if unit.revoked_at is not None:
        return False
    unit.revoked_at = now
    return True


# What fleet health lists as set aside: every event the centre does not count for doubt of what
# the unit claims, and those of a type it did not know when it stored them while it still does not
# (then nothing counts them). Not a rating the unit itself voided: that is misuse, in the report.
_LISTED_AS_SET_ASIDE = and_(Event.set_aside.is_not(None), Event.set_aside != SetAside.VOIDED, not_(and_(
    Event.set_aside == SetAside.UNKNOWN_TYPE, Event.type.in_(sorted(EVENT_TYPES)))))
LATEST_SET_ASIDE = 5  # listed per unit, newest first, beside the counts per reason


def set_aside_events(session: Session) -> dict[str, dict[str, Any]]:
    """Per unit that has any: how many of its events were set aside, how many for each reason, and
    the latest few (which event, what it claimed, why)."""
    found: dict[str, dict[str, Any]] = {}
    counts = session.execute(select(Event.unit_id, Event.set_aside, func.count())
                             .where(_LISTED_AS_SET_ASIDE).group_by(Event.unit_id, Event.set_aside))
    for unit_id, reason, count in counts:
        listed = found.setdefault(unit_id, {"count": 0, "reasons": {}, "latest": []})
        listed["count"] += count
        listed["reasons"][reason] = count
    newest_first = func.row_number().over(partition_by=Event.unit_id, order_by=Event.id.desc())
    ranked = (select(Event.unit_id, Event.stream_id, Event.seq, Event.type, Event.wall_time, Event.counter_id,
                     Event.received_at, Event.set_aside, newest_first.label("place"))
              .where(_LISTED_AS_SET_ASIDE).subquery())
    for row in session.execute(select(ranked).where(ranked.c.place <= LATEST_SET_ASIDE)
                               .order_by(ranked.c.unit_id, ranked.c.place)):
        found[row.unit_id]["latest"].append({
            "stream_id": row.stream_id, "seq": row.seq, "type": row.type, "wall_time": row.wall_time,
            "counter_id": row.counter_id, "received_at": iso(row.received_at), "reason": row.set_aside})
    return found


def fleet_health(session: Session) -> list[dict[str, Any]]:
    """One object per unit with PROTOCOL.md's fleet health fields (and a few more)."""
    rows = session.execute(
        select(Unit, Stream)
        .outerjoin(Stream, Stream.stream_id == Unit.current_stream_id)
        .order_by(Unit.unit_id)
    ).all()
    set_aside = set_aside_events(session)
    return [
        {
            "unit_id": unit.unit_id,
            "role": unit.role,
            "counter_id": unit.counter_id,
            "enrolled": unit.enrolled_at is not None,
            "revoked": unit.revoked_at is not None,
            "last_seen": iso(unit.last_seen),
            "stream_id": unit.current_stream_id,
            "acked_through": stream.acked_through if stream is not None else 0,
            "backlog": unit.backlog,
            "paper": unit.paper,
            "clock_offset_ms": unit.clock_offset_ms,
            "version": unit.version,
            "uptime_s": unit.uptime_s,
            "disk_free_mb": unit.disk_free_mb,
            "stream_stopped": unit.stream_stopped_reason is not None,
            "stream_stopped_reason": unit.stream_stopped_reason,
            "stream_stopped_at": iso(unit.stream_stopped_at),
            "last_refusal": unit.last_refusal,
            "last_refusal_at": iso(unit.last_refusal_at),
            "set_aside": set_aside.get(unit.unit_id, {"count": 0, "reasons": {}, "latest": []}),
        }
        for unit, stream in rows
    ]


def _known_unit(session: Session, unit_id: str) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise ApiError(404, "unknown_unit", f"no unit {unit_id}")
    return unit


def unit_streams(session: Session, unit_id: str) -> list[dict[str, Any]]:
    unit = _known_unit(session, unit_id)
    streams = session.scalars(select(Stream).where(Stream.unit_id == unit_id)
                              .order_by(Stream.first_seen, Stream.stream_id)).all()
    return [
        {
            "stream_id": stream.stream_id,
            "current": stream.stream_id == unit.current_stream_id,
            "acked_through": stream.acked_through,
            "head_hash": stream.head_hash,
            "first_seen": iso(stream.first_seen),
            "last_seen": iso(stream.last_seen),
            "stopped": stream.stopped_reason is not None,
            "stopped_reason": stream.stopped_reason,
            "stopped_at": iso(stream.stopped_at),
            "last_refusal": stream.last_refusal,
            "last_refusal_at": iso(stream.last_refusal_at),
        }
        for stream in streams
    ]


def audit_events(session: Session, unit_id: str, stream_id: str | None, after_seq: int,
                 limit: int) -> tuple[str | None, list[str]]:
    """The stream (the unit's current one by default) and the JSON text of its events with
    seq > after_seq, at most `limit`, in seq order, exactly as the unit sent them."""
    unit = _known_unit(session, unit_id)
    if stream_id is None:
        stream_id = unit.current_stream_id
        if stream_id is None:
            return None, []
    elif session.scalars(select(Stream.stream_id).where(Stream.stream_id == stream_id,
                                                        Stream.unit_id == unit_id)).first() is None:
        raise ApiError(404, "unknown_stream", f"unit {unit_id} has no stream {stream_id}")
    raws = session.scalars(
        select(Event.raw_json).where(Event.stream_id == stream_id, Event.seq > after_seq)
        .order_by(Event.seq).limit(limit)
    ).all()
    return stream_id, list(raws)

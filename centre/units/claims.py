"""What a unit's events claim, held to what the centre registered for the unit.

Decided once, when the events are stored (centre.units.upload, in the transaction that stores
them), into the event's report columns: the counter it counts at, and whether it counts at all
(`set_aside`, centre.storage.models.SetAside). Every report, the ledger, the callback list and the
dashboard read those columns through CountedEvent and nothing else, so none of them repeats these
rules. No event is refused for them: the log stays whole (raw_json, the audit trail) and no stream
stops; what was set aside, and why, is in fleet health. A `rating.voided` sets aside the rating
it takes back (and its reason) the same way, and stands for them as misuse.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam

from centre.storage.models import Event, SetAside
from centre.web.auth import AuthenticatedUnit
from protocol.events import EVENT_TYPES, EventType

# PROTOCOL.md: `rating.misuse` may come without `counter_id`, and the centre then counts it at the
# unit's registered counter; `rating.voided` is counted under misuse the same way.
AT_THE_UNITS_COUNTER = frozenset({EventType.RATING_MISUSE, EventType.RATING_VOIDED})
# The events a window is scored on (the monthly report, the ledger, the callback list): these
# count only at the counter the unit is registered for. Other events name a counter without being
# scored by it (the hall's queue host records ticket.called for whichever counter called; a
# dispenser pauses under the counter its config names) and keep whatever they name. A type a newer
# centre scores at a window joins this set, and that centre's migration checks its stored events.
WINDOW_EVENTS = frozenset({
    EventType.TRANSACTION_COMPLETED, EventType.RATING_SUBMITTED, EventType.RATING_MISSED,
    EventType.RATING_MISUSE, EventType.RATING_VOIDED,
})
# How far a unit's clock may be off before its events are not believed: a day either way of the
# time the centre received them (a unit can only be late to send) or of the unit's enrolment (a
# unit may record a little before a technician enrols it).
CLOCK_MARGIN = timedelta(days=1)
# More presses than a keypad can make in the minute a burst's misuse event covers at most (one
# each debounce_ms, 50 by default: 1,200), with room for a faster debounce.
MAX_BURST_PRESSES = 100_000


def set_aside_because(unit: AuthenticatedUnit, event_type: str, counter_id: str | None,
                      wall_time_utc: datetime, received_at: datetime) -> SetAside | None:
    """Why the centre does not count this event of `unit`, or None when it does (first reason)."""
    if event_type in WINDOW_EVENTS and counter_id is not None and counter_id != unit.counter_id:
        return SetAside.OTHER_COUNTER
    if wall_time_utc > received_at + CLOCK_MARGIN:
        return SetAside.FUTURE
    if unit.enrolled_at is not None and wall_time_utc < unit.enrolled_at - CLOCK_MARGIN:
        return SetAside.BEFORE_ENROLMENT
    if event_type not in EVENT_TYPES:
        return SetAside.UNKNOWN_TYPE
    return None


def misuse_presses(event_type: str, data: dict[str, Any]) -> int | None:
    """The presses a rating.misuse stands for: a burst's `dropped` (docs/protocol-notes.md), else 1.
    A `dropped` that is not a count a keypad could make counts as the one press."""
    if event_type != EventType.RATING_MISUSE:
        return None
    dropped = data.get("dropped")
    if data.get("why") == "burst" and type(dropped) is int and 1 <= dropped <= MAX_BURST_PRESSES:
        return dropped
    return 1


def held_columns(unit: AuthenticatedUnit, event: dict[str, Any], columns: dict[str, Any],
                 received_at: datetime) -> dict[str, Any]:
    """The event's report columns (centre.units.batches) as the centre counts them."""
    event_type = event["type"]
    counter_id = columns["counter_id"]
    if counter_id is None and event_type in AT_THE_UNITS_COUNTER:
        counter_id = unit.counter_id
    return {**columns, "counter_id": counter_id, "presses": misuse_presses(event_type, event["data"]),
            "set_aside": set_aside_because(unit, event_type, counter_id, columns["wall_time_utc"], received_at)}


_EVENTS = Event.__table__
# What a rating.voided takes back: the unit's own rating of that transaction and its reasons,
# unless they were set aside already.
_VOID = (_EVENTS.update()
         .where(_EVENTS.c.unit_id == bindparam("key_unit_id"), _EVENTS.c.transaction_id == bindparam("key_transaction_id"),
                _EVENTS.c.type.in_((EventType.RATING_SUBMITTED, EventType.RATING_REASON)),
                _EVENTS.c.set_aside.is_(None))
         .values(set_aside=SetAside.VOIDED))
_PRESSES = (_EVENTS.update()
            .where(_EVENTS.c.stream_id == bindparam("key_stream_id"), _EVENTS.c.seq == bindparam("key_seq"))
            .values(presses=bindparam("presses")))


def apply_voids(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """For each counted rating.voided among the `rows` just stored, set aside (as voided) what it
    takes back, and record how many presses that was on the voided event: the rating is the one
    press, each reason another. In the transaction that stored them; a batch without one costs
    nothing more."""
    for row in rows:
        if row["type"] != EventType.RATING_VOIDED or row["set_aside"] is not None or not row["transaction_id"]:
            continue
        taken = connection.execute(_VOID, {"key_unit_id": row["unit_id"],
                                           "key_transaction_id": row["transaction_id"]}).rowcount
        connection.execute(_PRESSES, {"key_stream_id": row["stream_id"], "key_seq": row["seq"], "presses": taken})

"""What a unit's events claim, held to what the centre registered for the unit.

Decided once, when the events are stored (centre.units.upload, in the transaction that stores
them), into the event's report columns: the counter it counts at, and whether it counts at all
(`set_aside`, centre.storage.models.SetAside). Every report, the ledger, the callback list and the
dashboard read those columns through CountedEvent and nothing else, so none of them repeats these
rules. No event is refused for them: the log stays whole (raw_json, the audit trail) and no stream
stops; what was set aside, and why, is in fleet health.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from centre.storage.models import SetAside
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


def held_columns(unit: AuthenticatedUnit, event_type: str, columns: dict[str, Any],
                 received_at: datetime) -> dict[str, Any]:
    """The event's report columns (centre.units.batches) as the centre counts them."""
    counter_id = columns["counter_id"]
    if counter_id is None and event_type in AT_THE_UNITS_COUNTER:
        counter_id = unit.counter_id
    return {**columns, "counter_id": counter_id, "set_aside": set_aside_because(
        unit, event_type, counter_id, columns["wall_time_utc"], received_at)}

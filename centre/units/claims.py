"""What a unit's events claim, held to what the centre registered for the unit.

Decided once, when the events are stored (centre.units.upload, in the transaction that stores
them), into the event's report columns; every report, the ledger and the dashboard read those
columns and nothing else, so none of them repeats the rule.
"""
from __future__ import annotations

from typing import Any

from centre.web.auth import AuthenticatedUnit
from protocol.events import EventType

# PROTOCOL.md: `rating.misuse` may come without `counter_id`, and the centre then counts it at the
# unit's registered counter; `rating.voided` is counted under misuse the same way.
AT_THE_UNITS_COUNTER = frozenset({EventType.RATING_MISUSE, EventType.RATING_VOIDED})


def held_columns(unit: AuthenticatedUnit, event_type: str, columns: dict[str, Any]) -> dict[str, Any]:
    """The event's report columns (centre.units.batches) as the centre counts them."""
    if columns["counter_id"] is None and event_type in AT_THE_UNITS_COUNTER:
        return {**columns, "counter_id": unit.counter_id}
    return columns

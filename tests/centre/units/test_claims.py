"""What the centre counts of what a unit claims (centre/units/claims.py): uploaded through the
upload route, counted by `centre report` (and the ledger, the dashboard, the callback list).
Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from protocol.events import EventType
from tests.support.centre.testkit import CHINA

pytestmark = pytest.mark.timeout(60)


def this_month() -> str:
    return datetime.now(CHINA).strftime("%Y-%m")


def row_of(report: dict, counter_id: str) -> dict | None:
    return next((row for row in report["rows"] if row["counter_id"] == counter_id), None)


def transaction(unit, level: int | None = None, counter_id: str = "5") -> list[dict]:
    """A completed transaction at the window, and its rating if `level`."""
    data = {"transaction_id": str(uuid.uuid4()), "staff_id": "1001", "counter_id": counter_id}
    events = [unit.record(EventType.TRANSACTION_COMPLETED, data)]
    if level is not None:
        events.append(unit.record(EventType.RATING_SUBMITTED, {**data, "level": level}))
    return events


def test_misuse_without_a_counter_counts_at_the_units_registered_counter(centre, capsys):
    unit = centre.new_unit(counter="5")
    events = transaction(unit, level=5) + [
        unit.record(EventType.RATING_MISUSE, {"key": 2, "why": "no_window"}),            # no counter_id
        unit.record(EventType.RATING_MISUSE, {"key": 3, "why": "paused", "staff_id": "1001"}),
        unit.record(EventType.RATING_MISUSE, {"key": 1, "why": "no_window", "counter_id": "5"}),
    ]
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    report = centre.report(capsys, this_month())
    assert [row["counter_id"] for row in report["rows"]] == ["5"]
    assert row_of(report, "5")["misuse"] == 3
    by_staff = centre.report(capsys, this_month(), "--by", "staff")
    assert by_staff["rows"][0]["staff_id"] == "1001" and by_staff["rows"][0]["misuse"] == 1

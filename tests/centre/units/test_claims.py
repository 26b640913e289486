"""What the centre counts of what a unit claims (centre/units/claims.py): uploaded through the
upload route, counted by `centre report`, set aside as fleet health lists it. Runs on SQLite and
PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

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


# --- what a unit may claim (issue 15, item 9) ------------------------------------------------

# The attack itself (a counter 5 unit claiming counter 99, 2099, 1970 and an undocumented type),
# with what every report, the ledger, the callback list and the dashboard make of it:
# tests/fault/test_untrusted_unit.py.

def set_aside_of(centre, unit_id: str) -> dict:
    return centre.fleet(unit_id)["set_aside"]


def test_a_hall_host_may_name_any_counter_in_queue_events_but_scores_only_its_own_window(centre, capsys):
    host = centre.new_unit("hall-both", role="both", counter="2")
    events = [
        *transaction(host, level=4, counter_id="2"),
        host.record(EventType.TICKET_CALLED, {"ticket": "A001", "counter_id": "7", "staff_id": "1007"}),
        host.record(EventType.RATING_MISUSE, {"key": 1, "why": "no_window"}),
        *transaction(host, level=5, counter_id="7"),
    ]
    assert centre.upload(host, host.batch(events)).status_code == 200
    assert set_aside_of(centre, "hall-both")["reasons"] == {"other_counter": 2}
    report = centre.report(capsys, this_month())
    assert [(row["counter_id"], row["completed"], row["misuse"]) for row in report["rows"]] == [("2", 1, 1)]

    dispenser = centre.new_unit("hall-dispenser", role="dispenser", counter=None)
    events = [dispenser.record(EventType.TICKET_CALLED, {"ticket": "A002", "counter_id": "3", "staff_id": "1003"}),
              dispenser.record(EventType.COUNTER_PAUSED, {"counter_id": "0", "reason": "closing"}),
              *transaction(dispenser, level=1, counter_id="0")]
    assert centre.upload(dispenser, dispenser.batch(events)).status_code == 200
    assert set_aside_of(centre, "hall-dispenser")["reasons"] == {"other_counter": 2}
    assert [row["counter_id"] for row in centre.report(capsys, this_month())["rows"]] == ["2"]


def test_a_clock_a_little_off_is_believed(centre, capsys):
    unit = centre.new_unit(counter="5")
    soon = datetime.now(CHINA) + timedelta(hours=20)
    data = {"transaction_id": "t-soon", "staff_id": "1001", "counter_id": "5"}
    assert centre.upload(unit, unit.batch([unit.record(EventType.TRANSACTION_COMPLETED, data,
                                                       wall_time=soon)])).status_code == 200
    assert set_aside_of(centre, unit.unit_id)["count"] == 0
    assert row_of(centre.report(capsys, soon.strftime("%Y-%m")), "5")["completed"] == 1


# --- misuse presses and voided ratings (issue 14, item 11) --------------------------------------

def test_a_bursts_misuse_counts_the_presses_it_dropped_when_a_keypad_could_have_made_them(centre, capsys):
    unit = centre.new_unit(counter="5")
    claims = [({"why": "burst", "dropped": 7}, 7), ({"why": "burst", "dropped": 10**9}, 1),
              ({"why": "burst", "dropped": True}, 1), ({"why": "burst", "dropped": "7"}, 1),
              ({"why": "no_window", "dropped": 5}, 1), ({"why": "burst"}, 1)]
    events = [unit.record(EventType.RATING_MISUSE, {"key": 4, "counter_id": "5", **data}) for data, _ in claims]
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    assert row_of(centre.report(capsys, this_month()), "5")["misuse"] == sum(presses for _, presses in claims)


def test_only_the_unit_that_rated_can_void_the_rating_and_only_at_its_own_window(centre, capsys):
    rater = centre.new_unit("counter-05", counter="5")
    rated = transaction(rater, level=1)
    assert centre.upload(rater, rater.batch(rated)).status_code == 200
    tx = rated[0]["data"]["transaction_id"]
    other = centre.new_unit("counter-06", counter="6")
    void = {"transaction_id": tx, "why": "burst", "staff_id": "1001"}
    assert centre.upload(other, other.batch([other.record(EventType.RATING_VOIDED, void)])).status_code == 200
    elsewhere = rater.record(EventType.RATING_VOIDED, {**void, "counter_id": "99"})  # set aside: voids nothing
    assert centre.upload(rater, rater.batch([elsewhere])).status_code == 200
    report = centre.report(capsys, this_month())
    assert (row_of(report, "5")["level_1"], row_of(report, "5")["misuse"]) == (1, 0)
    assert row_of(report, "6") is None  # a void of nothing it holds counts no press
    assert [entry["status"] for entry in centre.client.get("/api/v1/ledger", headers=centre.admin()).json()["entries"]] \
        == ["open"]

"""A child hammering a key at the counter (issue 14, item 11), as the centre counts it: the events
are the unit's own (its app on sim devices, the real store, a stepped clock: the scenario of
tests/kiosk/rating/test_bursts_at_the_counter.py), uploaded through the upload route. The voided
rating and its reason are misuse, with every press the burst made; never in the levels, points,
the 差评 ledger, the callback list or the dashboard's 差评. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from kiosk.app import KioskApp
from tests.kiosk.rating.test_bursts_at_the_counter import BURST_PRESSES, PRESS_GAP_S, SteppedClock, run
from tests.support.centre.testkit import CHINA, SimulatedUnit

pytestmark = pytest.mark.timeout(120)

QUIET_S = 2.5  # longer than the burst window: the burst's misuse is recorded


def hammered_unit_events(state_dir) -> list[dict]:
    """What a unit records when a child presses 不满意 fifteen times, eight a second, after a
    transaction: in order, as its store holds them."""
    async def scenario(app: KioskApp, clock: SteppedClock):
        await app.sign_in("1001")
        await app.complete_transaction()
        for _ in range(BURST_PRESSES):
            clock.mono_s += PRESS_GAP_S
            await app.press_rating_key(4)
        clock.mono_s += QUIET_S
        for _ in range(500):  # the app's timer records the burst by itself
            events = await app.store.read(0, 10_000)
            if any(event["data"].get("why") == "burst" for event in events):
                return events
            await asyncio.sleep(0.01)
        raise AssertionError("the burst was never recorded")
    return run(scenario, state_dir)


def enrolled_as(centre, events: list[dict]) -> SimulatedUnit:
    """The unit that recorded `events`, enrolled at its counter with a key the test holds."""
    unit = SimulatedUnit("counter-01", stream_id=events[0]["stream_id"])
    return centre.enrol(unit, counter="1")


def month() -> str:
    return datetime.now(CHINA).strftime("%Y-%m")


def the_window(centre, capsys) -> dict:
    [row] = centre.report(capsys, month())["rows"]
    return row


def test_a_voided_rating_and_its_reason_are_misuse_with_every_press_of_the_burst(centre, capsys, tmp_path):
    events = hammered_unit_events(tmp_path / "unit")
    assert [e["type"] for e in events].count("rating.voided") == 1
    unit = enrolled_as(centre, events)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    window = the_window(centre, capsys)
    assert (window["counter_id"], window["completed"], window["rated"], window["missed"]) == ("1", 1, 0, 0)
    assert [window[f"level_{n}"] for n in range(5, 0, -1)] == [0, 0, 0, 0, 0] and window["points"] == 0
    assert window["misuse"] == BURST_PRESSES  # the rating, its reason, 6 presses after, 7 dropped
    [staff] = centre.report(capsys, month(), "--by", "staff")["rows"]
    assert (staff["staff_id"], staff["misuse"], staff["rated"]) == ("1001", BURST_PRESSES, 0)
    assert centre.client.get("/api/v1/ledger", headers=centre.admin()).json()["entries"] == []
    drawn = centre.client.post(f"/api/v1/callbacks/{month()}/draw", headers=centre.admin(),
                               json={"drawn_by": "李主管", "count": 5}).json()
    assert [entry["level"] for entry in drawn["entries"]] == [None]  # not rated, as far as anyone knows
    assert "差评 0 条" in centre.dashboard_page("/dashboard/")
    assert centre.fleet(unit.unit_id)["set_aside"]["count"] == 0  # the unit's own verdict, no doubt of it


def test_a_ledger_entry_opened_before_the_void_arrived_is_withdrawn_with_why(centre, capsys, tmp_path):
    events = hammered_unit_events(tmp_path / "unit")
    voided_at = next(i for i, e in enumerate(events) if e["type"] == "rating.voided")
    unit = enrolled_as(centre, events)
    # The rating and its reason reach the centre first, and a manager reads the ledger …
    assert centre.upload(unit, unit.batch(events[:voided_at])).status_code == 200
    [entry] = centre.client.get("/api/v1/ledger", headers=centre.admin()).json()["entries"]
    assert (entry["status"], entry["level"], entry["counter_id"]) == ("open", 2, "1")
    # … then the void comes in the next upload.
    assert centre.upload(unit, unit.batch(events[voided_at:])).status_code == 200
    assert centre.client.get("/api/v1/ledger", headers=centre.admin(),
                             params={"status": "open"}).json()["entries"] == []
    shown = centre.client.get(f"/api/v1/ledger/{entry['id']}", headers=centre.admin()).json()
    assert shown["status"] == "closed" and shown["closed_by"] == "system"
    assert [(a["action"], a["actor"]) for a in shown["actions"]] == [("created", "system"), ("withdrawn", "system")]
    assert "rating.voided" in shown["actions"][-1]["detail"]
    window = the_window(centre, capsys)
    assert (window["rated"], window["level_2"], window["points"], window["misuse"]) == (0, 0, 0, BURST_PRESSES)

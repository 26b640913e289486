"""The hall's time zone (issue 14, item 8): whatever zone the Pi's system is set to, the unit
records, shows and prints the hall's time (config `unit.time_zone`, default Asia/Shanghai like the
centre). The process here runs with TZ=America/New_York, twelve or thirteen hours away."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kiosk.clock import SystemClock
from kiosk.config import ConfigError, builtin_sim_settings, settings_from_mapping
from kiosk.queue.machine import Category, QueueMachine, QueueRules, business_day
from kiosk.rating.machine import RatingMachine, RatingRules
from kiosk.simpanel.escpos import decode
from tests.support.unit_app import UnitApp

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def system_zone_new_york():
    """The Pi's system zone set to another one than the hall's, for this test only."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    assert datetime.now().astimezone().utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def shanghai_minutes_around(action):
    """The Shanghai wall clock ("YYYY-MM-DD HH:MM") just before and just after `action` ran."""
    before = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    result = action()
    after = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return result, {before, after}


def test_system_clock_speaks_the_halls_zone_not_the_systems(system_zone_new_york):
    assert SystemClock(boot_id="b").wall_time().endswith("+08:00")
    assert SystemClock(boot_id="b", zone="Europe/London").wall_time()[-6:] in ("+00:00", "+01:00")


def test_tickets_events_screens_and_the_queue_day_use_the_halls_zone(tmp_path, system_zone_new_york):
    unit = UnitApp(tmp_path / "state").start()
    try:
        response, minutes = shanghai_minutes_around(lambda: unit.post("/v1/tickets", {"category": "A"}))
        issued_at = response.json()["issued_at"]
        assert issued_at.endswith("+08:00")
        printed = [text for text in decode(unit.get("/v1/sim/printer").content).texts if text.startswith("取号时间")]
        assert len(printed) == 1 and printed[0].removeprefix("取号时间 ") in minutes
        assert unit.get("/v1/queue").json()["day"] in {minute[:10] for minute in minutes}

        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        _, minutes = shanghai_minutes_around(lambda: unit.post("/v1/counter/pause", {"reason": "closing"}))
        view = unit.app.current_view()
        assert type(view).__name__ == "Paused" and view.since in {minute[11:] for minute in minutes}

        assert all(event["wall_time"].endswith("+08:00") for event in unit.events())
    finally:
        unit.stop()


def test_times_recorded_with_another_offset_are_read_in_the_halls_zone():
    # 18:30 in New York on the 23rd is 07:30 on the 24th in the hall: a new business day.
    recorded = "2026-11-23T18:30:00.000-05:00"
    assert business_day(recorded, 0, SHANGHAI) == "2026-11-24"
    assert business_day(recorded, 0) == "2026-11-23"       # read as recorded, when no zone is given
    machine = QueueMachine(QueueRules(categories=(Category("A", "缴存"),), zone=SHANGHAI))
    machine.apply("ticket.issued", {"ticket": "A001", "category": "A", "priority": False}, recorded)
    assert machine.day == "2026-11-24"

    rating = RatingMachine(RatingRules(counter_id="1", zone=SHANGHAI))
    rating.apply("counter.paused", {"counter_id": "1", "reason": "closing"}, 0.0, recorded)
    assert rating.view(1.0).since == "07:30"


def test_an_unknown_zone_is_a_clear_config_error(tmp_path):
    raw = builtin_sim_settings(tmp_path).model_dump(mode="json")
    assert raw["unit"]["time_zone"] == "Asia/Shanghai"
    raw["unit"]["time_zone"] = "Asia/Atlantis"
    with pytest.raises(ConfigError) as error:
        settings_from_mapping(raw, "kiosk.toml")
    assert "unit.time_zone: unknown time zone 'Asia/Atlantis'" in str(error.value)

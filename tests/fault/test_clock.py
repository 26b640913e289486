"""Clock faults (issue 8): the wall clock stepped back and forward by an hour on a unit that booted
without a synchronised clock. Order is kept by seq and the hash chain, rating windows follow the
monotonic clock, and the centre records the unit's clock offset from a heartbeat an hour off."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from kiosk.app import KioskApp
from kiosk.devices import open_devices
from kiosk.config import builtin_sim_settings
from protocol.chain import verify_chain
from tests.support.centre.testkit import now_utc
from tests.support.centre.fixtures import centre, served_centre  # noqa: F401  (fixtures, used by name)
from tests.fault.results import record
from tests.support.clocks import SteppedClock

HOUR = timedelta(hours=1)
HOUR_MS = 3_600_000


def test_wall_clock_steps_keep_seq_chain_and_monotonic_windows(tmp_path, request):
    clock = SteppedClock("boot-clock-fault", synced=False)
    settings = builtin_sim_settings(tmp_path / "state")
    window_s = settings.rating.window_s

    async def scenario():
        app = KioskApp(settings, open_devices(settings, sim=True, loop=asyncio.get_running_loop()), sim=True,
                       clock=clock)
        await app.start()
        try:
            await app.sign_in("1001")
            await app.complete_transaction()
            clock.wall_offset = -HOUR                      # NTP-less clock set back an hour
            clock.mono_s += 1
            assert app.state()["rating"]["window_open"] is True
            rated_after_back_step = await app.press_rating_key(1)
            await app.complete_transaction()
            clock.wall_offset = +HOUR                      # then forward two hours at once
            clock.mono_s += 1
            # The wall clock jumped two hours but only a second passed: the window stays open.
            window_after_forward_step = app.state()["rating"]["window_open"]
            clock.mono_s += window_s + 1
            # A forward wall step does not close it either; the monotonic clock running out does.
            window_after_monotonic_end = app.state()["rating"]["window_open"]
            late_press = await app.press_rating_key(1)
            return (rated_after_back_step, window_after_forward_step, window_after_monotonic_end, late_press,
                    await app.store.read(0, 10_000))
        finally:
            await app.stop()

    back, open_after_forward, open_after_end, late, events = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert back == ["rating.submitted"]
    assert open_after_forward is True and open_after_end is False
    assert "rating.submitted" not in late
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    verify_chain(events, events[0]["stream_id"])
    assert all(event["clock_synced"] is False for event in events)
    mono = [event["mono_ns"] for event in events]
    assert mono == sorted(mono) and len(set(mono)) == len(mono)
    walls = [datetime.fromisoformat(event["wall_time"]) for event in events]
    steps = [later - earlier for earlier, later in zip(walls, walls[1:])]
    # The recorded wall times really went back and forward: seq, not wall time, orders them.
    assert min(steps) < -HOUR / 2 and max(steps) > HOUR
    record(request.node.nodeid, f"{len(events)} events, wall clock -1 h then +2 h, unsynchronised boot",
           {"seq gap-free": True, "chain": "intact", "largest backward wall step s": int(-min(steps).total_seconds())})


def test_the_centre_records_a_units_clock_an_hour_off(centre, request):
    unit = centre.new_unit()
    offsets = {}
    for name, unit_clock_error in (("behind", -HOUR), ("ahead", +HOUR)):
        response = centre.upload(unit, unit.batch([], sent_at=now_utc() + unit_clock_error))
        assert response.status_code == 200
        offsets[name] = centre.fleet(unit.unit_id)["clock_offset_ms"]
    # offset = centre's time - unit's sent_at: positive when the unit is behind.
    assert abs(offsets["behind"] - HOUR_MS) < 60_000
    assert abs(offsets["ahead"] + HOUR_MS) < 60_000
    # A signed batch from a unit an hour off is stored all the same (order is by seq).
    assert centre.upload(unit, unit.batch(unit.record_many(2), sent_at=now_utc() - HOUR)).status_code == 200
    assert centre.stored_count() == 2
    record(request.node.nodeid, "heartbeats with sent_at 1 h behind and 1 h ahead",
           {"clock_offset_ms behind": offsets["behind"], "clock_offset_ms ahead": offsets["ahead"]})

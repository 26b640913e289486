"""A child hammering a key at the counter (issue 14, item 11), through the unit: sim devices, the
real SQLite store and the app's own timer. The rating its first press made, and the reason its
second made, are voided; the burst is recorded once, with the presses it dropped; a calm press
stands. A stepped monotonic clock stands in for the seconds between presses."""
from __future__ import annotations

import asyncio

from kiosk.app import KioskApp
from kiosk.config import builtin_sim_settings
from kiosk.devices import open_devices
from kiosk.screens.views import Idle
from tests.support.clocks import SteppedClock

BURST_PRESSES = 15
PRESS_GAP_S = 0.125            # eight presses a second


def run(scenario, state_dir):
    async def main():
        clock = SteppedClock("boot-bursts", synced=True)
        settings = builtin_sim_settings(state_dir)
        app = KioskApp(settings, open_devices(settings, sim=True, loop=asyncio.get_running_loop()), sim=True,
                       clock=clock)
        await app.start()
        try:
            return await scenario(app, clock)
        finally:
            await app.stop()
    return asyncio.run(asyncio.wait_for(main(), 60))


async def events_of(app: KioskApp, event_type: str) -> list[dict]:
    return [event["data"] for event in await app.store.read(0, 10_000) if event["type"] == event_type]


async def until_recorded(app: KioskApp, event_type: str, count: int = 1) -> list[dict]:
    """The app's timer records by itself; wait (bounded) until it has."""
    for _ in range(500):
        found = await events_of(app, event_type)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {event_type} recorded")


def test_a_child_hammering_voids_the_rating_and_its_reason_and_the_burst_counts_its_presses(tmp_path):
    async def scenario(app: KioskApp, clock: SteppedClock):
        await app.sign_in("1001")
        transaction = await app.complete_transaction()
        answers = []
        for _ in range(BURST_PRESSES):
            clock.mono_s += PRESS_GAP_S
            answers.append(await app.press_rating_key(4))        # 不满意, as the sim API presses it
        assert answers[:2] == [["rating.submitted"], ["rating.reason"]]
        assert answers[8] == ["rating.voided"] and answers[9:] == [[]] * 6
        assert isinstance(app.current_view(), Idle)
        clock.mono_s += 2.5                                       # the keys go quiet
        [burst] = [d for d in await until_recorded(app, "rating.misuse") if d["why"] == "burst"]
        assert burst == {"key": 4, "why": "burst", "counter_id": "1", "staff_id": "1001", "dropped": 7}
        assert await events_of(app, "rating.voided") == [
            {"transaction_id": transaction, "why": "burst", "staff_id": "1001", "counter_id": "1"}]
        [rating] = await events_of(app, "rating.submitted")
        [reason] = await events_of(app, "rating.reason")
        assert rating["transaction_id"] == reason["transaction_id"] == transaction and rating["level"] == 2
        assert [d["why"] for d in await events_of(app, "rating.misuse")] == ["already_rated"] * 6 + ["burst"]
    run(scenario, tmp_path / "state")


def test_a_calm_single_press_is_never_voided(tmp_path):
    async def scenario(app: KioskApp, clock: SteppedClock):
        await app.sign_in("1001")
        await app.complete_transaction()
        clock.mono_s += 1.0
        assert await app.press_rating_key(4) == ["rating.submitted"]
        clock.mono_s += 1.0
        assert await app.press_rating_key(2) == ["rating.reason"]
        clock.mono_s += 30.0
        await asyncio.sleep(1.2)                                  # a timer round or two
        assert await events_of(app, "rating.voided") == []
        assert app.state()["rating"]["window_open"] is False
    run(scenario, tmp_path / "state")

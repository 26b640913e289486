"""结束营业 closes the dispenser (issue 14, item 9), in the pure queue machine: a category takes no
tickets when no counter that calls it is open (paused for `closing`), or after the hall's closing
time; what waits stays; the next business day opens again; a replay rebuilds it. And what a
counter calling through the host tells it, and a break that becomes 结束营业."""
from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.queue.backends import RemoteQueue
from kiosk.queue.host_link import QueueHostClient
from kiosk.queue.machine import Category, QueueMachine, QueueRules
from kiosk.rating.machine import RatingMachine, RatingRules
from kiosk.refusals import QueueRefused
from tests.kiosk.queue.test_machine import Hall

CATEGORIES = (Category("A", "缴存"), Category("B", "提取"), Category("C", "贷款"),
              Category("V", "绿色通道", priority=True))


def both_unit(**overrides) -> Hall:
    """A small office: one `both` unit whose own counter 1 calls every category."""
    return Hall(QueueRules(categories=CATEGORIES, own_counter="1", own_calls=True, **overrides))


def dispenser(**overrides) -> Hall:
    return Hall(QueueRules(categories=CATEGORIES, own_counter="0", own_calls=False, **overrides))


def record(hall: Hall, event_type: str, data: dict) -> None:
    """An event the rating machine committed on this unit (its own counter's pause or resume)."""
    hall.machine.apply(event_type, data, hall.wall())
    hall.log.append((event_type, data, hall.wall()))


def pause(hall: Hall, counter: str, reason: str) -> None:
    record(hall, "counter.paused", {"counter_id": counter, "reason": reason})


def counter_says(hall: Hall, counter: str, closed: bool) -> list[str]:
    decision = hall.machine.decide_counter_state(counter, closed, hall.wall())
    return [event_type for event_type, _ in hall.commit(decision)]


def stopped(hall: Hall) -> dict[str, str]:
    return hall.machine.stopped_categories(hall.wall())


def test_the_only_counter_closing_stops_every_category_and_keeps_what_waits():
    hall = both_unit()
    hall.issue("C")
    assert stopped(hall) == {}
    pause(hall, "1", "break")                                  # a break closes nothing
    assert stopped(hall) == {}
    pause(hall, "1", "closing")                                # the issue's case: C001 was issued
    assert stopped(hall) == {"A": "closed", "B": "closed", "C": "closed", "V": "closed"}
    with pytest.raises(QueueRefused) as refused:
        hall.machine.decide_issue("C", hall.wall())
    assert (refused.value.code, refused.value.detail["why"]) == ("queue_closed", "closed")
    snapshot = hall.machine.snapshot(hall.wall())
    assert snapshot["waiting"]["C"] == 1 and snapshot["counters"] == {"1": "closed"}
    assert snapshot["stopped"] == stopped(hall)
    assert [t for t, _ in hall.machine.decide_refuse_ticket("C", "closed").events] == ["ticket.refused"]
    record(hall, "counter.resumed", {"counter_id": "1"})
    assert stopped(hall) == {} and hall.issue("C") == "C002"


def test_a_category_stops_when_the_counters_listed_for_it_close_and_names_the_open_ones():
    hall = dispenser(counters={"2": frozenset("AB"), "3": frozenset("CV")})
    assert counter_says(hall, "2", closed=True) == ["queue.counter_closed"]
    assert counter_says(hall, "2", closed=True) == []          # already known: nothing new
    assert stopped(hall) == {"A": "closed", "B": "closed"}
    assert hall.issue("C") == "C001"
    assert counter_says(hall, "3", closed=True) == ["queue.counter_closed"]
    assert set(stopped(hall)) == {"A", "B", "C", "V"}
    assert counter_says(hall, "2", closed=False) == ["queue.counter_opened"]
    assert stopped(hall) == {"C": "closed", "V": "closed"}
    with pytest.raises(QueueRefused) as unknown:
        hall.machine.decide_counter_state("9", True, hall.wall())
    assert unknown.value.code == "unknown_counter"


def test_without_a_list_the_counters_known_today_decide_and_none_known_stops_nothing():
    hall = dispenser()
    assert stopped(hall) == {}
    assert counter_says(hall, "2", closed=False) == ["queue.counter_opened"]
    assert counter_says(hall, "2", closed=False) == []
    hall.issue("A")
    hall.commit(hall.machine.decide_call_next("3", "s3", hall.wall()))   # counter 3 is known by its call
    assert counter_says(hall, "2", closed=True) == ["queue.counter_closed"]
    assert stopped(hall) == {}                                 # 3 is still open
    assert counter_says(hall, "3", closed=True) == ["queue.counter_closed"]
    assert set(stopped(hall)) == {"A", "B", "C", "V"}
    assert hall.machine.snapshot(hall.wall())["counters"] == {"2": "closed", "3": "closed"}
    with pytest.raises(QueueRefused) as own:
        hall.machine.decide_counter_state("0", True, hall.wall())
    assert own.value.code == "invalid"


def test_a_dispenser_paused_for_closing_stops_everything():
    hall = dispenser()
    pause(hall, "0", "closing")
    assert set(stopped(hall)) == {"A", "B", "C", "V"}
    assert hall.machine.snapshot(hall.wall())["counters"] == {}   # the dispenser is no counter
    record(hall, "counter.resumed", {"counter_id": "0"})
    assert stopped(hall) == {}


def test_the_next_business_day_opens_again_and_the_waiting_go_by_the_reset_rules():
    hall = both_unit(reset_minutes=5 * 60)
    hall.issue("A")
    pause(hall, "1", "closing")
    hall.now = datetime.fromisoformat("2026-11-24T04:59:00+08:00")   # the night: still the 23rd
    assert set(stopped(hall)) == {"A", "B", "C", "V"}
    assert hall.machine.snapshot(hall.wall())["waiting"]["A"] == 1
    hall.now = datetime.fromisoformat("2026-11-24T05:00:00+08:00")   # the reset: a new day
    assert stopped(hall) == {} and hall.machine.snapshot(hall.wall())["waiting"]["A"] == 0
    assert hall.issue("A") == "A001"


def test_the_halls_closing_time_stops_every_category_until_the_reset():
    hall = both_unit(reset_minutes=5 * 60, closing_minutes=17 * 60 + 30, zone=ZoneInfo("Asia/Shanghai"))
    for moment, expected in (("2026-11-23T17:29:59+08:00", set()), ("2026-11-23T17:30:00+08:00", {"after_hours"}),
                             ("2026-11-24T04:59:00+08:00", {"after_hours"}), ("2026-11-24T05:00:00+08:00", set()),
                             # recorded in another zone, read in the hall's: 11:00 in Paris is 18:00 here
                             ("2026-11-24T11:00:00+01:00", {"after_hours"})):
        hall.now = datetime.fromisoformat(moment)
        assert set(stopped(hall).values()) == expected, moment


def test_a_replay_rebuilds_which_counters_are_closed():
    hall = dispenser(counters={"2": frozenset("AB"), "3": frozenset("CV")})
    counter_says(hall, "2", closed=False)
    counter_says(hall, "2", closed=True)
    replayed = QueueMachine(hall.machine.rules)
    for event_type, data, wall in hall.log:
        replayed.apply(event_type, data, wall)
    assert replayed.stopped_categories(hall.wall()) == {"A": "closed", "B": "closed"}


def test_a_counter_tells_its_host_it_is_closed_only_on_the_day_it_closed():
    now = ["2026-11-23T17:30:00.000+08:00"]
    remote = RemoteQueue(QueueHostClient("http://127.0.0.1:9", "sim", 1.0), QueueRules(categories=CATEGORIES),
                         "2", 5.0, asyncio.Lock(), lambda: None, lambda: now[0])
    remote.on_committed([{"type": "counter.paused", "data": {"counter_id": "2", "reason": "closing"},
                          "wall_time": now[0]}])
    assert remote.closed_today()
    now[0] = "2026-11-24T08:00:00.000+08:00"          # still paused the next morning: open today
    assert not remote.closed_today()
    remote.on_committed([{"type": "counter.paused", "data": {"counter_id": "2", "reason": "break"},
                          "wall_time": now[0]}])
    assert not remote.closed_today()


def test_a_break_that_becomes_closing_is_recorded_with_the_new_reason():
    machine = RatingMachine(RatingRules(counter_id="1"))
    machine.apply("counter.paused", {"counter_id": "1", "reason": "break"}, 0.0, "2026-11-23T17:00:00+08:00")
    decision = machine.decide_pause("closing", 1.0)
    assert decision.events == [("counter.paused", {"counter_id": "1", "reason": "closing"})] and decision.say == []
    machine.apply("counter.paused", {"counter_id": "1", "reason": "closing"}, 1.0, "2026-11-23T17:20:00+08:00")
    assert machine.decide_pause("closing", 2.0).events == []
    assert machine.view(2.0).since == "17:00"           # the sign keeps when the pause began

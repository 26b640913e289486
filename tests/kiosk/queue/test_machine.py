"""The queue rules, pure: numbering per category and day, priority with interleave, counters and
their categories, recall → no-show, transfers keeping the place, voids, estimates and surges; and
a Hypothesis run of the machine against a plain model under any sequence of inputs."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.queue.machine import Category, KeyLockout, QueueMachine, QueueRules, business_day
from kiosk.queue.speech import call_clips
from kiosk.api.errors import status_for
from kiosk.refusals import QueueRefused

CATEGORIES = (Category("A", "缴存"), Category("B", "提取"), Category("C", "贷款"),
              Category("V", "绿色通道", priority=True))
START = datetime.fromisoformat("2026-11-23T08:30:00.000+08:00")


class Hall:
    """Drives a machine the way the app does: decide → (commit) → apply, with a moving clock."""

    def __init__(self, rules: QueueRules, start: datetime = START) -> None:
        self.machine = QueueMachine(rules)
        self.now = start
        self.log: list[tuple[str, dict, str]] = []

    def wall(self) -> str:
        return self.now.isoformat(timespec="milliseconds")

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)

    def commit(self, decision) -> list[tuple[str, dict]]:
        wall = self.wall()
        for event_type, data in decision.events:
            self.machine.apply(event_type, data, wall)
            self.log.append((event_type, data, wall))
        return decision.events

    def issue(self, letter: str) -> str:
        return self.commit(self.machine.decide_issue(letter, self.wall()))[0][1]["ticket"]

    def call(self, counter: str) -> str:
        return self.commit(self.machine.decide_call_next(counter, "s1", self.wall()))[0][1]["ticket"]


def rules(**overrides) -> QueueRules:
    return QueueRules(categories=CATEGORIES, **overrides)


def test_numbers_run_per_category_and_restart_at_the_reset_time():
    hall = Hall(rules(reset_minutes=5 * 60))
    assert [hall.issue("A"), hall.issue("A"), hall.issue("B"), hall.issue("A")] == ["A001", "A002", "B001", "A003"]
    hall.now = datetime.fromisoformat("2026-11-24T04:59:00+08:00")   # before 05:00: still the 23rd
    assert hall.issue("A") == "A004"
    assert hall.machine.snapshot(hall.wall())["waiting"]["A"] == 4
    hall.now = datetime.fromisoformat("2026-11-24T05:00:00+08:00")
    assert hall.machine.snapshot(hall.wall())["waiting"]["A"] == 0    # the new day starts empty
    with pytest.raises(QueueRefused) as empty:
        hall.machine.decide_call_next("1", "s1", hall.wall())
    assert empty.value.code == "queue_empty"
    assert hall.issue("A") == "A001"
    assert business_day("2026-11-24T04:59:59+08:00", 300) == "2026-11-23"


def test_a_clock_stepped_back_never_reopens_yesterday():
    hall = Hall(rules())
    hall.issue("A")
    hall.advance(days=1)
    assert hall.issue("A") == "A001"
    hall.advance(days=-1)
    assert hall.issue("A") == "A002"


def test_priority_first_then_issue_order():
    hall = Hall(rules())
    for letter in "AABVAV":
        hall.issue(letter)
    assert [hall.call("1") for _ in range(6)] == ["V001", "V002", "A001", "A002", "B001", "A003"]


def test_priority_interleave_lets_one_regular_through_after_n():
    hall = Hall(rules(priority_interleave=2))
    for letter in "AAVVVVV":
        hall.issue(letter)
    order = [hall.call("1") for _ in range(7)]
    assert order == ["V001", "V002", "A001", "V003", "V004", "A002", "V005"]


def test_counters_call_only_their_categories():
    hall = Hall(rules(counters={"1": frozenset("A"), "2": frozenset("BV")}))
    for letter in "ABV":
        hall.issue(letter)
    assert hall.call("1") == "A001"
    with pytest.raises(QueueRefused) as empty:
        hall.call("1")
    assert empty.value.code == "queue_empty"
    assert [hall.call("2"), hall.call("2")] == ["V001", "B001"]
    with pytest.raises(QueueRefused) as unknown:
        hall.call("9")
    assert (status_for(unknown.value.code), unknown.value.code) == (422, "unknown_counter")


def test_transfer_to_a_counter_keeps_the_number_and_the_place():
    hall = Hall(rules(counters={"1": frozenset("A"), "2": frozenset("B")}))
    hall.issue("A")          # A001: taken first
    hall.issue("B")          # B001
    hall.issue("B")          # B002
    assert hall.call("1") == "A001"
    hall.commit(hall.machine.decide_transfer("1", "s1", hall.wall(), to_counter="2"))
    assert hall.machine.serving("1", hall.wall()) is None
    # Counter 2 does not call A tickets, but this one was sent to it, and it came first.
    assert [hall.call("2"), hall.call("2"), hall.call("2")] == ["A001", "B001", "B002"]


def test_transfer_to_a_category_keeps_the_place_and_can_become_priority():
    hall = Hall(rules())
    hall.issue("A")
    hall.issue("C")
    assert hall.call("1") == "A001"
    hall.commit(hall.machine.decide_transfer("1", "s1", hall.wall(), to_category="C"))
    assert hall.machine.snapshot(hall.wall())["waiting"] == {"A": 0, "B": 0, "C": 2, "V": 0}
    assert hall.call("2") == "A001"   # ahead of C001, issued after it
    hall.commit(hall.machine.decide_transfer("2", "s1", hall.wall(), to_category="V"))
    hall.issue("V")
    assert hall.call("3") == "A001"   # now a priority ticket, and first in line of those


def test_a_transfer_to_a_category_undoes_an_earlier_transfer_to_a_counter():
    hall = Hall(rules(counters={"1": frozenset("A"), "2": frozenset("B"), "3": frozenset("C")}))
    hall.issue("A")
    hall.call("1")
    hall.commit(hall.machine.decide_transfer("1", "s1", hall.wall(), to_counter="2"))
    hall.call("2")
    hall.commit(hall.machine.decide_transfer("2", "s1", hall.wall(), to_category="C"))
    with pytest.raises(QueueRefused):
        hall.call("2")
    assert hall.call("3") == "A001"


def test_transfer_refusals():
    hall = Hall(rules())
    with pytest.raises(QueueRefused) as nothing:
        hall.machine.decide_transfer("1", "s1", hall.wall(), to_counter="2")
    assert nothing.value.code == "nothing_serving"
    hall.issue("A")
    hall.call("1")
    for target, code in (({"to_counter": "1"}, "invalid"), ({"to_category": "Z"}, "unknown_category"),
                         ({}, "invalid"), ({"to_counter": "2", "to_category": "B"}, "invalid")):
        with pytest.raises(QueueRefused) as refused:
            hall.machine.decide_transfer("1", "s1", hall.wall(), **target)
        assert refused.value.code == code


def test_recall_then_no_show_after_n_recalls():
    hall = Hall(rules(no_show_after_recalls=2))
    hall.issue("A")
    hall.issue("A")
    hall.call("1")
    kinds = [hall.commit(hall.machine.decide_recall("1", "s1", hall.wall()))[0][0] for _ in range(3)]
    assert kinds == ["ticket.recalled", "ticket.recalled", "ticket.no_show"]
    assert hall.machine.serving("1", hall.wall()) is None
    assert hall.call("1") == "A002"
    snapshot = hall.machine.snapshot(hall.wall())
    assert snapshot["serving"] == {"1": "A002"}
    assert [c["ticket"] for c in snapshot["last_called"]] == ["A002", "A001"]


def test_a_voided_number_is_never_called_and_never_reused():
    hall = Hall(rules())
    hall.issue("A")
    hall.commit(hall.machine.decide_void("A001", "print_failed", hall.wall()))
    assert hall.issue("A") == "A002"
    assert hall.call("1") == "A002"
    with pytest.raises(QueueRefused):
        hall.call("1")
    with pytest.raises(QueueRefused) as gone:
        hall.machine.decide_reprint("A001", hall.wall())
    assert gone.value.code == "unknown_ticket"


def test_estimate_from_rolling_service_times_and_the_surge():
    hall = Hall(rules(service_samples=3, default_service_s=300, surge_wait_s=20 * 60))
    for _ in range(12):
        hall.issue("A")
    assert hall.machine.estimate_new("A", hall.wall()).wait_s == 12 * 300
    hall.call("1")
    for gap_min in (2, 2, 2, 10):   # the first 2-minute gap falls out of the rolling window of 3
        hall.advance(minutes=gap_min)
        hall.call("1")
    # 7 wait, one counter active, mean of the last three gaps (2, 2, 10 min) = 4.67 min.
    estimate = hall.machine.estimate_new("A", hall.wall())
    assert estimate.waiting_ahead == 7 and estimate.wait_min == 33 and estimate.surge
    hall.advance(minutes=3)
    hall.call("2")
    hall.advance(minutes=3)
    hall.call("2")
    # Counter 2's first call gave no gap, its second a 3-minute one. Two active counters now
    # share the line: 5 ahead × mean(2, 10, 3 min) / 2 = 12.5 min.
    estimate = hall.machine.estimate_new("A", hall.wall())
    assert estimate.waiting_ahead == 5 and estimate.wait_s == 750 and estimate.wait_min == 13
    assert not estimate.surge
    assert hall.machine.snapshot(hall.wall())["surge"] is False


def test_a_no_show_or_a_skip_is_not_a_service_time():
    hall = Hall(rules(service_samples=5))
    for _ in range(4):
        hall.issue("A")
    hall.call("1")
    hall.advance(seconds=3)
    hall.call("1")                      # 3 s: a skip, not a service
    hall.advance(minutes=4)
    hall.commit(hall.machine.decide_no_show("1", "s1", hall.wall()))
    hall.call("1")
    assert hall.machine.snapshot(hall.wall())["average_service_s"] == 300.0   # still the default


def test_waiting_ahead_counts_priority_tickets_that_share_a_counter():
    hall = Hall(rules(counters={"1": frozenset("AV"), "2": frozenset("B")}))
    hall.issue("A")
    hall.issue("B")
    hall.issue("V")
    assert hall.machine.estimate_new("A", hall.wall()).waiting_ahead == 2   # A001 and V001
    assert hall.machine.estimate_new("B", hall.wall()).waiting_ahead == 1   # B001 only
    assert hall.machine.estimate_new("V", hall.wall()).waiting_ahead == 1   # V001 only


def test_unknown_category_and_lockout_and_call_clips():
    with pytest.raises(QueueRefused) as unknown:
        Hall(rules()).issue("Z")
    assert (status_for(unknown.value.code), unknown.value.code) == (422, "unknown_category")
    lockout = KeyLockout(3.0)
    assert [lockout.accept(t) for t in (10.0, 10.5, 12.99, 13.0, 13.1)] == [True, False, False, True, False]
    assert call_clips("A023", "3") == ["call_please", "A", "0", "2", "3", "call_number", "call_to_window",
                                       "3", "call_window"]


# --- the machine against a plain model ----------------------------------------------------

MODEL_COUNTERS = {"1": frozenset("AV"), "2": frozenset("ABV"), "3": frozenset("C")}

COUNTER_IDS = sorted(MODEL_COUNTERS)
# Weighted so that long runs of issues and calls happen (priority streaks, lines that grow), with
# the rarer inputs and a new day now and then.
KIND_WEIGHTS = {"issue": 30, "call": 30, "recall": 8, "no_show": 5, "to_counter": 5, "to_category": 8,
                "void_last": 4, "next_day": 2}
ARGUMENTS = {
    "issue": st.tuples(st.sampled_from("AAVVBC")),   # A and V meet at counters 1 and 2
    "call": st.tuples(st.sampled_from(["1", "1", "2", "3"])),
    "recall": st.tuples(st.sampled_from(COUNTER_IDS)),
    "no_show": st.tuples(st.sampled_from(COUNTER_IDS)),
    "to_counter": st.tuples(st.sampled_from(COUNTER_IDS), st.sampled_from(COUNTER_IDS)),
    "to_category": st.tuples(st.sampled_from(COUNTER_IDS), st.sampled_from("ABCVV")),
    "void_last": st.just(()),
    "next_day": st.just(()),
}
operation = st.sampled_from([kind for kind, weight in KIND_WEIGHTS.items() for _ in range(weight)]).flatmap(
    lambda kind: ARGUMENTS[kind].map(lambda args: (kind, *args)))
operations = st.lists(operation, min_size=10, max_size=80)


class Model:
    """The rules as plainly as they can be written: lists, no indexes, no cleverness."""

    def __init__(self, interleave: int, recalls: int) -> None:
        self.interleave, self.recalls = interleave, recalls
        self.new_day()

    def new_day(self) -> None:
        self.line: list[dict] = []       # waiting, in place order
        self.serving: dict[str, dict] = {}
        self.finished: list[dict] = []
        self.count: dict[str, int] = {}
        self.streak: dict[str, int] = {}
        self.places = 0

    def issue(self, letter: str) -> str:
        self.count[letter] = self.count.get(letter, 0) + 1
        ticket = {"number": f"{letter}{self.count[letter]:03d}", "category": letter, "priority": letter == "V",
                  "place": self.places, "counter": None, "recalls": 0}
        self.places += 1
        self.line.append(ticket)
        return ticket["number"]

    def next_for(self, counter: str) -> dict | None:
        mine = [t for t in self.line if t["counter"] == counter
                or (t["counter"] is None and t["category"] in MODEL_COUNTERS[counter])]
        priority = [t for t in mine if t["priority"]]
        regular = [t for t in mine if not t["priority"]]
        if priority and not (self.interleave and regular and self.streak.get(counter, 0) >= self.interleave):
            return min(priority, key=lambda t: t["place"])
        return min(regular, key=lambda t: t["place"]) if regular else None

    def call(self, counter: str) -> str | None:
        ticket = self.next_for(counter)
        if ticket is None:
            return None
        if counter in self.serving:
            self.finished.append(self.serving.pop(counter))
        self.line.remove(ticket)
        ticket["recalls"] = 0
        self.serving[counter] = ticket
        self.streak[counter] = self.streak.get(counter, 0) + 1 if ticket["priority"] else 0
        return ticket["number"]

    def recall(self, counter: str) -> str | None:
        ticket = self.serving.get(counter)
        if ticket is None:
            return None
        if ticket["recalls"] >= self.recalls:
            self.finished.append(self.serving.pop(counter))
            return "no_show"
        ticket["recalls"] += 1
        return "recalled"

    def transfer(self, counter: str, **target) -> bool:
        ticket = self.serving.get(counter)
        if ticket is None or target.get("to_counter") == counter:
            return False
        del self.serving[counter]
        ticket["recalls"] = 0
        if "to_counter" in target:
            ticket["counter"] = target["to_counter"]
        else:
            ticket["category"], ticket["counter"] = target["to_category"], None
            ticket["priority"] = ticket["priority"] or target["to_category"] == "V"
        self.line.append(ticket)
        return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, interleave=st.integers(0, 3), recalls=st.integers(0, 2))
def test_machine_matches_the_model_under_any_inputs(ops, interleave, recalls):
    hall = Hall(rules(counters=MODEL_COUNTERS, priority_interleave=interleave, no_show_after_recalls=recalls))
    model = Model(interleave, recalls)
    issued_today: list[str] = []
    for op in ops:
        hall.advance(minutes=1)
        machine, wall = hall.machine, hall.wall()
        kind = op[0]
        if kind == "issue":
            number = hall.issue(op[1])
            assert number == model.issue(op[1])
            assert number not in issued_today, "a number was issued twice in one day"
            issued_today.append(number)
        elif kind == "call":
            expected = model.call(op[1])
            if expected is None:
                with pytest.raises(QueueRefused):
                    machine.decide_call_next(op[1], "s", wall)
            else:
                assert hall.call(op[1]) == expected, "call-next broke priority or line order"
        elif kind in ("recall", "no_show"):
            expected = model.recall(op[1]) if kind == "recall" else (
                "no_show" if model.serving.get(op[1]) else None)
            if kind == "no_show" and expected:
                model.finished.append(model.serving.pop(op[1]))
            decide = machine.decide_recall if kind == "recall" else machine.decide_no_show
            if expected is None:
                with pytest.raises(QueueRefused):
                    decide(op[1], "s", wall)
            else:
                assert hall.commit(decide(op[1], "s", wall))[0][0] == f"ticket.{expected}"
        elif kind in ("to_counter", "to_category"):
            target = {kind: op[2]}
            if model.transfer(op[1], **target):
                hall.commit(machine.decide_transfer(op[1], "s", wall, **target))
            else:
                with pytest.raises(QueueRefused):
                    machine.decide_transfer(op[1], "s", wall, **target)
        elif kind == "void_last":
            waiting = [t for t in model.line if t["number"] == (issued_today or [""])[-1]]
            events = hall.commit(machine.decide_void(issued_today[-1], "print_failed", wall)) if issued_today else []
            assert bool(events) == bool(waiting)
            for ticket in waiting:
                model.line.remove(ticket)
                model.finished.append(ticket)
        elif kind == "next_day":
            hall.advance(days=1)
            model.new_day()
            issued_today = []
        # None lost: every number issued today is waiting, being served or finished, exactly once.
        wall = hall.wall()
        snapshot = hall.machine.snapshot(wall)
        assert sum(snapshot["waiting"].values()) == len(model.line)
        assert snapshot["serving"] == {c: t["number"] for c, t in model.serving.items()}
        accounted = [t["number"] for t in model.line] + [t["number"] for t in model.serving.values()] + \
            [t["number"] for t in model.finished]
        assert sorted(accounted) == sorted(issued_today)
    # Rebuilt from the log alone (a restart), the machine is the same.
    rebuilt = QueueMachine(hall.machine.rules)
    for event_type, data, wall in hall.log:
        rebuilt.apply(event_type, data, wall)
    assert rebuilt.snapshot(hall.wall()) == hall.machine.snapshot(hall.wall())

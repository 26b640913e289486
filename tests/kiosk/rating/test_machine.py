"""Every transition of the rating state machine, in microseconds, with no I/O."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.rating.machine import RatingMachine, RatingRules, ReasonChoice
from kiosk.screens.views import Idle, NotSignedIn, Paused, RatingPrompt, ReasonPrompt, Thanks
from kiosk.refusals import RatingRefused

REASONS = [ReasonChoice("510", "等待时间长"), ReasonChoice("511", "服务态度差"), ReasonChoice("512", "业务不熟练"),
           ReasonChoice("513", "一次性告知不到位"), ReasonChoice("514", "办理时间长"), ReasonChoice("599", "其他")]


class Harness:
    """Drives the machine the way app.py does: decide, then apply what was 'committed'."""

    def __init__(self, **rules):
        self.machine = RatingMachine(RatingRules(counter_id="3", **rules), REASONS)
        self.log: list[tuple[str, dict]] = []
        self.said: list[str] = []

    def commit(self, decision, now):
        for event_type, data in decision.events:
            self.machine.apply(event_type, data, now, "2026-11-23T09:14:03.512+08:00")
            self.log.append((event_type, data))
        self.said += decision.say
        return [event_type for event_type, _ in decision.events]

    def sign_in(self, staff="1001", now=0.0):
        return self.commit(self.machine.decide_sign_in(staff, now), now)

    def complete(self, txn="t1", now=1.0, **kw):
        return self.commit(self.machine.decide_complete(txn, now, **kw), now)

    def press(self, key, now):
        return self.commit(self.machine.decide_press(key, now), now)

    def tick(self, now):
        return self.commit(self.machine.decide_tick(now), now)

    def types(self):
        return [event_type for event_type, _ in self.log]


def test_not_signed_in_shows_sign_and_refuses_transactions():
    h = Harness()
    assert isinstance(h.machine.view(0), NotSignedIn)
    with pytest.raises(RatingRefused) as refused:
        h.machine.decide_complete("t1", 1.0)
    assert refused.value.code == "not_signed_in"


def test_sign_in_then_idle_staff_card():
    h = Harness()
    assert h.sign_in() == ["staff.signed_in"]
    assert h.log[-1][1] == {"staff_id": "1001", "counter_id": "3"}
    view = h.machine.view(0.5)
    assert isinstance(view, Idle) and view.card.staff_id == "1001"
    assert h.sign_in() == []  # signing in again is a no-op


def test_another_staff_signing_in_signs_the_first_out():
    h = Harness()
    h.sign_in("1001")
    assert h.sign_in("1002", 2.0) == ["staff.signed_out", "staff.signed_in"]
    assert h.machine.staff_id == "1002"


def test_complete_opens_window_and_first_press_rates():
    h = Harness()
    h.sign_in()
    assert h.complete(service_item="提取", ticket="B012") == ["transaction.completed"]
    assert h.said == ["rate_prompt"]
    view = h.machine.view(1.5)
    assert isinstance(view, RatingPrompt) and view.seconds_left == 20
    assert [o.level for o in view.options] == [5, 4, 3, 2, 1]
    assert h.press(1, 2.0) == ["rating.submitted"]
    assert h.log[-1][1] == {"transaction_id": "t1", "level": 5, "staff_id": "1001", "counter_id": "3",
                            "service_item": "提取", "ticket": "B012"}
    assert isinstance(h.machine.view(2.1), Thanks)
    assert h.said[-1] == "thanks"


def test_second_press_in_the_same_window_is_misuse_already_rated():
    h = Harness()
    h.sign_in()
    h.complete()
    h.press(2, 2.0)
    assert h.press(3, 3.0) == ["rating.misuse"]
    assert h.log[-1][1]["why"] == "already_rated"
    assert h.types().count("rating.submitted") == 1


def test_debounce_merges_presses_closer_than_debounce():
    h = Harness(debounce_s=0.05)
    h.sign_in()
    h.complete()
    assert h.press(1, 2.0) == ["rating.submitted"]
    assert h.press(1, 2.03) == []          # contact bounce: nothing at all
    assert h.press(4, 2.2) == ["rating.misuse"]


def test_press_outside_window_is_misuse_no_window():
    h = Harness()
    h.sign_in()
    assert h.press(1, 1.0) == ["rating.misuse"]
    assert h.log[-1][1] == {"key": 1, "why": "no_window", "counter_id": "3", "staff_id": "1001"}


def test_window_expiry_records_missed():
    h = Harness(window_s=20)
    h.sign_in()
    h.complete(now=1.0)
    assert h.machine.next_change(1.0) == pytest.approx(21.0)
    assert h.tick(20.9) == []
    assert h.tick(21.0) == ["rating.missed"]
    assert h.log[-1][1] == {"transaction_id": "t1", "staff_id": "1001", "counter_id": "3"}
    assert isinstance(h.machine.view(21.1), Idle)
    assert h.press(1, 22.0) == ["rating.misuse"]


def test_press_after_deadline_before_tick_misses_then_misuse():
    h = Harness(window_s=20)
    h.sign_in()
    h.complete(now=1.0)
    assert h.press(1, 30.0) == ["rating.missed", "rating.misuse"]


def test_new_transaction_ends_unrated_window_as_missed():
    h = Harness()
    h.sign_in()
    h.complete("t1", 1.0)
    assert h.complete("t2", 5.0) == ["rating.missed", "transaction.completed"]
    assert h.log[-2][1]["transaction_id"] == "t1"
    h.press(1, 6.0)
    assert h.log[-1][1]["transaction_id"] == "t2"


def test_new_transaction_after_rating_needs_no_missed():
    h = Harness()
    h.sign_in()
    h.complete("t1", 1.0)
    h.press(2, 2.0)
    assert h.complete("t2", 4.0) == ["transaction.completed"]


def test_bad_rating_opens_reasons_and_reason_is_recorded():
    h = Harness()
    h.sign_in()
    h.complete()
    assert h.press(5, 2.0) == ["rating.submitted"]
    assert h.log[-1][1]["level"] == 1
    assert h.said[-1] == "reason_prompt"
    view = h.machine.view(2.1)
    assert isinstance(view, ReasonPrompt)
    assert [o.label for o in view.options] == ["等待时间长", "服务态度差", "业务不熟练", "一次性告知不到位", "更多原因"]
    assert h.press(2, 3.0) == ["rating.reason"]
    assert h.log[-1][1] == {"transaction_id": "t1", "reason_code": "511", "reason_label": "服务态度差"}
    assert isinstance(h.machine.view(3.1), Thanks)
    assert h.press(1, 4.0) == ["rating.misuse"] and h.log[-1][1]["why"] == "already_rated"


def test_key_five_is_other_reason_on_the_last_page():
    h = Harness()
    h.sign_in()
    h.complete()
    h.press(4, 2.0)
    assert h.press(5, 3.0) == []                       # 更多原因: the second page
    assert h.press(5, 4.0) == ["rating.reason"]
    assert h.log[-1][1]["reason_code"] == "599" and h.log[-1][1]["reason_label"] == "其他"
    short = Harness()
    short.machine.set_reasons(REASONS[:2])
    short.sign_in()
    short.complete()
    short.press(4, 2.0)
    view = short.machine.view(2.1)
    assert [(o.key, o.label) for o in view.options] == [(1, "等待时间长"), (2, "服务态度差"), (5, "其他")]
    assert (view.page, view.pages) == (1, 1)
    assert short.press(3, 3.0) == []                   # an empty key: nothing
    assert short.press(5, 4.0) == ["rating.reason"] and short.log[-1][1]["reason_code"] == "other"


EIGHT_REASONS = [ReasonChoice(str(510 + i), label) for i, label in enumerate(
    ["等待时间长", "服务态度差", "业务不熟练", "一次性告知不到位", "办理时间长", "环境设施差", "材料要求不清", "系统故障多",
     "第九个原因"])] + [ReasonChoice("599", "其他")]


def test_six_to_eight_reasons_take_a_second_page_and_none_is_lost():
    h = Harness(reason_window_s=15)
    h.machine.set_reasons(EIGHT_REASONS[:6] + EIGHT_REASONS[-1:])
    h.sign_in()
    h.complete(now=1.0)
    h.press(5, 2.0)                                    # 非常不满意
    first = h.machine.view(3.0)
    assert [o.label for o in first.options] == ["等待时间长", "服务态度差", "业务不熟练", "一次性告知不到位", "更多原因"]
    assert first.options[-1].more and (first.page, first.pages) == (1, 2)
    assert h.press(5, 14.0) == []
    second = h.machine.view(14.5)
    assert [(o.key, o.label) for o in second.options] == [(1, "办理时间长"), (2, "环境设施差"), (5, "其他")]
    assert (second.page, second.pages, second.seconds_left) == (2, 2, 15)   # read anew
    assert h.machine.reasons_open(25.0)                # past the first page's 17 s
    assert h.press(2, 25.0) == ["rating.reason"]
    assert h.log[-1][1] == {"transaction_id": "t1", "reason_code": "515", "reason_label": "环境设施差"}
    # Eight fit; a ninth is not offered (the centre warns about its list).
    h.machine.set_reasons(EIGHT_REASONS)
    h.complete("t2", 30.0)
    h.press(4, 31.0)
    h.press(5, 32.0)
    assert [o.label for o in h.machine.view(32.5).options] == [r.label for r in EIGHT_REASONS[4:8]] + ["其他"]
    # The next transaction starts on the first page again.
    h.press(1, 33.0)
    h.complete("t3", 40.0)
    h.press(4, 41.0)
    assert h.machine.view(41.5).page == 1


def test_the_second_page_expires_like_the_first():
    h = Harness(reason_window_s=15)
    h.sign_in()
    h.complete(now=1.0)
    h.press(4, 2.0)
    h.press(5, 10.0)
    assert h.machine.next_change(21.5) == pytest.approx(25.0)   # after the first page (17) and the window (21)
    assert h.tick(25.0) == [] and isinstance(h.machine.view(25.0), Idle)
    assert h.press(1, 26.0) == ["rating.misuse"]


def test_reason_window_expires_without_event():
    h = Harness(reason_window_s=15, window_s=20)
    h.sign_in()
    h.complete(now=1.0)
    h.press(4, 2.0)
    assert h.tick(17.5) == []
    assert not h.machine.reasons_open(17.5)
    assert isinstance(h.machine.view(17.5), Idle)


def test_reasons_without_other_in_list_get_default_other():
    machine = RatingMachine(RatingRules(counter_id="1"), [ReasonChoice("1", "排队久")])
    machine.apply("staff.signed_in", {"staff_id": "s"}, 0)
    machine.apply("transaction.completed", {"transaction_id": "t", "staff_id": "s"}, 0)
    machine.apply("rating.submitted", {"transaction_id": "t", "level": 2}, 1)
    assert [o.label for o in machine.view(1.5).options] == ["排队久", "其他"]


def test_pause_blocks_new_window_and_shows_sign():
    h = Harness()
    h.sign_in()
    assert h.commit(h.machine.decide_pause("meeting", 1.0), 1.0) == ["counter.paused"]
    view = h.machine.view(1.1)
    assert isinstance(view, Paused) and view.reason == "meeting" and view.since == "09:14"
    with pytest.raises(RatingRefused) as refused:
        h.machine.decide_complete("t1", 2.0)
    assert refused.value.code == "paused"
    assert h.press(1, 3.0) == ["rating.misuse"] and h.log[-1][1]["why"] == "paused"
    assert h.commit(h.machine.decide_pause("meeting", 4.0), 4.0) == []  # already paused
    assert h.commit(h.machine.decide_resume(5.0), 5.0) == ["counter.resumed"]
    assert h.complete(now=6.0) == ["transaction.completed"]


def test_pause_while_window_open_lets_citizen_finish():
    h = Harness()
    h.sign_in()
    h.complete(now=1.0)
    h.commit(h.machine.decide_pause("closing", 2.0), 2.0)
    assert isinstance(h.machine.view(2.5), RatingPrompt)
    assert h.press(3, 3.0) == ["rating.submitted"]
    assert isinstance(h.machine.view(10.0), Paused)


def test_pause_allowed_without_staff_for_closing():
    h = Harness()
    assert h.commit(h.machine.decide_pause("closing", 1.0), 1.0) == ["counter.paused"]
    assert isinstance(h.machine.view(1.0), Paused)


def test_sign_out_misses_open_window():
    h = Harness()
    h.sign_in()
    h.complete()
    assert h.commit(h.machine.decide_sign_out(2.0), 2.0) == ["rating.missed", "staff.signed_out"]
    assert isinstance(h.machine.view(2.1), NotSignedIn)
    with pytest.raises(RatingRefused):
        h.machine.decide_sign_out(3.0)


def test_custom_key_mapping():
    h = Harness(key_levels=(1, 2, 3, 4, 5))
    h.sign_in()
    h.complete()
    h.press(1, 2.0)
    assert h.log[-1][1]["level"] == 1


def test_burst_is_logged_once_when_the_keys_go_quiet_with_the_presses_it_dropped():
    h = Harness(burst_presses=3, burst_window_s=2.0, debounce_s=0.05)
    h.sign_in()
    results = [h.press(1 + i % 5, 10.0 + i * 0.1) for i in range(10)]
    assert results[:3] == [["rating.misuse"]] * 3
    assert results[3:] == [[]] * 7                    # the 4th reveals the burst: it and the rest dropped
    assert h.machine.next_change(11.0) == pytest.approx(12.9)   # two seconds after the last press
    assert h.tick(12.8) == []
    assert h.tick(12.9) == ["rating.misuse"]
    assert h.log[-1][1] == {"key": 4, "why": "burst", "counter_id": "3", "staff_id": "1001", "dropped": 7}
    assert h.tick(20.0) == []
    assert h.press(1, 15.0) == ["rating.misuse"] and h.log[-1][1]["why"] == "no_window"


def test_a_press_after_a_quiet_burst_records_the_burst_first():
    h = Harness(burst_presses=3, burst_window_s=2.0)
    h.sign_in()
    for i in range(5):
        h.press(1, 10.0 + i * 0.1)
    h.complete("t2", 13.0)
    assert h.press(2, 14.0) == ["rating.misuse", "rating.submitted"]   # no tick came between
    assert h.log[-2][1]["dropped"] == 2


def test_a_burst_right_after_a_rating_voids_it_and_its_reason():
    # The child: 15 presses at 8 per second on 不满意.
    h = Harness(burst_presses=8, burst_window_s=2.0)
    h.sign_in()
    h.complete("t1", 1.0)
    results = [h.press(4, 2.0 + i * 0.125) for i in range(15)]
    assert results[0] == ["rating.submitted"] and results[1] == ["rating.reason"]
    assert results[2:8] == [["rating.misuse"]] * 6
    assert results[8] == ["rating.voided"]
    assert h.log[-1][1] == {"transaction_id": "t1", "why": "burst", "staff_id": "1001", "counter_id": "3"}
    assert results[9:] == [[]] * 6
    assert isinstance(h.machine.view(4.0), Idle)        # no thanks, no reasons: the staff card
    assert h.tick(2.0 + 14 * 0.125 + 2.0) == ["rating.misuse"]
    assert (h.log[-1][1]["why"], h.log[-1][1]["dropped"]) == ("burst", 7)
    assert h.types().count("rating.voided") == 1


def test_a_calm_single_press_is_never_voided():
    h = Harness(burst_presses=3, burst_window_s=2.0)
    h.sign_in()
    h.complete("t1", 1.0)
    assert h.press(2, 2.0) == ["rating.submitted"]
    assert h.press(2, 3.5) == ["rating.misuse"]           # a second calm press: already rated
    assert h.tick(60.0) == [] and "rating.voided" not in h.types()
    # A burst that begins more than the burst window after the rating leaves the rating alone.
    h.complete("t2", 100.0)
    h.press(1, 101.0)
    for i in range(6):
        h.press(3, 103.5 + i * 0.1)
    h.tick(110.0)
    assert "rating.voided" not in h.types() and h.log[-1][1]["why"] == "burst"


def test_a_voided_rating_stays_voided_after_a_replay():
    h = Harness(burst_presses=3, burst_window_s=2.0)
    h.sign_in()
    h.complete("t1", 1.0)
    for i in range(5):
        h.press(5, 2.0 + i * 0.1)
    machine = RatingMachine(RatingRules(counter_id="3"), REASONS)
    for event_type, data in h.log:
        machine.apply(event_type, data, 2.5)
    assert not machine.reasons_open(2.6) and isinstance(machine.view(2.6), Idle)


def test_a_key_that_chatters_for_good_is_recorded_every_minute():
    h = Harness(burst_presses=3, burst_window_s=2.0)
    h.sign_in()
    for i in range(1300):                               # ten presses a second for 130 s
        h.press(1, 10.0 + i * 0.1)
        h.tick(10.0 + i * 0.1 + 0.05)
    h.tick(200.0)
    bursts = [d["dropped"] for t, d in h.log if t == "rating.misuse" and d["why"] == "burst"]
    assert len(bursts) == 3 and sum(bursts) == 1300 - 3


def test_failed_commit_leaves_state_unchanged():
    h = Harness()
    h.sign_in()
    h.complete()
    decision = h.machine.decide_press(1, 2.0)  # decided, but the write "failed": not applied
    assert decision.events[0][0] == "rating.submitted"
    assert h.machine.window_open(2.1)
    assert h.press(2, 3.0) == ["rating.submitted"]


def test_replay_from_earlier_boot_expires_open_window():
    h = Harness()
    h.sign_in()
    machine = RatingMachine(RatingRules(counter_id="3"), REASONS)
    for event_type, data in h.log + [("transaction.completed",
                                      {"transaction_id": "t9", "staff_id": "1001", "counter_id": "3"})]:
        machine.apply(event_type, data, float("-inf"))
    assert machine.staff_id == "1001"
    assert [t for t, _ in machine.decide_tick(5.0).events] == ["rating.missed"]


# --- property: at most one rating per transaction, whatever the keys do ---------------------

actions = st.lists(
    st.one_of(
        st.tuples(st.just("press"), st.integers(1, 5), st.floats(0, 3)),
        st.tuples(st.just("complete"), st.just(0), st.floats(0, 30)),
        st.tuples(st.just("tick"), st.just(0), st.floats(0, 30)),
        st.tuples(st.just("pause"), st.just(0), st.floats(0, 5)),
        st.tuples(st.just("resume"), st.just(0), st.floats(0, 5)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(actions, st.floats(0, 0.2), st.integers(2, 10))
def test_random_chatter_never_rates_a_transaction_twice(steps, debounce, burst):
    h = Harness(debounce_s=debounce, burst_presses=burst, window_s=10, reason_window_s=5)
    h.sign_in()
    now = 0.0
    opened = 0
    for i, (kind, key, gap) in enumerate(steps):
        now += gap
        if kind == "press":
            h.press(key, now)
        elif kind == "complete" and not h.machine.paused:
            h.complete(f"t{i}", now)
            opened += 1
        elif kind == "tick":
            h.tick(now)
        elif kind == "pause":
            h.commit(h.machine.decide_pause("break", now), now)
        elif kind == "resume":
            h.commit(h.machine.decide_resume(now), now)
    h.tick(now + 100)
    ratings = [d["transaction_id"] for t, d in h.log if t == "rating.submitted"]
    assert len(ratings) == len(set(ratings))
    completed = [d["transaction_id"] for t, d in h.log if t == "transaction.completed"]
    missed = [d["transaction_id"] for t, d in h.log if t == "rating.missed"]
    # every transaction ends exactly one way: rated or missed
    assert sorted(ratings + missed) == sorted(completed)
    reasons = [d["transaction_id"] for t, d in h.log if t == "rating.reason"]
    assert len(reasons) == len(set(reasons)) and set(reasons) <= set(ratings)
    assert len(completed) == opened
    # a void follows its rating, once; the burst that caused it is recorded by the final tick
    voided = [d["transaction_id"] for t, d in h.log if t == "rating.voided"]
    assert len(voided) == len(set(voided)) and set(voided) <= set(ratings)
    assert h.machine.next_change(now + 100) is None

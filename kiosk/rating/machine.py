"""The counter's rating rules as a pure state machine: no I/O, no asyncio, time passed in.

It works by event sourcing. `decide_*` methods look at the state and an input and return the
events to append (and what to say); they never change the recorded state. Only `apply()` does,
with an event that is already committed. So a failed write (disk full) leaves the machine exactly
as the store is, and replaying the store after a restart rebuilds the same state.

Times are CLOCK_MONOTONIC seconds. The input filter (debounce, burst) is the one piece of state
that is not an event: it describes the keys' electrical history, not anything a citizen did.

A burst (a child hammering the keys, or chatter) that begins within the burst window after a
rating voids that rating and its reason (`rating.voided`): the first press of a burst is taken as
a rating like any other, and only the burst that follows shows it was not a decision. A calm single
press is never voided. The burst itself is recorded once, when the keys have gone quiet, as
`rating.misuse` (why `burst`) with the number of presses it dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Callable, Mapping, Sequence

from kiosk.clock import in_zone
from kiosk.decision import Decision
from kiosk.rating.presses import Burst, PressFilter, PressVerdict
from kiosk.refusals import RatingRefused
from kiosk.screens.views import (
    LEVEL_LABELS, Idle, KeyOption, NotSignedIn, Paused, RatingPrompt, ReasonPrompt, StaffCard,
    Thanks, View,
)
from protocol.events import OFFERED_REASONS, OTHER_REASON_LABEL, EventType

BAD_LEVELS = frozenset({1, 2})   # 不满意 and 非常不满意 are 差评
REASON_KEYS = 4                  # keys 1..4 show reasons; key 5 is 更多原因, or 其他 on the last page
MAX_REASONS = OFFERED_REASONS    # two pages of REASON_KEYS; the centre warns when its list has more
OTHER_LABEL = OTHER_REASON_LABEL
OTHER_CODE = "other"
MORE_LABEL = "更多原因"


@dataclass(frozen=True)
class RatingRules:
    counter_id: str
    key_levels: Sequence[int] = (5, 4, 3, 2, 1)   # key i+1 → level
    window_s: float = 20.0
    reason_window_s: float = 15.0
    thanks_s: float = 3.0
    debounce_s: float = 0.05
    burst_presses: int = 8
    burst_window_s: float = 2.0
    zone: tzinfo | None = None        # the hall's time zone for the times shown; None: as recorded


@dataclass(frozen=True)
class ReasonChoice:
    code: str
    label: str


@dataclass
class _Transaction:
    transaction_id: str
    staff_id: str
    service_item: str | None
    ticket: str | None
    window_until: float
    level: int | None = None
    rated_at: float = float("-inf")
    reasons_until: float = float("-inf")
    reason_given: bool = False
    voided: bool = False


# A key of a reason page: a reason, the way to the next page, or nothing (an empty slot).
MORE = ReasonChoice("", MORE_LABEL)
ReasonPage = tuple[ReasonChoice | None, ...]


def reason_pages(reasons: Sequence[ReasonChoice]) -> tuple[ReasonPage, ...]:
    """The reason screens, one slot per key: up to four reasons on keys 1-4 and 其他 on key 5;
    with five to eight reasons a second page, reached by 更多原因 on key 5 of the first. Reasons
    past the eighth are not offered."""
    other = next((r for r in reasons if r.label == OTHER_LABEL), ReasonChoice(OTHER_CODE, OTHER_LABEL))
    chosen = [r for r in reasons if r.label != OTHER_LABEL][:MAX_REASONS]
    groups = [chosen[start:start + REASON_KEYS] for start in range(0, max(1, len(chosen)), REASON_KEYS)]
    pages = []
    for number, group in enumerate(groups, start=1):
        padded = [*group, *[None] * (REASON_KEYS - len(group))]
        pages.append((*padded, other if number == len(groups) else MORE))
    return tuple(pages)


@dataclass
class _ReasonPage:
    """Which reason page the citizen turned to (input state, like the press filter: not an
    event). The second page gets a full reason window of its own to be read."""
    transaction_id: str
    index: int
    until: float


class RatingMachine:
    def __init__(self, rules: RatingRules, reasons: Sequence[ReasonChoice] = (),
                 staff_card: Callable[[str], StaffCard] | None = None) -> None:
        self.rules = rules
        self._filter = PressFilter(rules.debounce_s, rules.burst_presses, rules.burst_window_s)
        self._pages = reason_pages(reasons)
        self._page: _ReasonPage | None = None
        self._staff_card = staff_card or (lambda staff_id: StaffCard(staff_id, staff_id, rules.counter_id))
        # Recorded state: changed only by apply().
        self.staff_id: str | None = None
        self.paused = False
        self.pause_reason = ""
        self.paused_since = ""
        self._txn: _Transaction | None = None
        self._thanks_until = float("-inf")
        self._thanks_level = 0
        self._burst_key = 0          # the key whose press revealed the ongoing burst

    # --- directory (roster and reasons may change when the centre sends a new bundle) -----

    def set_reasons(self, reasons: Sequence[ReasonChoice]) -> None:
        self._pages = reason_pages(reasons)
        self._page = None

    # --- questions -------------------------------------------------------------------------

    def window_open(self, now: float) -> bool:
        txn = self._txn
        return txn is not None and txn.level is None and now < txn.window_until

    def reasons_open(self, now: float) -> bool:
        txn = self._txn
        return txn is not None and txn.level in BAD_LEVELS and not txn.reason_given \
            and not txn.voided and now < max(txn.reasons_until, self._page_until(txn))

    def _page_index(self, txn: _Transaction) -> int:
        page = self._page
        return page.index if page is not None and page.transaction_id == txn.transaction_id else 0

    def _page_until(self, txn: _Transaction) -> float:
        page = self._page
        return page.until if page is not None and page.transaction_id == txn.transaction_id else float("-inf")

    @property
    def open_transaction_id(self) -> str | None:
        return self._txn.transaction_id if self._txn else None

    def next_change(self, now: float) -> float | None:
        """When the screen or the state next changes by itself (a deadline), if ever."""
        times = [self._thanks_until, self._filter.burst_due() or float("-inf")]
        if self._txn is not None:
            times += [self._txn.window_until, self._txn.reasons_until, self._page_until(self._txn)]
        future = [t for t in times if t > now]
        return min(future) if future else None

    # --- decisions -------------------------------------------------------------------------

    def _expire(self, now: float, decision: Decision) -> None:
        """An unrated window whose time is up becomes rating.missed."""
        txn = self._txn
        if txn is not None and txn.level is None and now >= txn.window_until:
            decision.add(EventType.RATING_MISSED, self._missed_data(txn))

    def _close_open_window(self, decision: Decision) -> None:
        """A new transaction or a sign-out ends any window; an unrated one is missed."""
        txn = self._txn
        if txn is not None and txn.level is None:
            decision.add(EventType.RATING_MISSED, self._missed_data(txn))

    def _missed_data(self, txn: _Transaction) -> dict[str, Any]:
        return {"transaction_id": txn.transaction_id, "staff_id": txn.staff_id,
                "counter_id": self.rules.counter_id}

    def decide_tick(self, now: float) -> Decision:
        decision = Decision()
        self._expire(now, decision)
        self._record_burst(now, decision)
        return decision

    def decide_sign_in(self, staff_id: str, now: float) -> Decision:
        decision = Decision()
        if self.staff_id == staff_id:
            return decision
        if self.staff_id is not None:
            self._close_open_window(decision)
            decision.add(EventType.STAFF_SIGNED_OUT,
                         {"staff_id": self.staff_id, "counter_id": self.rules.counter_id})
        decision.add(EventType.STAFF_SIGNED_IN, {"staff_id": staff_id, "counter_id": self.rules.counter_id})
        return decision

    def decide_sign_out(self, now: float) -> Decision:
        if self.staff_id is None:
            raise RatingRefused("not_signed_in", "no staff member is signed in at this counter")
        decision = Decision()
        self._close_open_window(decision)
        decision.add(EventType.STAFF_SIGNED_OUT,
                     {"staff_id": self.staff_id, "counter_id": self.rules.counter_id})
        return decision

    def decide_pause(self, reason: str, now: float) -> Decision:
        decision = Decision()
        if not self.paused or reason != self.pause_reason:
            # An open window is left to finish: the citizen in front of the counter may still rate.
            # Paused again with another reason (a break that becomes 结束营业) records the new one.
            decision.add(EventType.COUNTER_PAUSED, {"counter_id": self.rules.counter_id, "reason": reason})
            if not self.paused:
                decision.say.append("paused")
        return decision

    def decide_resume(self, now: float) -> Decision:
        decision = Decision()
        if self.paused:
            decision.add(EventType.COUNTER_RESUMED, {"counter_id": self.rules.counter_id})
        return decision

    def decide_complete(self, transaction_id: str, now: float, service_item: str | None = None,
                        ticket: str | None = None) -> Decision:
        if self.staff_id is None:
            raise RatingRefused("not_signed_in", "sign in before completing a transaction")
        if self.paused:
            raise RatingRefused("paused", "the counter is paused (暂停服务); resume it first")
        decision = Decision()
        self._expire(now, decision)
        if not decision.events:
            self._close_open_window(decision)
        data: dict[str, Any] = {"transaction_id": transaction_id, "staff_id": self.staff_id,
                                "counter_id": self.rules.counter_id}
        if service_item:
            data["service_item"] = service_item
        if ticket:
            data["ticket"] = ticket
        decision.add(EventType.TRANSACTION_COMPLETED, data)
        decision.say.append("rate_prompt")
        return decision

    def decide_press(self, key: int, now: float) -> Decision:
        """A rating key (1..5) went down at `now`."""
        decision = Decision()
        self._record_burst(now, decision)   # one that went quiet before this press
        verdict = self._filter.classify(now)
        if verdict in (PressVerdict.BOUNCE, PressVerdict.IN_BURST):
            return decision
        self._expire(now, decision)
        expired = any(event_type == EventType.RATING_MISSED for event_type, _ in decision.events)
        if verdict is PressVerdict.BURST_START:
            self._burst_key = key
            self._void_rating_before(self._filter.burst, decision)
            return decision
        txn = self._txn
        if not expired and self.window_open(now):
            level = self.rules.key_levels[key - 1]
            data = {"transaction_id": txn.transaction_id, "level": level, "staff_id": txn.staff_id,
                    "counter_id": self.rules.counter_id}
            if txn.service_item:
                data["service_item"] = txn.service_item
            if txn.ticket:
                data["ticket"] = txn.ticket
            decision.add(EventType.RATING_SUBMITTED, data)
            decision.say.append("reason_prompt" if level in BAD_LEVELS else "thanks")
        elif not expired and self.reasons_open(now):
            index = self._page_index(txn)
            choice = self._pages[index][key - 1]
            if choice is MORE:
                self._page = _ReasonPage(txn.transaction_id, index + 1, now + self.rules.reason_window_s)
            elif choice is not None:   # an empty slot on the last page does nothing
                decision.add(EventType.RATING_REASON, {"transaction_id": txn.transaction_id,
                                                       "reason_code": choice.code, "reason_label": choice.label})
                decision.say.append("reason_thanks")
        elif not expired and txn is not None and txn.level is not None and now < max(
                txn.window_until, txn.reasons_until):
            decision.add(EventType.RATING_MISUSE, self._misuse(key, "already_rated"))
        else:
            decision.add(EventType.RATING_MISUSE, self._misuse(key, "paused" if self.paused else "no_window"))
        return decision

    def _void_rating_before(self, burst: Burst | None, decision: Decision) -> None:
        """A burst that began within the burst window after the rating: the rating (and its
        reason) was a child or key chatter, not a decision."""
        txn = self._txn
        if burst is None or txn is None or txn.level is None or txn.voided:
            return
        if burst.started_at - txn.rated_at <= self.rules.burst_window_s:
            decision.add(EventType.RATING_VOIDED, {"transaction_id": txn.transaction_id, "why": "burst",
                                                   "staff_id": txn.staff_id, "counter_id": self.rules.counter_id})

    def _record_burst(self, now: float, decision: Decision) -> None:
        """A burst whose keys went quiet (or that has gone on long) is recorded once, with the
        presses it dropped."""
        burst = self._filter.end_burst(now)
        if burst is not None and burst.dropped:
            decision.add(EventType.RATING_MISUSE, {**self._misuse(self._burst_key, "burst"),
                                                   "dropped": burst.dropped})

    def _misuse(self, key: int, why: str) -> dict[str, Any]:
        # counter_id (and staff_id when known) let the centre show misuse per window.
        data: dict[str, Any] = {"key": key, "why": why, "counter_id": self.rules.counter_id}
        if self.staff_id is not None:
            data["staff_id"] = self.staff_id
        return data

    # --- applying committed events --------------------------------------------------------

    def apply(self, event_type: str, data: Mapping[str, Any], at: float, wall_time: str = "") -> None:
        """Fold one committed event into the state. `at` is when it happened (monotonic)."""
        rules = self.rules
        if event_type == EventType.STAFF_SIGNED_IN:
            self.staff_id = data["staff_id"]
        elif event_type == EventType.STAFF_SIGNED_OUT:
            self.staff_id = None
        elif event_type == EventType.COUNTER_PAUSED:
            if not self.paused:   # a new reason for the same pause keeps the sign's 暂停时间
                self.paused_since = wall_time
            self.paused = True
            self.pause_reason = data.get("reason", "")
        elif event_type == EventType.COUNTER_RESUMED:
            self.paused = False
        elif event_type == EventType.TRANSACTION_COMPLETED:
            self._txn = _Transaction(data["transaction_id"], data["staff_id"], data.get("service_item"),
                                     data.get("ticket"), window_until=at + rules.window_s)
            self._thanks_until = float("-inf")
        elif event_type == EventType.RATING_SUBMITTED:
            txn = self._txn
            if txn is not None and txn.transaction_id == data["transaction_id"]:
                txn.level = data["level"]
                txn.rated_at = at
                if txn.level in BAD_LEVELS:
                    txn.reasons_until = at + rules.reason_window_s
                else:
                    self._show_thanks(txn.level, at)
        elif event_type == EventType.RATING_REASON:
            txn = self._txn
            if txn is not None and txn.transaction_id == data["transaction_id"]:
                txn.reason_given = True
                self._show_thanks(txn.level or 0, at)
        elif event_type == EventType.RATING_VOIDED:
            txn = self._txn
            if txn is not None and txn.transaction_id == data["transaction_id"]:
                txn.voided = True
                self._thanks_until = float("-inf")   # no thanks for a burst: back to the card
        elif event_type == EventType.RATING_MISSED:
            if self._txn is not None and self._txn.transaction_id == data["transaction_id"]:
                self._txn = None

    def _show_thanks(self, level: int, at: float) -> None:
        self._thanks_level = level
        self._thanks_until = at + self.rules.thanks_s

    # --- what to show ---------------------------------------------------------------------

    def card(self) -> StaffCard | None:
        if self.staff_id is None:
            return None
        return self._staff_card(self.staff_id)

    def view(self, now: float) -> View:
        txn = self._txn
        if txn is not None and self.window_open(now):
            options = tuple(KeyOption(key, LEVEL_LABELS[level], level)
                            for key, level in enumerate(self.rules.key_levels, start=1))
            card = self.card() or self._staff_card(txn.staff_id)
            return RatingPrompt(card, options, seconds_left=_ceil_seconds(txn.window_until - now))
        if txn is not None and self.reasons_open(now):
            index = self._page_index(txn)
            options = tuple(KeyOption(key, choice.label, more=choice is MORE)
                            for key, choice in enumerate(self._pages[index], start=1) if choice is not None)
            until = max(txn.reasons_until, self._page_until(txn))
            return ReasonPrompt(options, seconds_left=_ceil_seconds(until - now), page=index + 1,
                                pages=len(self._pages))
        if now < self._thanks_until:
            return Thanks(self._thanks_level)
        if self.paused:
            return Paused(self.rules.counter_id, self.pause_reason, _clock_hhmm(self.paused_since, self.rules.zone))
        card = self.card()
        if card is not None:
            return Idle(card)
        return NotSignedIn(self.rules.counter_id)


def _ceil_seconds(seconds: float) -> int:
    whole = int(seconds)
    return whole + 1 if seconds > whole else whole


def _clock_hhmm(wall_time: str, zone: tzinfo | None) -> str:
    """'2026-11-23T09:14:03.512+08:00' → '09:14': the hall's clock at the recorded time."""
    try:
        return in_zone(wall_time, zone).strftime("%H:%M")
    except ValueError:   # no time recorded (a pause replayed without one)
        return ""

"""The hall's queue as a pure state machine: no I/O, no asyncio, times passed in.

Same pattern as `kiosk.rating`: `decide_*` look at the state and an input and return the events to
append (they never change the state, and refuse with `QueueRefused`); `apply()` folds one committed
event in. Replaying the store's `ticket.*` events therefore rebuilds exactly the queue that was
acknowledged before a restart.

Rules:
- Numbers run per category per business day (A001, A002 …). The business day starts at the
  configured reset time; it is taken from each event's recorded wall time read in the hall's time
  zone (whatever offset it was recorded with), and only ever moves forward, so a clock stepped
  back never reopens yesterday.
- Call-next at a counter takes the tickets it may call (its categories, plus tickets transferred
  to it), priority tickets (绿色通道) first unless `priority_interleave` priority calls in a row
  have been made there while regular tickets waited, then by place in line (issue order).
- A transferred ticket keeps its number and its place in line.
- The dispenser stops a category for the day when no counter that calls it is open: a counter is
  closed for the day by 暂停服务 with reason `closing` (its own `counter.paused` on a `both` unit,
  or `queue.counter_closed` recorded here for a counter calling through this host) until it
  resumes; and every category stops at the hall's closing time. A stopped category issues
  nothing (`ticket.refused`, no number used); what waits stays for the reset rules. Counters
  that call every category are the ones the host knows today (its own, those that called, and
  those that told it their state); with none known, nothing stops.
- Service time is the gap between a call and the next call at the same counter, counted only
  when the citizen was served (not a no-show, not transferred away); the estimate is the rolling
  mean of the last `service_samples` such gaps. Gaps outside `min_service_s`…`max_service_s`
  are a skipped ticket or a break, not a service.
"""
from __future__ import annotations

import math
import secrets
import string
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Mapping

from kiosk.clock import in_zone
from kiosk.decision import Decision
from kiosk.refusals import QueueRefused
from protocol.events import EventType

# Events this machine folds; replaying these (in seq order) rebuilds the queue.
QUEUE_EVENT_TYPES = (EventType.TICKET_ISSUED, EventType.TICKET_CALLED, EventType.TICKET_RECALLED,
                     EventType.TICKET_NO_SHOW, EventType.TICKET_TRANSFERRED, EventType.TICKET_VOIDED,
                     EventType.COUNTER_PAUSED, EventType.COUNTER_RESUMED,
                     EventType.QUEUE_COUNTER_OPENED, EventType.QUEUE_COUNTER_CLOSED)
CLOSING = "closing"                 # the pause reason that closes a counter for the day
STOPPED_CLOSED, STOPPED_AFTER_HOURS = "closed", "after_hours"   # why a category takes no tickets

WAITING, SERVING, DONE, NO_SHOW, VOIDED = "waiting", "serving", "done", "no_show", "voided"


@dataclass(frozen=True)
class Category:
    letter: str
    name: str
    priority: bool = False


@dataclass(frozen=True)
class QueueRules:
    categories: tuple[Category, ...]
    # counter id → letters it calls. Empty: every counter calls every category.
    counters: Mapping[str, frozenset[str]] = field(default_factory=dict)
    priority_interleave: int = 0        # 0: priority always first
    reset_minutes: int = 0              # minutes after midnight when the numbering restarts
    no_show_after_recalls: int = 2
    surge_wait_s: float = 1800.0
    service_samples: int = 20
    default_service_s: float = 300.0
    min_service_s: float = 10.0
    max_service_s: float = 3600.0
    last_called_kept: int = 10
    zone: tzinfo | None = None          # the hall's time zone; None: each time as recorded
    closing_minutes: int | None = None  # the hall's closing time, minutes after midnight
    # This unit's own counter id: its counter.paused / counter.resumed are in this log. A `both`
    # unit's counter calls tickets (own_calls); a dispenser paused for closing stops every category.
    own_counter: str | None = None
    own_calls: bool = False

    def category(self, letter: str) -> Category:
        for category in self.categories:
            if category.letter == letter:
                return category
        raise QueueRefused("unknown_category", f"no queue category {letter!r} "
                           f"(known: {', '.join(c.letter for c in self.categories)})")

    def check_counter(self, counter_id: str) -> None:
        if self.counters and counter_id not in self.counters:
            raise QueueRefused("unknown_counter", f"counter {counter_id!r} is not in the "
                               f"queue configuration (known: {', '.join(sorted(self.counters))})")

    def serves(self, counter_id: str, letter: str) -> bool:
        return not self.counters or letter in self.counters.get(counter_id, ())


def business_day(wall_time: str, reset_minutes: int, zone: tzinfo | None = None) -> str:
    """'2026-11-23T09:14:03.512+08:00' → '2026-11-23': the hall's date at the recorded time,
    moved back by the reset time so the night before it still counts as the previous day."""
    return (in_zone(wall_time, zone) - timedelta(minutes=reset_minutes)).date().isoformat()


def wall_seconds(wall_time: str) -> float:
    return datetime.fromisoformat(wall_time).timestamp()


def ticket_number(letter: str, number: int) -> str:
    return f"{letter}{number:03d}"


TICKET_REF_BYTES = 16   # 128 random bits: a ticket's page cannot be guessed or enumerated


def new_ticket_ref() -> str:
    """A ticket's reference for the citizen's phone (`/t/{ref}` at the centre): 22 URL-safe characters."""
    return secrets.token_urlsafe(TICKET_REF_BYTES)


def number_of(ticket: str) -> int:
    return int(ticket.lstrip(string.ascii_uppercase))


@dataclass
class Ticket:
    number: str
    category: str          # the category it is in now (a transfer may change it)
    priority: bool
    place: int             # place in the day's line: the issue order, kept through transfers
    issued_at: str         # wall time of ticket.issued
    counter: str | None = None   # a transfer to a counter reserves the ticket for that counter
    status: str = WAITING
    recalls: int = 0
    ref: str = ""          # the reference its QR carries ("" for a ticket issued before references)


@dataclass
class _Day:
    """Everything the queue knows about one business day."""
    day: str
    tickets: dict[str, Ticket] = field(default_factory=dict)
    # The waiting line, and how many wait per (category, reserved counter, priority): estimates
    # for a new ticket then cost one pass over a handful of groups, not over the whole line.
    line: dict[str, Ticket] = field(default_factory=dict)
    groups: Counter = field(default_factory=Counter)
    next_number: dict[str, int] = field(default_factory=dict)
    serving: dict[str, str] = field(default_factory=dict)          # counter → ticket
    last_call: dict[str, float] = field(default_factory=dict)      # counter → wall seconds
    priority_streak: dict[str, int] = field(default_factory=dict)  # counter → priority calls in a row
    active_counters: set[str] = field(default_factory=set)
    counter_open: dict[str, bool] = field(default_factory=dict)    # counters known today: open?
    last_called: deque = field(default_factory=deque)              # (ticket, counter, wall_time)
    service_samples: deque = field(default_factory=deque)

    def waiting(self) -> list[Ticket]:
        return list(self.line.values())

    def enter_line(self, ticket: Ticket) -> None:
        ticket.status = WAITING
        self.line[ticket.number] = ticket
        self.groups[ticket.category, ticket.counter, ticket.priority] += 1

    def leave_line(self, ticket: Ticket, status: str) -> None:
        if self.line.pop(ticket.number, None) is not None:
            self.groups[ticket.category, ticket.counter, ticket.priority] -= 1
        ticket.status = status


@dataclass(frozen=True)
class Estimate:
    waiting_ahead: int
    wait_s: float
    surge: bool

    @property
    def wait_min(self) -> int:
        return math.ceil(self.wait_s / 60)


class KeyLockout:
    """The dispenser's lockout: after an accepted press, presses for `lockout_s` do nothing.

    Like the rating keys' debounce this is input filtering, not a record of anything a citizen
    got, so it is not an event: a restart (which takes longer than the lockout) clears it."""

    def __init__(self, lockout_s: float) -> None:
        self.lockout_s = lockout_s
        self._until = float("-inf")

    def accept(self, now: float) -> bool:
        if now < self._until:
            return False
        self._until = now + self.lockout_s
        return True


class QueueMachine:
    def __init__(self, rules: QueueRules) -> None:
        self.rules = rules
        self._today: _Day | None = None
        # Counters that call each category (None: any counter), worked out once.
        self._category_counters: dict[str, frozenset[str] | None] = {
            c.letter: (frozenset(counter for counter, letters in rules.counters.items() if c.letter in letters)
                       if rules.counters else None)
            for c in rules.categories}

    # --- the day -----------------------------------------------------------------------

    def _day_key(self, wall_time: str) -> str:
        return business_day(wall_time, self.rules.reset_minutes, self.rules.zone)

    def _state_at(self, wall_time: str) -> _Day:
        """The day's state as of `wall_time`: a fresh (unstored) day once the reset has passed."""
        day = self._day_key(wall_time)
        today = self._today
        if today is None or day > today.day:
            return _Day(day)
        return today

    @property
    def day(self) -> str | None:
        return self._today.day if self._today else None

    # --- questions ---------------------------------------------------------------------

    def ticket(self, number: str, wall_time: str) -> Ticket | None:
        return self._state_at(wall_time).tickets.get(number)

    def serving(self, counter_id: str, wall_time: str) -> Ticket | None:
        state = self._state_at(wall_time)
        number = state.serving.get(counter_id)
        return state.tickets[number] if number else None

    def _callers(self, category: str, counter: str | None) -> frozenset[str] | None:
        """Counters that may call a ticket of this category (reserved for `counter` by a
        transfer, if given); None means any counter."""
        if counter is not None:
            return frozenset({counter})
        return self._category_counters.get(category)

    def _counters_for(self, ticket: Ticket) -> frozenset[str] | None:
        return self._callers(ticket.category, ticket.counter)

    @staticmethod
    def _share_a_counter(first: frozenset[str] | None, second: frozenset[str] | None) -> bool:
        """Could one counter call either (so one waits for the other)?"""
        return first is None or second is None or bool(first & second)

    def _ahead(self, state: _Day, ticket: Ticket) -> int:
        """Tickets that will be called before `ticket`: priority ones first, then by place.
        A ticket not yet in the line (a new one) is behind everybody of its class."""
        mine = self._counters_for(ticket)
        if ticket.number not in state.line:
            return sum(count for (category, counter, priority), count in state.groups.items()
                       if count and (priority or not ticket.priority)
                       and self._share_a_counter(self._callers(category, counter), mine))

        def before(other: Ticket) -> bool:
            if other.priority != ticket.priority:
                return other.priority
            return other.place < ticket.place
        return sum(1 for other in state.line.values()
                   if other is not ticket and before(other)
                   and self._share_a_counter(self._counters_for(other), mine))

    def _average_service_s(self, state: _Day) -> float:
        samples = state.service_samples
        return sum(samples) / len(samples) if samples else self.rules.default_service_s

    def _estimate(self, state: _Day, ticket: Ticket) -> Estimate:
        ahead = self._ahead(state, ticket)
        counters = self._counters_for(ticket)
        active = [c for c in state.active_counters
                  if (counters is None or c in counters) and state.counter_open.get(c) is not False]
        wait_s = ahead * self._average_service_s(state) / max(1, len(active))
        return Estimate(ahead, wait_s, wait_s > self.rules.surge_wait_s)

    def _new_ticket(self, state: _Day, letter: str) -> Ticket:
        category = self.rules.category(letter)
        number = ticket_number(letter, state.next_number.get(letter, 1))
        return Ticket(number, letter, category.priority, len(state.tickets), "")

    def estimate_new(self, letter: str, wall_time: str) -> Estimate:
        """What a ticket of this category taken now would be told."""
        state = self._state_at(wall_time)
        return self._estimate(state, self._new_ticket(state, letter))

    def estimate_for(self, number: str, wall_time: str) -> Estimate:
        state = self._state_at(wall_time)
        return self._estimate(state, state.tickets[number])

    def snapshot(self, wall_time: str) -> dict[str, Any]:
        """GET /v1/queue: waiting per category, serving per counter, the last calls, estimates."""
        state = self._state_at(wall_time)
        waiting = {c.letter: 0 for c in self.rules.categories}
        for (category, _, _), count in state.groups.items():
            waiting[category] = waiting.get(category, 0) + count
        estimates = {c.letter: self.estimate_new(c.letter, wall_time) for c in self.rules.categories}
        return {
            "day": state.day,
            "waiting": waiting,
            "serving": dict(state.serving),
            "serving_categories": {c: state.tickets[t].category for c, t in state.serving.items()},
            "last_called": [{"ticket": t, "counter_id": c, "at": at} for t, c, at in state.last_called],
            "estimated_wait_min": {letter: e.wait_min for letter, e in estimates.items()},
            "average_service_s": round(self._average_service_s(state), 1),
            "surge": any(e.surge for e in estimates.values()),
            "counters": {counter: "open" if is_open else "closed"
                         for counter, is_open in sorted(self._known_counters(state).items())},
            "stopped": self.stopped_categories(wall_time),
        }

    # --- is the dispenser taking tickets? ------------------------------------------------

    def _known_counters(self, state: _Day) -> dict[str, bool]:
        known = dict(state.counter_open)
        own = self.rules.own_counter
        if own is not None:
            if self.rules.own_calls:
                known.setdefault(own, True)
            else:
                known.pop(own, None)   # a dispenser is no counter
        return known

    def after_hours(self, wall_time: str) -> bool:
        """Past the hall's closing time and before the next reset."""
        closing = self.rules.closing_minutes
        if closing is None:
            return False
        moment = in_zone(wall_time, self.rules.zone)
        minutes, reset = moment.hour * 60 + moment.minute, self.rules.reset_minutes
        return (minutes - reset) % 1440 >= (closing - reset) % 1440

    def stopped_categories(self, wall_time: str) -> dict[str, str]:
        """Letter → why, for each category that takes no tickets now."""
        return {c.letter: why for c in self.rules.categories if (why := self.stopped(c.letter, wall_time))}

    def stopped(self, letter: str, wall_time: str) -> str | None:
        """Why a ticket of this category cannot be taken now (`after_hours` or `closed`), or None."""
        if self.after_hours(wall_time):
            return STOPPED_AFTER_HOURS
        state = self._state_at(wall_time)
        own = self.rules.own_counter
        if own is not None and not self.rules.own_calls and state.counter_open.get(own) is False:
            return STOPPED_CLOSED          # the dispenser itself was paused for closing
        known = self._known_counters(state)
        callers = self._category_counters.get(letter)
        candidates = known.keys() if callers is None else callers
        if candidates and all(known.get(counter) is False for counter in candidates):
            return STOPPED_CLOSED
        return None

    def _next_for(self, state: _Day, counter_id: str) -> Ticket | None:
        callable_here = [t for t in state.waiting()
                         if t.counter == counter_id
                         or (t.counter is None and self.rules.serves(counter_id, t.category))]
        if not callable_here:
            return None
        priority = [t for t in callable_here if t.priority]
        regular = [t for t in callable_here if not t.priority]
        interleave = self.rules.priority_interleave
        give_regular_a_turn = (interleave > 0 and regular
                               and state.priority_streak.get(counter_id, 0) >= interleave)
        pool = priority if priority and not give_regular_a_turn else regular
        return min(pool, key=lambda t: t.place)

    # --- decisions ---------------------------------------------------------------------

    def decide_issue(self, letter: str, wall_time: str, ref: str | None = None) -> Decision:
        """`ref`: the ticket's reference for the citizen's phone (docs/protocol-notes.md); a new
        random one unless given."""
        why = self.stopped(letter, wall_time)
        if why is not None:
            raise QueueRefused("queue_closed", f"今日已停止取号: category {letter} takes no tickets now "
                               f"({why})", why=why, category=letter)
        state = self._state_at(wall_time)
        ticket = self._new_ticket(state, letter)
        estimate = self._estimate(state, ticket)
        decision = Decision()
        decision.add(EventType.TICKET_ISSUED, {
            "ticket": ticket.number, "category": letter, "priority": ticket.priority,
            "waiting_ahead": estimate.waiting_ahead, "estimated_wait_min": estimate.wait_min,
            "surge": estimate.surge, "ref": ref or new_ticket_ref()})
        return decision

    def decide_print_failed(self, letter: str, why: str) -> Decision:
        """No number is consumed: the event records only the category and why."""
        self.rules.category(letter)
        decision = Decision()
        decision.add(EventType.TICKET_PRINT_FAILED, {"category": letter, "why": why})
        return decision

    def decide_refuse_ticket(self, letter: str, why: str) -> Decision:
        """A ticket asked for in a stopped category: recorded, no number used."""
        self.rules.category(letter)
        decision = Decision()
        decision.add(EventType.TICKET_REFUSED, {"category": letter, "why": why})
        return decision

    def decide_counter_state(self, counter_id: str, closed: bool, wall_time: str,
                             staff_id: str | None = None) -> Decision:
        """A counter calling through this host says whether it is closed for the day; recorded
        when the host did not know it so (once a day that the counter is open)."""
        self.rules.check_counter(counter_id)
        if counter_id == self.rules.own_counter:
            raise QueueRefused("invalid", f"counter {counter_id} is this unit's own: its pauses are "
                               "recorded here", field="counter_id")
        known_open = self._state_at(wall_time).counter_open.get(counter_id)
        decision = Decision()
        if known_open is None or known_open == closed:    # not known, or known the other way
            data: dict[str, Any] = {"counter_id": counter_id}
            if staff_id:
                data["staff_id"] = staff_id
            decision.add(EventType.QUEUE_COUNTER_CLOSED if closed else EventType.QUEUE_COUNTER_OPENED, data)
        return decision

    def decide_void(self, number: str, why: str, wall_time: str) -> Decision:
        ticket = self.ticket(number, wall_time)
        decision = Decision()
        if ticket is not None and ticket.status == WAITING:
            decision.add(EventType.TICKET_VOIDED, {"ticket": number, "category": ticket.category, "why": why})
        return decision

    def decide_call_next(self, counter_id: str, staff_id: str, wall_time: str) -> Decision:
        self.rules.check_counter(counter_id)
        ticket = self._next_for(self._state_at(wall_time), counter_id)
        if ticket is None:
            raise QueueRefused("queue_empty", f"no ticket is waiting for counter {counter_id}")
        decision = Decision()
        decision.add(EventType.TICKET_CALLED, {"ticket": ticket.number, "counter_id": counter_id,
                                       "staff_id": staff_id, "category": ticket.category})
        return decision

    def _serving_or_refuse(self, counter_id: str, wall_time: str) -> Ticket:
        self.rules.check_counter(counter_id)
        ticket = self.serving(counter_id, wall_time)
        if ticket is None:
            raise QueueRefused("nothing_serving", f"counter {counter_id} has no called ticket")
        return ticket

    def decide_recall(self, counter_id: str, staff_id: str, wall_time: str) -> Decision:
        """Call the counter's ticket again; after `no_show_after_recalls` recalls it is a no-show."""
        ticket = self._serving_or_refuse(counter_id, wall_time)
        data = {"ticket": ticket.number, "counter_id": counter_id, "staff_id": staff_id}
        decision = Decision()
        if ticket.recalls >= self.rules.no_show_after_recalls:
            decision.add(EventType.TICKET_NO_SHOW, {**data, "recalls": ticket.recalls})
        else:
            decision.add(EventType.TICKET_RECALLED, data)
        return decision

    def decide_no_show(self, counter_id: str, staff_id: str, wall_time: str) -> Decision:
        ticket = self._serving_or_refuse(counter_id, wall_time)
        decision = Decision()
        decision.add(EventType.TICKET_NO_SHOW, {"ticket": ticket.number, "counter_id": counter_id,
                                        "staff_id": staff_id, "recalls": ticket.recalls})
        return decision

    def decide_transfer(self, counter_id: str, staff_id: str, wall_time: str, *,
                        to_counter: str | None = None, to_category: str | None = None) -> Decision:
        if (to_counter is None) == (to_category is None):
            raise QueueRefused("invalid", "give exactly one of to_counter and to_category")
        ticket = self._serving_or_refuse(counter_id, wall_time)
        data: dict[str, Any] = {"ticket": ticket.number, "from_counter": counter_id, "staff_id": staff_id}
        if to_counter is not None:
            self.rules.check_counter(to_counter)
            if to_counter == counter_id:
                raise QueueRefused("invalid", "a ticket cannot be transferred to its own counter")
            data["to_counter"] = to_counter
        else:
            self.rules.category(to_category)
            data["to_category"] = to_category
        decision = Decision()
        decision.add(EventType.TICKET_TRANSFERRED, data)
        return decision

    def decide_reprint(self, number: str, wall_time: str) -> Decision:
        ticket = self.ticket(number, wall_time)
        if ticket is None or ticket.status not in (WAITING, SERVING):
            raise QueueRefused("unknown_ticket", f"ticket {number} is not waiting or being served today")
        estimate = self.estimate_for(number, wall_time)
        decision = Decision()
        decision.add(EventType.TICKET_REPRINTED, {"ticket": number, "category": ticket.category,
                                          "waiting_ahead": estimate.waiting_ahead})
        return decision

    # --- applying committed events ----------------------------------------------------

    def apply(self, event_type: str, data: Mapping[str, Any], wall_time: str) -> None:
        if event_type not in QUEUE_EVENT_TYPES:
            return
        state = self._state_at(wall_time)
        self._today = state
        if event_type == EventType.TICKET_ISSUED:
            self._apply_issued(state, data, wall_time)
            return
        if event_type in (EventType.COUNTER_PAUSED, EventType.COUNTER_RESUMED,
                          EventType.QUEUE_COUNTER_OPENED, EventType.QUEUE_COUNTER_CLOSED):
            self._apply_counter_state(state, event_type, data)
            return
        ticket = state.tickets.get(data.get("ticket", ""))
        if ticket is None:   # a ticket of an earlier day, or one this machine never saw
            return
        if event_type == EventType.TICKET_CALLED:
            self._apply_called(state, ticket, data["counter_id"], wall_time)
        elif event_type == EventType.TICKET_RECALLED:
            ticket.recalls += 1
            self._remember_call(state, ticket.number, data["counter_id"], wall_time)
        elif event_type == EventType.TICKET_NO_SHOW:
            ticket.status = NO_SHOW
            self._release(state, ticket)
        elif event_type == EventType.TICKET_TRANSFERRED:
            self._release(state, ticket)
            state.leave_line(ticket, ticket.status)   # grouped by its old category, if waiting
            ticket.recalls = 0
            if "to_category" in data:
                ticket.category, ticket.counter = data["to_category"], None
                ticket.priority = ticket.priority or self._is_priority(data["to_category"])
            else:
                ticket.counter = data["to_counter"]
            state.enter_line(ticket)
        elif event_type == EventType.TICKET_VOIDED:
            if ticket.status == WAITING:
                state.leave_line(ticket, VOIDED)

    @staticmethod
    def _apply_counter_state(state: _Day, event_type: str, data: Mapping[str, Any]) -> None:
        counter = data["counter_id"]
        if event_type == EventType.COUNTER_PAUSED:
            # Only 结束营业 closes a counter; one on a break is still open for the dispenser.
            state.counter_open[counter] = data.get("reason") != CLOSING
        else:
            state.counter_open[counter] = event_type != EventType.QUEUE_COUNTER_CLOSED

    def _is_priority(self, letter: str) -> bool:
        return any(c.priority for c in self.rules.categories if c.letter == letter)

    def _apply_issued(self, state: _Day, data: Mapping[str, Any], wall_time: str) -> None:
        number, letter = data["ticket"], data["category"]
        ticket = state.tickets[number] = Ticket(number, letter, bool(data.get("priority")),
                                                len(state.tickets), wall_time, ref=str(data.get("ref") or ""))
        state.enter_line(ticket)
        state.next_number[letter] = max(state.next_number.get(letter, 1), number_of(number) + 1)

    def _apply_called(self, state: _Day, ticket: Ticket, counter_id: str, wall_time: str) -> None:
        moment = wall_seconds(wall_time)
        previous = state.serving.get(counter_id)
        if previous is not None:   # calling the next one means the last one was served
            state.tickets[previous].status = DONE
            gap = moment - state.last_call.get(counter_id, moment)
            if self.rules.min_service_s <= gap <= self.rules.max_service_s:
                state.service_samples.append(gap)
                while len(state.service_samples) > self.rules.service_samples:
                    state.service_samples.popleft()
        state.last_call[counter_id] = moment
        state.active_counters.add(counter_id)
        state.counter_open[counter_id] = True     # a counter that calls is open
        state.leave_line(ticket, SERVING)
        ticket.recalls = 0
        state.serving[counter_id] = ticket.number
        streak = state.priority_streak.get(counter_id, 0)
        state.priority_streak[counter_id] = streak + 1 if ticket.priority else 0
        self._remember_call(state, ticket.number, counter_id, wall_time)

    def _remember_call(self, state: _Day, number: str, counter_id: str, wall_time: str) -> None:
        calls = state.last_called
        for entry in [entry for entry in calls if entry[0] == number]:
            calls.remove(entry)
        calls.appendleft((number, counter_id, wall_time))
        while len(calls) > self.rules.last_called_kept:
            calls.pop()

    @staticmethod
    def _release(state: _Day, ticket: Ticket) -> None:
        for counter_id, number in list(state.serving.items()):
            if number == ticket.number:
                del state.serving[counter_id]

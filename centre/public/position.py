"""Where a ticket stands, from the queue host's events of its day: pure (events in, a Position out).

The host records every `ticket.*` event of its hall (docs/protocol-notes.md, issue 5), so the
ticket's own stream holds the line it waits in. A counter unit records `transaction.completed`
with the ticket it served; that ends the ticket here."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from protocol.events import EventType

WAITING, CALLED, DONE, NO_SHOW, VOIDED = "waiting", "called", "done", "no_show", "voided"
# The events that move a ticket in the host's line.
LINE_EVENT_TYPES = (EventType.TICKET_ISSUED, EventType.TICKET_CALLED, EventType.TICKET_RECALLED,
                    EventType.TICKET_NO_SHOW, EventType.TICKET_VOIDED, EventType.TICKET_TRANSFERRED)


@dataclass(frozen=True)
class HallEvent:
    """One stored event of the host's stream, as the page needs it."""
    seq: int
    type: str
    data: dict[str, Any]

    @classmethod
    def from_raw(cls, seq: int, type_: str, raw_json: str) -> "HallEvent":
        data = json.loads(raw_json).get("data")
        return cls(seq, type_, data if isinstance(data, dict) else {})


@dataclass
class _Line:
    category: str
    place: int                 # the issue's seq: the order of the day's line, kept through transfers
    status: str = WAITING
    counter: str | None = None


@dataclass(frozen=True)
class Position:
    ticket: str
    category: str
    priority: bool
    status: str                # WAITING, CALLED, DONE, NO_SHOW, VOIDED
    ahead: int                 # waiting before it in its category (0 once called)
    wait_min: int | None       # None: no estimate (nobody has been called yet to learn from)
    counter: str | None        # the window it was called to


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def fold_line(day_events: Iterable[HallEvent]) -> dict[str, _Line]:
    """The hall's line after the host's `day_events` (its stream's line events of one business
    day, in seq order): every ticket of the day by number."""
    line: dict[str, _Line] = {}
    serving: dict[str, str] = {}   # counter → the ticket it called last
    for event in day_events:
        ticket = text(event.data.get("ticket"))
        if ticket is None:
            continue
        if event.type == EventType.TICKET_ISSUED:
            if ticket not in line:    # a number is issued once a day; a repeat is not a new place
                line[ticket] = _Line(text(event.data.get("category")) or ticket[:1], event.seq)
            continue
        held = line.get(ticket)
        if held is None:
            continue
        if event.type in (EventType.TICKET_CALLED, EventType.TICKET_RECALLED):
            counter = text(event.data.get("counter_id"))
            before = line.get(serving.get(counter, ""))
            if event.type == EventType.TICKET_CALLED and before is not None and before is not held \
                    and before.status == CALLED and before.counter == counter:
                before.status = DONE   # as at the unit: calling the next one means the last was served
            held.status, held.counter = CALLED, counter
            if counter is not None:
                serving[counter] = ticket
        elif event.type == EventType.TICKET_NO_SHOW:
            held.status = NO_SHOW
        elif event.type == EventType.TICKET_VOIDED:
            held.status = VOIDED
        elif event.type == EventType.TICKET_TRANSFERRED:
            held.status, held.counter = WAITING, text(event.data.get("to_counter"))
            held.category = text(event.data.get("to_category")) or held.category
    return line


def follow(issued: HallEvent, line: Mapping[str, _Line], completed_at_counter: Iterable[str]) -> Position:
    """The ticket issued by `issued` in the day's `line` (fold_line; not changed here);
    `completed_at_counter`: the counters at which a transaction of this ticket was completed
    after it was issued."""
    number = text(issued.data.get("ticket")) or "?"
    own = line.get(number) or _Line(text(issued.data.get("category")) or number[:1], issued.seq)
    status = own.status
    if status == CALLED and own.counter in set(completed_at_counter):
        status = DONE
    ahead = 0
    if status == WAITING:
        ahead = sum(1 for other in line.values() if other.status == WAITING and other.place < own.place
                    and other.category == own.category and other.counter in (None, own.counter))
    return Position(number, own.category, issued.data.get("priority") is True, status, ahead,
                    _estimate(issued.data, ahead) if status == WAITING else None, own.counter)


def _estimate(issued: dict[str, Any], ahead: int) -> int | None:
    """The minutes the ticket promised, scaled to the people still ahead of it."""
    if ahead == 0:
        return 0
    promised, then_ahead = issued.get("estimated_wait_min"), issued.get("waiting_ahead")
    if type(promised) is not int or type(then_ahead) is not int or promised <= 0 or then_ahead <= 0:
        return None
    return math.ceil(promised * ahead / then_ahead)

"""What the queue adds to the screen: the dispenser (its keys with the waiting counts, the number
just taken or why none was, a printer problem, 今日已停止取号 for the categories no open counter
calls), and the number a counter serves on its staff card."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from drivers.printer import PrinterStatus
from kiosk.queue.machine import STOPPED_AFTER_HOURS, QueueRules
from kiosk.screens.views import (Dispenser, Idle, IssuedTicket, NotSignedIn, Paused, TicketOption,
                                 TicketsStopped, View, printer_problem_label)

TICKET_FEEDBACK_S = 6.0        # how long the dispenser shows the number just taken (or why not)
TICKET_KEYS = 5


class QueueScreen:
    def __init__(self, rules: QueueRules, role: str, centre_name: str) -> None:
        self._categories = rules.categories
        self._role = role
        self._centre_name = centre_name
        # What the dispenser shows; refreshed after each queue action, not on every commit, so no
        # frame is drawn between a key press and its ticket reaching the printer.
        self._shown: dict[str, Any] = {"waiting": {}, "surge": False, "stopped": {}}
        self._feedback_until = float("-inf")
        self._issued: IssuedTicket | None = None
        self._problem: str | None = None
        self._stopped: TicketsStopped | None = None

    def publish(self, snapshot: dict[str, Any]) -> None:
        self._shown = {"waiting": snapshot["waiting"], "surge": snapshot["surge"],
                       "stopped": snapshot.get("stopped", {})}

    def show_feedback(self, now: float, *, issued: IssuedTicket | None = None, problem: str | None = None,
                      stopped: TicketsStopped | None = None) -> None:
        self._feedback_until = now + TICKET_FEEDBACK_S
        self._issued, self._problem, self._stopped = issued, problem, stopped

    def stopped_notice(self, letter: str, why: str, stopped: dict[str, str]) -> TicketsStopped:
        """What a citizen who pressed a stopped category is told: the whole dispenser has stopped,
        or this category has and these still take tickets."""
        open_names = tuple(c.name for c in self._categories[:TICKET_KEYS] if c.letter not in stopped)
        if not open_names:
            return TicketsStopped(after_hours=why == STOPPED_AFTER_HOURS)
        name = next(c.name for c in self._categories if c.letter == letter)
        return TicketsStopped(name, open_names)

    def end_feedback(self) -> None:
        """Staff at this unit's counter take the screen back from the dispenser's message."""
        self._feedback_until = float("-inf")

    def _dispenser(self, now: float, printer: PrinterStatus | None, complaint_phone: str) -> Dispenser:
        fresh = now < self._feedback_until
        issued = self._issued if fresh else None
        problem = self._problem if fresh else None
        stopped = self._stopped if fresh else None
        shown_stopped = self._shown["stopped"]
        options = tuple(TicketOption(key, category.name, self._shown["waiting"].get(category.letter, 0),
                                     open=category.letter not in shown_stopped)
                        for key, category in enumerate(self._categories[:TICKET_KEYS], start=1))
        if issued is None and stopped is None and not any(option.open for option in options):
            # No key takes a ticket: say so for good, not only when someone presses.
            stopped = TicketsStopped(after_hours=STOPPED_AFTER_HOURS in shown_stopped.values())
        if issued is None and problem is None and stopped is None and printer is not None and not printer.ready:
            problem = printer_problem_label(printer.state)
        return Dispenser(self._centre_name, options, self._shown["surge"], problem, issued, complaint_phone,
                         stopped)

    def compose(self, base: View, now: float, *, serving: str | None, offline: bool,
                printer: PrinterStatus | None, complaint_phone: str) -> View:
        """The queue's part of the screen: the dispenser, or the counter's number on its card."""
        if self._role == "dispenser":
            return self._dispenser(now, printer, complaint_phone)
        if self._role == "both" and now < self._feedback_until and isinstance(base, Idle | NotSignedIn | Paused):
            return self._dispenser(now, printer, complaint_phone)
        if isinstance(base, Idle):
            if base.card.serving_ticket != serving or base.card.queue_offline != offline:
                return Idle(replace(base.card, serving_ticket=serving, queue_offline=offline))
        return base

"""What the queue adds to the screen: the dispenser (its keys with the waiting counts, the number
just taken or why none was, a printer problem), and the number a counter serves on its staff card."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from drivers.printer import PrinterStatus
from kiosk.queue.machine import QueueRules
from kiosk.screens.views import (Dispenser, Idle, IssuedTicket, NotSignedIn, Paused, TicketOption, View,
                                 printer_problem_label)

TICKET_FEEDBACK_S = 6.0        # how long the dispenser shows the number just taken (or why not)
TICKET_KEYS = 5


class QueueScreen:
    def __init__(self, rules: QueueRules, role: str, centre_name: str) -> None:
        self._categories = rules.categories
        self._role = role
        self._centre_name = centre_name
        # What the dispenser shows; refreshed after each queue action, not on every commit, so no
        # frame is drawn between a key press and its ticket reaching the printer.
        self._shown: dict[str, Any] = {"waiting": {}, "surge": False}
        self._feedback_until = float("-inf")
        self._issued: IssuedTicket | None = None
        self._problem: str | None = None

    def publish(self, snapshot: dict[str, Any]) -> None:
        self._shown = {"waiting": snapshot["waiting"], "surge": snapshot["surge"]}

    def show_feedback(self, now: float, *, issued: IssuedTicket | None = None, problem: str | None = None) -> None:
        self._feedback_until = now + TICKET_FEEDBACK_S
        self._issued, self._problem = issued, problem

    def end_feedback(self) -> None:
        """Staff at this unit's counter take the screen back from the dispenser's message."""
        self._feedback_until = float("-inf")

    def _dispenser(self, now: float, printer: PrinterStatus | None, complaint_phone: str) -> Dispenser:
        fresh = now < self._feedback_until
        issued = self._issued if fresh else None
        problem = self._problem if fresh else None
        if issued is None and problem is None and printer is not None and not printer.ready:
            problem = printer_problem_label(printer.state)
        options = tuple(TicketOption(key, category.name, self._shown["waiting"].get(category.letter, 0))
                        for key, category in enumerate(self._categories[:TICKET_KEYS], start=1))
        return Dispenser(self._centre_name, options, self._shown["surge"], problem, issued, complaint_phone)

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

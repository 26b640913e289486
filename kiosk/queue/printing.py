"""The unit's printer as the queue sees it: its status (polled, and asked again before each job),
the `printer.status` events that record a change of paper or online state, and jobs sent in a
worker thread. Only this module talks to the printer driver."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from drivers.printer import NO_PRINTER, NoPrinter, Printer, PrinterError, PrinterStatus
from kiosk.decision import Decision
from kiosk.refusals import QueueRefused
from protocol.events import EventType

log = logging.getLogger(__name__)

# A working printer is the baseline: the log records problems and recoveries, not every start-up;
# the live state is in the health report.
PRINTER_BASELINE = ("ok", True)

Commit = Callable[[Decision], Awaitable[list[dict[str, Any]]]]


def _warm_up_escpos(profile: str) -> None:
    """Import python-escpos and load the profile once (half a second), so the first ticket of the
    day does not pay for it."""
    from escpos.printer import Dummy

    Dummy(profile=profile)


def not_ready(status: PrinterStatus, consequence: str = "") -> QueueRefused:
    return QueueRefused("printer_unavailable", f"printer {status.state}{consequence}"
                        + (f" ({status.detail})" if status.detail else ""), why=status.state)


class PrinterWatch:
    def __init__(self, printer: Printer, commit: Commit, wall_time: Callable[[], str]) -> None:
        self.printer = printer
        self._commit = commit
        self._wall_time = wall_time
        self.status: PrinterStatus | None = None
        self._checked_at: str | None = None
        self._recorded: tuple[str, bool] = PRINTER_BASELINE   # the last (paper, online) recorded

    @property
    def present(self) -> bool:
        return self.printer.kind != NoPrinter.kind

    def replay(self, last_status: dict[str, Any] | None) -> None:
        """The last `printer.status` in the log (None: none since the log began)."""
        if last_status is not None:
            self._recorded = (last_status.get("paper", "unknown"), bool(last_status.get("online")))

    async def warm_up(self, profile: str) -> None:
        try:
            await asyncio.to_thread(_warm_up_escpos, profile)
        except Exception as error:   # the config checked the name; anything else shows at print
            log.error("python-escpos cannot load printer profile: %s", error)

    async def check(self, events: list[dict[str, Any]] | None = None) -> PrinterStatus:
        """Ask the printer now; a change of paper or online state is recorded (printer.status) and
        its event added to `events`."""
        status = await asyncio.to_thread(self.printer.status)
        self.status = status
        self._checked_at = self._wall_time()
        if status.state != NO_PRINTER and (status.paper, status.online) != self._recorded:
            decision = Decision()
            decision.add(EventType.PRINTER_STATUS, {"paper": status.paper, "online": status.online})
            committed = await self._commit(decision)
            if events is not None:
                events += committed
            self._recorded = (status.paper, status.online)
            if not status.ready:
                log.warning("printer not ready: %s %s", status.state, status.detail)
        return status

    async def send(self, job: bytes) -> None:
        try:
            await asyncio.to_thread(self.printer.send, job)
        except PrinterError:
            await self.check()   # paper may have run out part-way: say so at once
            raise

    async def ready_or_refuse(self) -> PrinterStatus:
        status = await self.check()
        if not status.ready:
            raise not_ready(status)
        return status

    async def send_or_refuse(self, job: bytes) -> None:
        try:
            await self.send(job)
        except PrinterError as error:
            raise QueueRefused("print_failed", f"the print did not complete: {error}") from None

    async def close(self) -> None:
        await asyncio.to_thread(self.printer.close)

    def health(self) -> dict[str, Any]:
        status = self.status
        return {"kind": self.printer.kind, "state": status.state if status else None,
                "paper": status.paper if status else "unknown", "online": status.online if status else False,
                "detail": status.detail if status else None, "checked_at": self._checked_at}

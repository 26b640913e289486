"""Queue and printing wiring: the queue machine, the printer, the dispenser keys, the line to a
remote queue host, and what the screen and the voice make of them.

The data walks the same way as for ratings: input → `kiosk.queue` decides → the event store
commits (durable) → the machine folds the committed events (an event listener on the app) →
printer, screen and voice. A ticket number is committed before a single byte of it is printed,
so a number on paper is always in the store; a print that fails is voided at once, so a number
that never reached paper is never called.

One asyncio.Lock here keeps queue inputs in order (a ticket being printed cannot be called
before its print has succeeded or been voided). Commits go through the app, under its own input
lock, so queue events and rating events share one gap-free log; printer and LAN I/O run in
worker threads and never hold the app's lock, so rating keys stay quick while a ticket prints.

A unit with `queue.host_url` keeps no queue: it asks the host through the host's API, learns the
ticket its counter serves from the host, and shows 叫号服务不可用 while the host does not answer.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Hashable

from drivers.printer import NO_PRINTER, NoPrinter, PrinterError, PrinterStatus

from kiosk.queue.machine import (QUEUE_EVENT_TYPES, Category, Estimate, KeyLockout, QueueMachine,
                    QueueRules, call_clips)
from kiosk.queue.host_link import QueueHostClient, QueueHostUnreachable
from kiosk.decision import Decision
from kiosk.refusals import QueueRefused, Unavailable
from kiosk.tickets.service_items import current_service_items
from kiosk.tickets.layouts import NoticeText, PrintSetup, TicketText, notice_job, ticket_job
from kiosk.screens.views import (TICKET_VOIDED_LABEL, Dispenser, Idle, IssuedTicket, NotSignedIn, Paused, TicketOption,
                    View, printer_problem_label)

if TYPE_CHECKING:
    from kiosk.app import KioskApp
    from kiosk.config import Settings

log = logging.getLogger(__name__)

TICKET_FEEDBACK_S = 6.0        # how long the dispenser shows the number just taken (or why not)
TICKET_KEYS = 5
QUEUE_STAFF_ACTIONS = ("call_next", "recall", "no_show")
DAY_START_META = "queue_day_start_seq"   # replay starts here: the event before today's first
PRINTER_BASELINE = ("ok", True)
CALL_REPEATS = 2               # "请 A023 号 到 3 号窗口" is said twice


@dataclass(frozen=True)
class TicketKey:
    """Keypad id of the dispenser's ticket key `index` (1 = leftmost)."""
    index: int


@dataclass(frozen=True)
class Served:
    ticket: str
    category: str
    category_name: str


def queue_rules(settings: "Settings") -> QueueRules:
    queue = settings.queue
    return QueueRules(
        categories=tuple(Category(c.letter, c.name, c.priority) for c in queue.categories),
        counters={counter: frozenset(letters) for counter, letters in queue.counters.items()},
        priority_interleave=queue.priority_interleave,
        reset_minutes=queue.reset_minutes,
        no_show_after_recalls=queue.no_show_after_recalls,
        surge_wait_s=queue.surge_wait_min * 60,
        service_samples=queue.service_time_samples,
        default_service_s=queue.default_service_min * 60,
    )


def ticket_key_pins(settings: "Settings") -> dict[Hashable, int]:
    return {TicketKey(index): pin for index, pin in enumerate(settings.keys.ticket_pins, start=1)}


def _warm_up_escpos(profile: str) -> None:
    """Import python-escpos and load the profile once (half a second), so the first ticket of the
    day does not pay for it."""
    from escpos.printer import Dummy

    Dummy(profile=profile)


class QueueService:
    def __init__(self, app: "KioskApp") -> None:
        self._app = app
        settings = app.settings
        self._settings = settings
        self._counter = settings.unit.counter_id
        self.rules = queue_rules(settings)
        self.machine = QueueMachine(self.rules)
        self._names = {c.letter: c.name for c in self.rules.categories}
        self._setup = PrintSetup(settings.printer.paper_width_mm, settings.printer.encoding,
                                 settings.printer.profile, settings.unit.centre_name,
                                 settings.complaint_phone)
        self.has_ticket_keys = settings.unit.role in ("dispenser", "both")
        queue = settings.queue
        self._host = (QueueHostClient(queue.host_url, queue.host_token or settings.api.token,
                                      queue.host_timeout_s) if queue.host_url else None)
        self._lock = asyncio.Lock()
        self._lockout = KeyLockout(queue.lockout_s)
        self._tasks: list[asyncio.Task] = []
        # What the dispenser screen shows; refreshed after each queue action, not on every commit,
        # so no frame is drawn between a key press and its ticket reaching the printer.
        self._shown: dict[str, Any] = {"waiting": {}, "surge": False}
        self._feedback_until = float("-inf")
        self._feedback_issued: IssuedTicket | None = None
        self._feedback_problem: str | None = None
        self._printer_status: PrinterStatus | None = None
        self._printer_checked_at: str | None = None
        # The last (paper, online) recorded. A working printer is the baseline: the log records
        # problems and recoveries, not every start-up; the live state is in the health report.
        self._recorded_printer: tuple[str, bool] = PRINTER_BASELINE
        self._day_start_seq: int | None = None
        # Remote counters only: what the host last said.
        self._link_ok: bool | None = None
        self._link_error: str | None = None
        self._host_snapshot: dict[str, Any] | None = None
        self._remote_serving: Served | None = None
        app.add_event_listener(self._on_committed)

    @property
    def printer(self) -> Any:
        return self._app.devices.printer or NoPrinter()

    @property
    def is_host(self) -> bool:
        return self._host is None

    def is_ticket_key(self, key_id: Hashable) -> bool:
        return isinstance(key_id, TicketKey)

    # --- life cycle ----------------------------------------------------------------------

    async def replay(self, store: Any) -> None:
        """Rebuild the queue from today's `ticket.*` events, and the last recorded printer status."""
        self.machine = QueueMachine(self.rules)
        after = int(await store.get_meta(DAY_START_META) or 0)
        while True:
            events = await store.read(after, 1000, types=QUEUE_EVENT_TYPES)
            if not events:
                break
            for event in events:
                self.machine.apply(event["type"], event["data"], event["wall_time"])
            after = events[-1]["seq"]
        self._day_start_seq = None
        seq = await store.latest_seq(["printer.status"])
        if seq:
            data = (await store.read(seq - 1, 1))[0]["data"]
            self._recorded_printer = (data.get("paper", "unknown"), bool(data.get("online")))
        self._publish()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.printer.kind != NoPrinter.kind:
            self._tasks.append(loop.create_task(self._watch_printer(), name="printer-status"))
        if self._host is not None:
            self._tasks.append(loop.create_task(self._watch_host(), name="queue-host"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.to_thread(self.printer.close)
        if self._host is not None:   # waits for a request still in flight (at most its timeout)
            await asyncio.to_thread(self._host.close)

    def _on_committed(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] in QUEUE_EVENT_TYPES:
                day = self.machine.day
                self.machine.apply(event["type"], event["data"], event["wall_time"])
                if self.machine.day != day:
                    self._day_start_seq = event["seq"] - 1

    async def _commit(self, decision: Decision) -> list[dict[str, Any]]:
        events = await self._app.commit_events(decision.events)
        if self._day_start_seq is not None and self._app.store is not None:
            seq, self._day_start_seq = self._day_start_seq, None
            try:  # only speeds up the replay after a restart; the log itself is the truth
                await self._app.store.set_meta(DAY_START_META, str(seq))
            except Exception as error:
                log.warning("could not note where today's queue starts: %s", error)
        return events

    def _wall(self) -> str:
        return self._app.clock.wall_time()

    # --- the printer ---------------------------------------------------------------------

    async def _watch_printer(self) -> None:
        warmed_up = False
        while True:
            async with self._lock:
                try:
                    await self._check_printer()
                except Unavailable:
                    pass
            self._app.refresh_screen()
            if not warmed_up:
                warmed_up = True
                try:
                    await asyncio.to_thread(_warm_up_escpos, self._settings.printer.profile)
                except Exception as error:   # the config checked the name; anything else shows at print
                    log.error("python-escpos cannot load printer profile: %s", error)
            await asyncio.sleep(self._settings.printer.poll_s)

    async def _check_printer(self, events: list[dict[str, Any]] | None = None) -> PrinterStatus:
        """Ask the printer now; a change of paper or online state is recorded (printer.status) and
        its event added to `events`."""
        status = await asyncio.to_thread(self.printer.status)
        self._printer_status = status
        self._printer_checked_at = self._wall()
        if status.state != NO_PRINTER and (status.paper, status.online) != self._recorded_printer:
            decision = Decision()
            decision.add("printer.status", {"paper": status.paper, "online": status.online})
            committed = await self._commit(decision)
            if events is not None:
                events += committed
            self._recorded_printer = (status.paper, status.online)
            if not status.ready:
                log.warning("printer not ready: %s %s", status.state, status.detail)
        return status

    async def _print(self, job: bytes) -> None:
        try:
            await asyncio.to_thread(self.printer.send, job)
        except PrinterError:
            await self._check_printer()   # paper may have run out part-way: say so at once
            raise

    # --- tickets -------------------------------------------------------------------------

    async def press_ticket_key(self, key: TicketKey | int, at: float | None = None) -> list[str]:
        """A dispenser key went down; answers the types of the events it committed. A press is
        never an error to the citizen: lockout, paper out and storage faults show on the screen."""
        index = key.index if isinstance(key, TicketKey) else key
        at = self._app.clock.monotonic() if at is None else at
        if not self.has_ticket_keys or not 1 <= index <= len(self.rules.categories):
            return []
        letter = self.rules.categories[index - 1].letter
        async with self._lock:
            if not self._lockout.accept(at):
                return []
            events: list[dict[str, Any]] = []
            try:
                await self._issue(letter, events, at_the_keys=True)
            except (QueueRefused, Unavailable) as refused:
                log.info("ticket key %d: %s", index, refused)
            return [event["type"] for event in events]

    async def issue_ticket(self, letter: str) -> dict[str, Any]:
        """POST /v1/tickets: the issued ticket, or QueueRefused (503 printer_unavailable: no number
        used; 503 print_failed: the number was voided)."""
        if not self.is_host:
            raise self._not_host()
        self.rules.category(letter)
        async with self._lock:
            return await self._issue(letter, [], at_the_keys=False)

    async def _issue(self, letter: str, events: list[dict[str, Any]], *, at_the_keys: bool) -> dict[str, Any]:
        """Check the printer, commit the number, print it (or void it). The screen answers only
        the citizen at the keys; a ticket issued through the API was asked for elsewhere."""
        show = self._show_feedback if at_the_keys else self._show_nothing
        status = await self._check_printer(events)
        if not status.ready:
            events += await self._commit(self.machine.decide_print_failed(letter, status.state))
            show(problem=printer_problem_label(status.state))
            raise QueueRefused("printer_unavailable", f"printer {status.state}: no number was used"
                               + (f" ({status.detail})" if status.detail else ""), why=status.state)
        # Durable before printing: a number on paper is always in the log.
        issued = (await self._commit(self.machine.decide_issue(letter, self._wall())))[-1]
        events.append(issued)
        data = issued["data"]
        estimate = Estimate(data["waiting_ahead"], data["estimated_wait_min"] * 60, data["surge"])
        text = self._ticket_text(data["ticket"], letter, data["priority"], issued["wall_time"], estimate)
        try:
            await self._print(ticket_job(self._setup, text))
        except PrinterError as error:
            log.error("ticket %s did not print (%s); voiding it", data["ticket"], error)
            events += await self._commit(self.machine.decide_void(data["ticket"], "print_failed", self._wall()))
            show(problem=TICKET_VOIDED_LABEL)
            raise QueueRefused("print_failed", f"ticket {data['ticket']} did not print and was "
                               "voided; it will never be called", ticket=data["ticket"]) from None
        show(issued=IssuedTicket(data["ticket"], self._names[letter], data["waiting_ahead"],
                                 data["estimated_wait_min"]))
        return {"ticket": data["ticket"], "category": letter, "priority": data["priority"],
                "waiting_ahead": data["waiting_ahead"], "estimated_wait_min": data["estimated_wait_min"],
                "surge": data["surge"], "issued_at": issued["wall_time"]}

    def _ticket_text(self, number: str, letter: str, priority: bool, issued_at: str, estimate: Estimate,
                     *, reprint: bool = False) -> TicketText:
        template = self._settings.printer.qr_url
        qr = template.format(ticket=number, date=issued_at[:10], category=letter,
                             unit=self._settings.unit.id) if template else ""
        return TicketText(number, self._names[letter], priority, issued_at, estimate.waiting_ahead,
                          estimate.wait_min, estimate.surge, qr, reprint)

    async def reprint(self, number: str) -> dict[str, Any]:
        """Print a waiting (or called) ticket again, with today's wait; `ticket.reprinted`."""
        if not self.is_host:
            raise self._not_host()
        async with self._lock:
            wall = self._wall()
            decision = self.machine.decide_reprint(number, wall)
            ticket = self.machine.ticket(number, wall)
            await self._ready_printer_or_refuse()
            text = self._ticket_text(number, ticket.category, ticket.priority, ticket.issued_at,
                                     self.machine.estimate_for(number, wall), reprint=True)
            await self._print_or_refuse(ticket_job(self._setup, text))
            await self._commit(decision)
        return {"ticket": number, "category": ticket.category, "waiting_ahead": text.waiting_ahead}

    async def _ready_printer_or_refuse(self) -> None:
        status = await self._check_printer()
        if not status.ready:
            raise QueueRefused("printer_unavailable", f"printer {status.state}"
                               + (f" ({status.detail})" if status.detail else ""), why=status.state)

    async def _print_or_refuse(self, job: bytes) -> None:
        try:
            await self._print(job)
        except PrinterError as error:
            raise QueueRefused("print_failed", f"the print did not complete: {error}") from None

    # --- 一次性告知清单 --------------------------------------------------------------------

    async def print_notice(self, code: str, copies: int | None = None) -> dict[str, Any]:
        staff_id = self._app.machine.staff_id
        if staff_id is None:
            raise QueueRefused("not_signed_in", "sign in before printing a 一次性告知清单")
        items, source = await asyncio.to_thread(current_service_items, self._settings.state_dir)
        item = items.get(code)
        if item is None:
            raise QueueRefused("unknown_item", f"no service item {code!r} in the {source} list")
        copies = copies or self._settings.printer.notice_copies
        notice = NoticeText(item.code, item.name, item.category, item.time_limit, item.materials,
                            self._counter, self._wall()[:10])
        async with self._lock:
            await self._ready_printer_or_refuse()
            await self._print_or_refuse(notice_job(self._setup, notice, copies))
            decision = Decision()
            decision.add("notice.printed", {"service_item": code, "counter_id": self._counter,
                                            "staff_id": staff_id, "copies": copies})
            await self._commit(decision)
        return {"service_item": code, "name": item.name, "copies": copies, "source": source}

    # --- calling -------------------------------------------------------------------------

    async def act(self, action: str, counter_id: str | None = None, staff_id: str | None = None,
                  **target: str | None) -> dict[str, Any]:
        """call_next, recall, no_show or transfer (target: to_counter or to_category) for this
        unit's counter (staff from its sign-in), or, on the host, for a counter given with its staff."""
        own = counter_id in (None, self._counter)
        if own:
            counter_id = self._counter
            staff_id = self._app.machine.staff_id
            if staff_id is None:
                raise QueueRefused("not_signed_in", "sign in before calling tickets")
            if self._app.machine.paused:
                raise QueueRefused("paused", "the counter is paused (暂停服务); resume it first")
        elif not self.is_host:
            raise self._not_host()
        elif not staff_id:
            raise QueueRefused("invalid", "staff_id is required when acting for another counter",
                               field="staff_id")
        async with self._lock:
            if self.is_host:
                result = await self._act_here(action, counter_id, staff_id, target)
            else:
                result = await self._act_on_host(action, counter_id, staff_id, target)
        if own:   # staff at this unit's counter take the screen back from the dispenser's message
            self._feedback_until = float("-inf")
        if own and result["event"] in ("ticket.called", "ticket.recalled"):
            speaker = self._app.devices.speaker
            for clip in call_clips(result["ticket"], counter_id) * CALL_REPEATS:
                speaker.say(clip)
        self._publish()
        self._app.refresh_screen()
        return result

    async def _act_here(self, action: str, counter_id: str, staff_id: str,
                        target: dict[str, str | None]) -> dict[str, Any]:
        wall = self._wall()
        machine = self.machine
        if action == "call_next":
            decision = machine.decide_call_next(counter_id, staff_id, wall)
        elif action == "recall":
            decision = machine.decide_recall(counter_id, staff_id, wall)
        elif action == "no_show":
            decision = machine.decide_no_show(counter_id, staff_id, wall)
        elif action == "transfer":
            decision = machine.decide_transfer(counter_id, staff_id, wall, **target)
        else:
            raise ValueError(f"unknown queue action {action!r}")
        event = (await self._commit(decision))[-1]
        number = event["data"]["ticket"]
        ticket = machine.ticket(number, event["wall_time"])
        return {"ticket": number, "category": ticket.category, "counter_id": counter_id,
                "event": event["type"], **{k: v for k, v in target.items() if v is not None}}

    async def _act_on_host(self, action: str, counter_id: str, staff_id: str,
                           target: dict[str, str | None]) -> dict[str, Any]:
        path = "/v1/queue/" + action.replace("_", "-")
        body = {"counter_id": counter_id, "staff_id": staff_id,
                **{k: v for k, v in target.items() if v is not None}}
        result = await self._ask_host("POST", path, body)
        if result.get("event") in ("ticket.called", "ticket.recalled"):
            self._remote_serving = self._served(result["ticket"], result.get("category", ""))
        elif result.get("ticket") == (self._remote_serving.ticket if self._remote_serving else None):
            self._remote_serving = None
        return result

    async def snapshot(self) -> dict[str, Any]:
        """GET /v1/queue: from the machine here, or from the host."""
        if self.is_host:
            return self.machine.snapshot(self._wall())
        async with self._lock:
            snapshot = await self._ask_host("GET", "/v1/queue")
            self._learn_from_host(snapshot)
        self._app.refresh_screen()
        return snapshot

    async def staff_key(self, action: str) -> None:
        try:
            await self.act(action)
        except (QueueRefused, Unavailable) as refused:
            log.info("staff key %s refused: %s", action, refused)

    def _not_host(self) -> QueueRefused:
        return QueueRefused("not_queue_host", f"this unit's queue is kept by {self._host.base_url}; "
                            "tickets are issued there")

    # --- the queue host, from a counter ---------------------------------------------------

    async def _ask_host(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            answer = await asyncio.to_thread(self._host.request, method, path, body)
        except QueueHostUnreachable as error:
            self._set_link(False, str(error))
            raise QueueRefused("queue_host_unreachable", f"叫号服务不可用: {error}") from None
        except QueueRefused:
            self._set_link(True)
            raise
        self._set_link(True)
        return answer

    def _set_link(self, ok: bool, error: str | None = None) -> None:
        if ok != self._link_ok:
            (log.info if ok else log.warning)("queue host %s %s", self._host.base_url,
                                             "answers" if ok else f"unavailable: {error}")
            self._link_ok = ok
            self._app.refresh_screen()
        self._link_error = error

    def _learn_from_host(self, snapshot: dict[str, Any]) -> None:
        self._host_snapshot = snapshot
        number = (snapshot.get("serving") or {}).get(self._counter)
        if number is None:
            self._remote_serving = None
        elif self._remote_serving is None or self._remote_serving.ticket != number:
            category = (snapshot.get("serving_categories") or {}).get(self._counter, "")
            self._remote_serving = self._served(number, category)

    async def _watch_host(self) -> None:
        while True:
            async with self._lock:
                try:
                    self._learn_from_host(await self._ask_host("GET", "/v1/queue"))
                except QueueRefused as refused:
                    log.debug("queue host poll: %s", refused)
            self._app.refresh_screen()
            await asyncio.sleep(self._settings.queue.host_poll_s)

    # --- what this counter serves ---------------------------------------------------------

    def _served(self, number: str, category: str) -> Served:
        return Served(number, category, self._names.get(category, ""))

    def serving(self) -> Served | None:
        """The ticket this unit's counter is serving now, as the queue (here or on the host) has it."""
        if not self.is_host:
            return self._remote_serving
        ticket = self.machine.serving(self._counter, self._wall())
        return self._served(ticket.number, ticket.category) if ticket else None

    def serving_ticket(self) -> str | None:
        served = self.serving()
        return served.ticket if served else None

    # --- screen ---------------------------------------------------------------------------

    def _publish(self) -> None:
        if self.is_host and self.has_ticket_keys:
            snapshot = self.machine.snapshot(self._wall())
            self._shown = {"waiting": snapshot["waiting"], "surge": snapshot["surge"]}

    def _show_feedback(self, *, issued: IssuedTicket | None = None, problem: str | None = None) -> None:
        self._feedback_until = self._app.clock.monotonic() + TICKET_FEEDBACK_S
        self._feedback_issued, self._feedback_problem = issued, problem
        self._publish()
        self._app.refresh_screen()

    def _show_nothing(self, *, issued: IssuedTicket | None = None, problem: str | None = None) -> None:
        self._publish()   # the waiting counts still change
        self._app.refresh_screen()

    def _dispenser(self, now: float) -> Dispenser:
        fresh = now < self._feedback_until
        issued = self._feedback_issued if fresh else None
        problem = self._feedback_problem if fresh else None
        status = self._printer_status
        if issued is None and problem is None and status is not None and not status.ready:
            problem = printer_problem_label(status.state)
        options = tuple(TicketOption(key, category.name, self._shown["waiting"].get(category.letter, 0))
                        for key, category in enumerate(self.rules.categories[:TICKET_KEYS], start=1))
        return Dispenser(self._settings.unit.centre_name, options, self._shown["surge"], problem, issued,
                         self._setup.complaint_phone)

    def use_complaint_phone(self, phone: str) -> None:
        """The centre's bundle may carry another complaint line than the config: print and show it."""
        self._setup = replace(self._setup, complaint_phone=phone)

    def view(self, base: View, now: float) -> View:
        """The queue's part of the screen: the dispenser, or the counter's number on its card."""
        role = self._settings.unit.role
        if role == "dispenser":
            return self._dispenser(now)
        if role == "both" and now < self._feedback_until and isinstance(base, Idle | NotSignedIn | Paused):
            return self._dispenser(now)
        if isinstance(base, Idle):
            serving = self.serving_ticket()
            offline = self._link_ok is False
            if base.card.serving_ticket != serving or base.card.queue_offline != offline:
                return Idle(replace(base.card, serving_ticket=serving, queue_offline=offline))
        return base

    # --- health ---------------------------------------------------------------------------

    def printer_health(self) -> dict[str, Any]:
        status = self._printer_status
        return {"kind": self.printer.kind, "state": status.state if status else None,
                "paper": status.paper if status else "unknown", "online": status.online if status else False,
                "detail": status.detail if status else None, "checked_at": self._printer_checked_at}

    def health(self) -> dict[str, Any]:
        """For GET /v1/state and the centre's health report: is the hall in a surge?"""
        if not self.is_host:
            snapshot = self._host_snapshot or {}
            return {"mode": "remote", "host_url": self._host.base_url,
                    "link": {True: "ok", False: "down", None: "unknown"}[self._link_ok],
                    "error": self._link_error, "surge": bool(snapshot.get("surge")),
                    "waiting": sum((snapshot.get("waiting") or {}).values()),
                    "serving": self.serving_ticket()}
        snapshot = self.machine.snapshot(self._wall())
        return {"mode": "host", "day": snapshot["day"], "surge": snapshot["surge"],
                "waiting": sum(snapshot["waiting"].values()), "waiting_by_category": snapshot["waiting"],
                "estimated_wait_min": snapshot["estimated_wait_min"], "serving": self.serving_ticket()}

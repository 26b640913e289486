"""The queue on a unit: tickets from the dispenser keys, calls for counters, reprints and the
一次性告知清单, wired to a queue backend (here or on the hall's queue host), the printer, the
screen and the voice.

The data walks the same way as for ratings: input → `kiosk.queue.machine` decides → the event
store commits (durable) → the machine folds the committed events (an event listener on the unit) →
printer, screen and voice. A ticket number is committed before a single byte of it is printed,
so a number on paper is always in the store; a print that fails is voided at once, so a number
that never reached paper is never called.

One asyncio.Lock here keeps queue inputs in order (a ticket being printed cannot be called
before its print has succeeded or been voided). Commits go through the unit, under its own input
lock, so queue events and rating events share one gap-free log; printer and LAN I/O run in
worker threads and never hold the unit's lock, so rating keys stay quick while a ticket prints.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable, Protocol

from drivers.printer import Printer, PrinterError
from drivers.speaker import Speaker
from kiosk.clock import Clock, hall_zone, in_zone
from kiosk.config import Settings
from kiosk.decision import Decision
from kiosk.queue.announcer import CallAnnouncer, says_call
from kiosk.queue.backends import CALLS, EventLog, LocalQueue, QueueBackend, RemoteQueue, Served
from kiosk.queue.dispenser import QueueScreen
from kiosk.queue.host_link import QueueHostClient
from kiosk.queue.machine import Category, Estimate, KeyLockout, QueueRules
from kiosk.queue.printing import PrinterWatch, not_ready
from kiosk.queue.speech import ticket_clips
from kiosk.refusals import QueueRefused, Unavailable
from kiosk.screens.views import TICKET_VOIDED_LABEL, IssuedTicket, TicketsStopped, View, printer_problem_label
from kiosk.tickets.layouts import NoticeText, PrintSetup, TicketText, notice_job, ticket_job
from kiosk.tickets.position_link import PositionLink
from kiosk.tickets.service_items import current_service_items
from kiosk.tasks import cancel_all
from protocol.events import EventType
from protocol.times import rfc3339

log = logging.getLogger(__name__)

# How often the dispenser's screen is brought up to date by itself: the hall's closing time and
# the next business day come without an event.
DISPENSER_REFRESH_S = 10.0
COUNTER_STATE_EVENTS = (EventType.COUNTER_PAUSED, EventType.COUNTER_RESUMED,
                        EventType.QUEUE_COUNTER_OPENED, EventType.QUEUE_COUNTER_CLOSED)


@dataclass(frozen=True)
class TicketKey:
    """Keypad id of the dispenser's ticket key `index` (1 = leftmost)."""
    index: int


class Unit(Protocol):
    """What the queue needs of the unit it runs in (kiosk.app.KioskApp)."""

    clock: Clock
    store: EventLog | None

    @property
    def staff_id(self) -> str | None: ...
    @property
    def staff_name(self) -> str | None: ...
    @property
    def paused(self) -> bool: ...
    async def commit_events(self, items: list[tuple[EventType, dict[str, Any]]]) -> list[dict[str, Any]]: ...
    def refresh_screen(self) -> None: ...
    def add_event_listener(self, listener: Callable[[list[dict[str, Any]]], None]) -> None: ...


def queue_rules(settings: Settings) -> QueueRules:
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
        zone=hall_zone(settings.unit.time_zone),
        closing_minutes=queue.closing_minutes,
        own_counter=settings.unit.counter_id,
        own_calls=settings.unit.role != "dispenser",
    )


def ticket_key_pins(settings: Settings) -> dict[Hashable, int]:
    return {TicketKey(index): pin for index, pin in enumerate(settings.keys.ticket_pins, start=1)}


class QueueService:
    def __init__(self, unit: Unit, settings: Settings, printer: Printer, speaker: Speaker) -> None:
        self._unit = unit
        self._settings = settings
        self._speaker = speaker
        self._counter = settings.unit.counter_id
        self.rules = queue_rules(settings)
        self._names = {c.letter: c.name for c in self.rules.categories}
        self._setup = PrintSetup(settings.printer.paper_width_mm, settings.printer.encoding,
                                 settings.printer.profile, settings.unit.centre_name,
                                 settings.complaint_phone)
        self.has_ticket_keys = settings.unit.role in ("dispenser", "both")
        self._lock = asyncio.Lock()
        self._lockout = KeyLockout(settings.queue.lockout_s)
        self._tasks: list[asyncio.Task] = []
        self.printing = PrinterWatch(printer, self._commit, self._wall)
        self.screen = QueueScreen(self.rules, settings.unit.role, settings.unit.centre_name)
        queue = settings.queue
        self.backend: QueueBackend
        if queue.host_url:
            client = QueueHostClient(queue.host_url, queue.host_token or settings.api.token, queue.host_timeout_s)
            self.backend = RemoteQueue(client, self.rules, self._counter, queue.host_poll_s, self._lock,
                                       unit.refresh_screen, self._wall)
        else:
            self.backend = LocalQueue(self.rules, self._commit, self._wall)
        self.voice = CallAnnouncer(speaker)   # the hall voice (kiosk.queue.announcer: who says what)
        unit.add_event_listener(self.backend.on_committed)
        unit.add_event_listener(self._after_counter_change)   # after the backend has folded them
        unit.add_event_listener(self._say_committed_calls)

    @property
    def is_host(self) -> bool:
        return self.backend.is_host

    def is_ticket_key(self, key_id: Hashable) -> bool:
        return isinstance(key_id, TicketKey)

    # --- life cycle ----------------------------------------------------------------------

    async def replay(self, store: Any) -> None:
        """Rebuild the queue from today's `ticket.*` events, and the last recorded printer status."""
        await self.backend.replay(store)
        seq = await store.latest_seq([EventType.PRINTER_STATUS])
        self.printing.replay((await store.read(seq - 1, 1))[0]["data"] if seq else None)
        self._publish()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.printing.present:
            self._tasks.append(loop.create_task(self._watch_printer(), name="printer-status"))
        if self.is_host and self.has_ticket_keys:
            self._tasks.append(loop.create_task(self._keep_dispenser_current(), name="dispenser-refresh"))
        self.backend.start()

    async def _keep_dispenser_current(self) -> None:
        while True:
            await asyncio.sleep(DISPENSER_REFRESH_S)
            self._publish()
            self._unit.refresh_screen()

    def _after_counter_change(self, events: list[dict[str, Any]]) -> None:
        """A counter closed or opened: the dispenser's keys show it at once."""
        if any(event["type"] in COUNTER_STATE_EVENTS for event in events):
            self._publish()

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        await self.voice.stop()
        await self.printing.close()
        await self.backend.stop()

    async def _commit(self, decision: Decision) -> list[dict[str, Any]]:
        events = await self._unit.commit_events(decision.events)
        await self.backend.after_commit(self._unit.store)
        return events

    def _wall(self) -> str:
        return self._unit.clock.wall_time()

    async def _watch_printer(self) -> None:
        warmed_up = False
        while True:
            async with self._lock:
                try:
                    await self.printing.check()
                except Unavailable:
                    pass
            self._unit.refresh_screen()
            if not warmed_up:
                warmed_up = True
                await self.printing.warm_up(self._settings.printer.profile)
            await asyncio.sleep(self._settings.printer.poll_s)

    # --- tickets -------------------------------------------------------------------------

    async def press_ticket_key(self, key: TicketKey | int, at: float | None = None) -> list[str]:
        """A dispenser key went down; answers the types of the events it committed. A press is
        never an error to the citizen: lockout, paper out and storage faults show on the screen."""
        index = key.index if isinstance(key, TicketKey) else key
        at = self._unit.clock.monotonic() if at is None else at
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
        """POST /v1/tickets: the issued ticket, or QueueRefused (printer_unavailable: no number
        used; print_failed: the number was voided)."""
        self.backend.machine_here()
        self.rules.category(letter)
        async with self._lock:
            return await self._issue(letter, [], at_the_keys=False)

    async def _issue(self, letter: str, events: list[dict[str, Any]], *, at_the_keys: bool) -> dict[str, Any]:
        """Check the printer, commit the number, print it (or void it). The screen and the voice
        answer only the citizen at the keys; a ticket issued through the API was asked for
        elsewhere."""
        machine = self.backend.machine_here()
        show = self._answer_at_the_keys if at_the_keys else self._answer_nobody
        wall = self._wall()
        stopped = machine.stopped_categories(wall)
        if letter in stopped:   # 结束营业: no counter of it is open, or the hall has closed
            events += await self._commit(machine.decide_refuse_ticket(letter, stopped[letter]))
            show(stopped=self.screen.stopped_notice(letter, stopped[letter], stopped))
            raise QueueRefused("queue_closed", f"今日已停止取号: no ticket of {self._names[letter]} ({letter}) "
                               f"is issued now ({stopped[letter]}); no number was used",
                               why=stopped[letter], category=letter)
        status = await self.printing.check(events)
        if not status.ready:
            events += await self._commit(machine.decide_print_failed(letter, status.state))
            show(problem=printer_problem_label(status.state))
            raise not_ready(status, ": no number was used")
        # Durable before printing: a number on paper is always in the log.
        issued = (await self._commit(machine.decide_issue(letter, self._wall())))[-1]
        events.append(issued)
        data = issued["data"]
        estimate = Estimate(data["waiting_ahead"], data["estimated_wait_min"] * 60, data["surge"])
        text = self._ticket_text(data["ticket"], letter, data["priority"], issued["wall_time"], estimate)
        try:
            await self.printing.send(ticket_job(self._setup, text))
        except PrinterError as error:
            log.error("ticket %s did not print (%s); voiding it", data["ticket"], error)
            events += await self._commit(machine.decide_void(data["ticket"], "print_failed", self._wall()))
            show(problem=TICKET_VOIDED_LABEL)
            raise QueueRefused("print_failed", f"ticket {data['ticket']} did not print and was "
                               "voided; it will never be called", ticket=data["ticket"]) from None
        show(issued=IssuedTicket(data["ticket"], self._names[letter], data["waiting_ahead"],
                                 data["estimated_wait_min"]))
        return {"ticket": data["ticket"], "category": letter, "priority": data["priority"],
                "waiting_ahead": data["waiting_ahead"], "estimated_wait_min": data["estimated_wait_min"],
                "surge": data["surge"], "issued_at": issued["wall_time"]}

    def _hall_time(self, wall_time: str) -> str:
        """A recorded time as the hall's clock shows it: what a ticket or notice prints."""
        return rfc3339(in_zone(wall_time, self.rules.zone))

    @functools.cached_property
    def _position_link(self) -> PositionLink:
        """The ticket QR's link to the centre's page of the ticket (kiosk/tickets/position_link.py)."""
        return PositionLink(self._settings.printer, self._settings.state_dir, self._settings.unit.id)

    def _ticket_text(self, number: str, letter: str, priority: bool, issued_at: str, estimate: Estimate,
                     *, reprint: bool = False) -> TicketText:
        ticket = self.backend.machine_here().ticket(number, issued_at)
        issued_at = self._hall_time(issued_at)
        qr = self._position_link.url(number, letter, issued_at[:10], ticket.ref if ticket else "")
        return TicketText(number, self._names[letter], priority, issued_at, estimate.waiting_ahead,
                          estimate.wait_min, estimate.surge, qr, reprint)

    async def reprint(self, number: str) -> dict[str, Any]:
        """Print a waiting (or called) ticket again, with today's wait; `ticket.reprinted`."""
        machine = self.backend.machine_here()
        async with self._lock:
            wall = self._wall()
            decision = machine.decide_reprint(number, wall)
            ticket = machine.ticket(number, wall)
            await self.printing.ready_or_refuse()
            text = self._ticket_text(number, ticket.category, ticket.priority, ticket.issued_at,
                                     machine.estimate_for(number, wall), reprint=True)
            await self.printing.send_or_refuse(ticket_job(self._setup, text))
            await self._commit(decision)
        return {"ticket": number, "category": ticket.category, "waiting_ahead": text.waiting_ahead}

    # --- 一次性告知清单 --------------------------------------------------------------------

    async def print_notice(self, code: str, copies: int | None = None) -> dict[str, Any]:
        staff_id = self._unit.staff_id
        if staff_id is None:
            raise QueueRefused("not_signed_in", "sign in before printing a 一次性告知清单")
        items, source = await asyncio.to_thread(current_service_items, self._settings.state_dir)
        item = items.get(code)
        if item is None:
            raise QueueRefused("unknown_item", f"no service item {code!r} in the {source} list")
        copies = copies or self._settings.printer.notice_copies
        notice = NoticeText(item.code, item.name, item.category, item.time_limit, item.materials,
                            self._counter, self._hall_time(self._wall())[:10], item.steps,
                            self._unit.staff_name or staff_id, staff_id)
        async with self._lock:
            await self.printing.ready_or_refuse()
            await self.printing.send_or_refuse(notice_job(self._setup, notice, copies))
            decision = Decision()
            decision.add(EventType.NOTICE_PRINTED, {"service_item": code, "counter_id": self._counter,
                                                    "staff_id": staff_id, "copies": copies})
            await self._commit(decision)
        return {"service_item": code, "name": item.name, "copies": copies, "source": source}

    # --- which counters are open (the host's dispenser stops a category none of them calls) --

    async def counter_state(self, counter_id: str, closed: bool, staff_id: str | None = None) -> dict[str, Any]:
        """POST /v1/queue/counter-state on the host: a counter calling through it says whether it
        is closed for the day (paused for 结束营业) or open."""
        machine = self.backend.machine_here()
        async with self._lock:
            events = await self._commit(machine.decide_counter_state(counter_id, closed, self._wall(), staff_id))
        self._unit.refresh_screen()
        return {"counter_id": counter_id, "closed": closed, "events": [event["type"] for event in events]}

    # --- calling -------------------------------------------------------------------------

    async def act(self, action: str, counter_id: str | None = None, staff_id: str | None = None,
                  **target: str | None) -> dict[str, Any]:
        """call_next, recall, no_show or transfer (target: to_counter or to_category) for this
        unit's counter (staff from its sign-in), or, on the host, for a counter given with its staff."""
        own = counter_id in (None, self._counter)
        if own:
            counter_id = self._counter
            staff_id = self._unit.staff_id
            if staff_id is None:
                raise QueueRefused("not_signed_in", "sign in before calling tickets")
            if self._unit.paused:
                raise QueueRefused("paused", "the counter is paused (暂停服务); resume it first")
        else:
            self.backend.machine_here()   # only the host acts for other counters
            if not staff_id:
                raise QueueRefused("invalid", "staff_id is required when acting for another counter",
                                   field="staff_id")
        async with self._lock:
            result = await self.backend.act(action, counter_id, staff_id, target)
        if own:
            self.screen.end_feedback()
        if result["event"] in CALLS and not self.is_host:   # the host said it as it committed it
            self._say_call(result["ticket"], counter_id, committed_here=False)
        self._publish()
        self._unit.refresh_screen()
        return result

    def _say_committed_calls(self, events: list[dict[str, Any]]) -> None:
        """Every call in this unit's log (it keeps the queue), whichever counter made it."""
        for event in events:
            if event["type"] in CALLS:
                self._say_call(event["data"]["ticket"], event["data"]["counter_id"], committed_here=True)

    def _say_call(self, ticket: str, counter_id: str, *, committed_here: bool) -> None:
        if says_call(committed_here=committed_here, own_counter=counter_id == self._counter,
                     own_calls=self._settings.voice.own_calls):
            self.voice.announce(ticket, counter_id)

    async def snapshot(self) -> dict[str, Any]:
        """GET /v1/queue: from the queue here, or from the host."""
        if self.is_host:
            return await self.backend.snapshot()
        async with self._lock:
            snapshot = await self.backend.snapshot()
        self._unit.refresh_screen()
        return snapshot

    async def staff_key(self, action: str) -> None:
        try:
            await self.act(action)
        except (QueueRefused, Unavailable) as refused:
            log.info("staff key %s refused: %s", action, refused)

    # --- what this counter serves: the queue (here or on the host) is its one owner -------

    def serving(self) -> Served | None:
        return self.backend.serving(self._counter)

    def serving_ticket(self) -> str | None:
        served = self.serving()
        return served.ticket if served else None

    # --- screen ---------------------------------------------------------------------------

    def _publish(self) -> None:
        if self.is_host and self.has_ticket_keys:
            self.screen.publish(self.backend.machine_here().snapshot(self._wall()))

    def _answer_at_the_keys(self, *, issued: IssuedTicket | None = None, problem: str | None = None,
                            stopped: TicketsStopped | None = None) -> None:
        """The screen shows the number just taken, or why there is none, and the voice says it:
        many citizens at the dispenser cannot read the screen."""
        self.screen.show_feedback(self._unit.clock.monotonic(), issued=issued, problem=problem, stopped=stopped)
        self._publish()
        self._unit.refresh_screen()
        if issued is not None:
            clips = ticket_clips(issued.ticket, issued.waiting_ahead)
        elif stopped is not None:
            clips = ["queue_closed_category" if stopped.category_name else "queue_closed"]
        else:
            clips = ["ticket_unavailable"]
        for clip in clips:
            self._speaker.say(clip)

    def _answer_nobody(self, *, issued: IssuedTicket | None = None, problem: str | None = None,
                       stopped: TicketsStopped | None = None) -> None:
        self._publish()   # the waiting counts still change
        self._unit.refresh_screen()

    def use_complaint_phone(self, phone: str) -> None:
        """The centre's bundle may carry another complaint line than the config: print and show it."""
        self._setup = replace(self._setup, complaint_phone=phone)

    def view(self, base: View, now: float) -> View:
        return self.screen.compose(base, now, serving=self.serving_ticket(), offline=self.backend.link_ok is False,
                                   printer=self.printing.status, complaint_phone=self._setup.complaint_phone)

    # --- health ---------------------------------------------------------------------------

    def printer_health(self) -> dict[str, Any]:
        return self.printing.health()

    def health(self) -> dict[str, Any]:
        """For GET /v1/state and the centre's health report: is the hall in a surge?"""
        return self.backend.health(self._counter)

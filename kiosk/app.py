"""Wiring: drivers + rating state machine + event store + local API on one asyncio loop.

The state machines never await; the inputs' side does, all on this one loop: this module, the
queue service (`kiosk.queue.service`), the API handlers and the sync link. Every input (key, API
call, timer) goes the same way: state machine decides → event store commits (durable) → machine
applies → screen and voice.
One asyncio.Lock keeps inputs in arrival order, so a press and a staff action never interleave.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
import uuid
from typing import Any, Callable, Hashable

from sync.files import disk_free_mb

from kiosk import __version__
from kiosk.clock import Clock, SystemClock, hall_zone
from kiosk.config import Reason, Settings, StaffMember
from kiosk.devices import Devices
from kiosk.live import ChangeFeed
from kiosk.events import EventStore, StoreBusy, StoreError, StoreWriteError, take_writer_lock
from kiosk.paths import events_db
from kiosk.decision import Decision
from kiosk.queue.service import QueueService
from kiosk.rating.machine import RatingMachine, RatingRules, ReasonChoice
from kiosk.refusals import RatingRefused, Unavailable
from kiosk.screens.views import OutOfOrder, StaffCard, View
from kiosk.tasks import cancel_all
from protocol.events import EventType

log = logging.getLogger(__name__)

RECOVERY_INTERVAL_S = 2.0
# Events that change what the rating machine shows; the replay after a restart starts at the
# oldest of the latest of each kind, so it reads a day's tail, not the whole log.
_REPLAY_ANCHORS = ((EventType.STAFF_SIGNED_IN, EventType.STAFF_SIGNED_OUT),
                   (EventType.COUNTER_PAUSED, EventType.COUNTER_RESUMED),
                   (EventType.TRANSACTION_COMPLETED,))

STORAGE_FAULT_TEXT = {
    "storage_unavailable": "存储空间已满或无法写入",
    "storage_corrupt": "数据存储损坏",
    "storage_busy": "数据存储被占用",
    "storage_error": "数据存储故障",
}


class KioskApp:
    def __init__(self, settings: Settings, devices: Devices, *, sim: bool, clock: Clock | None = None) -> None:
        self.settings = settings
        self.devices = devices
        self.sim = sim
        self.clock = clock or SystemClock(zone=settings.unit.time_zone)   # the hall's zone, not the Pi's
        self.started_at = time.monotonic()
        self.store: EventStore | None = None
        self.fault: StoreError | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._shown: View | None = None
        self._start_recorded = False
        self._writer_lock: int | None = None   # the store's lock, held while the unit runs
        self._event_listeners: list[Callable[[list[dict]], None]] = []
        self.changes = ChangeFeed()   # moves on every commit and screen refresh (kiosk.live)
        rules = RatingRules(
            counter_id=settings.unit.counter_id,
            key_levels=tuple(settings.keys.levels),
            window_s=settings.rating.window_s,
            reason_window_s=settings.rating.reason_window_s,
            thanks_s=settings.rating.thanks_s,
            debounce_s=settings.keys.debounce_ms / 1000,
            burst_presses=settings.rating.burst_presses,
            burst_window_s=settings.rating.burst_window_s,
            zone=hall_zone(settings.unit.time_zone),
        )
        self.machine = RatingMachine(rules, [ReasonChoice(r.code, r.label) for r in settings.reasons],
                                     self._staff_card)
        self._roster = {member.staff_id: member for member in settings.staff}
        self._complaint_phone = settings.complaint_phone
        self.sync: Any = None  # kiosk.service.sync_link.SyncLink once `kiosk run` links the unit to its centre
        self.queue = QueueService(self, settings, devices.printer, devices.speaker)

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Come up whatever the storage's state: a unit that cannot write starts out of order (the
        screen says so, /healthz answers 503) and records its start once writes succeed again.
        Only a store another process owns stops the start (StoreBusy): that process is the unit."""
        self._hold_state_dir()
        await self._open_store(busy_is_fatal=True)
        if self.store is not None:
            await self._replay()
            await self._record_start()
        self.devices.keypad.start(self._on_key)
        self._refresh_screen()
        self._tasks.append(asyncio.create_task(self._timer_loop(), name="rating-timer"))
        self._tasks.append(asyncio.create_task(self._recovery_loop(), name="storage-recovery"))
        self.queue.start()
        # Everything made during start-up lives as long as the process: move it out of the
        # collector's sight so a full collection never pauses a key press to scan it.
        gc.freeze()

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        await self.queue.stop()
        self.devices.keypad.close()
        self.devices.speaker.close()
        self.devices.display.close()
        if self.store is not None:
            await self.store.close()
            self.store = None
        if self._writer_lock is not None:
            os.close(self._writer_lock)
            self._writer_lock = None

    @property
    def staff_id(self) -> str | None:
        """Who is signed in at this counter."""
        return self.machine.staff_id

    @property
    def staff_name(self) -> str | None:
        """The signed-in staff member's name from the roster (the centre's bundle, else the config)."""
        card = self.machine.card()
        return card.name if card is not None else None

    def roster_member(self, staff_id: str) -> StaffMember | None:
        """Who `staff_id` is on the roster in use (the centre's bundle, else the config)."""
        return self._roster.get(staff_id)

    @property
    def paused(self) -> bool:
        return self.machine.paused

    def add_event_listener(self, listener: Callable[[list[dict]], None]) -> None:
        """Called with every batch of committed events (the uploader uses it to wake up)."""
        self._event_listeners.append(listener)

    def _hold_state_dir(self) -> None:
        """Hold the store's writer lock for as long as the unit runs, store open or not: an out of
        order unit is still the one unit of its state dir (no second `kiosk run`, no reset-store
        under it). StoreBusy when another process holds it; on a disk where the lock file cannot
        even be made the store takes it itself once it can."""
        if self._writer_lock is not None:
            return
        db = events_db(self.settings.state_dir)
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            self._writer_lock = take_writer_lock(db)
        except OSError as error:
            log.debug("writer lock not taken yet: %s", error)

    async def _open_store(self, *, busy_is_fatal: bool = False) -> None:
        try:
            self._hold_state_dir()
            self.store = await EventStore.open(events_db(self.settings.state_dir), self.clock,
                                               lock_held=self._writer_lock is not None)
            self.fault = None
        except StoreBusy:
            if busy_is_fatal:
                raise
            # While out of order a command (status, sync) may hold the store for a moment.
            log.debug("event store busy; trying again")
        except StoreError as error:
            # Said once; the recovery loop's later attempts fail the same way, at debug level.
            said = self.fault is not None and str(self.fault) == str(error)
            log.log(logging.DEBUG if said else logging.ERROR, "event store unusable: %s", error)
            self.fault = error

    async def _record_start(self) -> None:
        """unit.started, once per process, first of what it records: at start, or as soon as the
        storage takes writes again (the recovery loop calls this before anything else commits)."""
        if self._start_recorded:
            return
        try:
            await self._commit_events([(EventType.UNIT_STARTED, {
                "version": __version__, "role": self.settings.unit.role,
                "config_hash": self.settings.config_hash()})])
        except Unavailable as refused:
            log.error("out of order from the start: %s (unit.started is recorded once writes succeed)",
                      refused.message)
            return
        self._start_recorded = True

    async def _replay(self) -> None:
        await replay_state(self.machine, self.store, self.clock.boot_id)
        await self.queue.replay(self.store)
        # A window that was open when the unit stopped and has run out since is missed now (or,
        # when nothing can be written, by the timer once writes succeed: nothing was applied).
        try:
            await self._commit(self.machine.decide_tick(self.clock.monotonic()))
        except Unavailable:
            pass

    def _event_moment(self, event: dict[str, Any]) -> float:
        return event_moment(event, self.clock.boot_id)

    # --- committing ----------------------------------------------------------------------

    async def _commit(self, decision: Decision) -> list[dict[str, Any]]:
        events = await self._commit_events(decision.events)
        for clip in decision.say:
            self.devices.speaker.say(clip)
        return events

    async def _commit_events(self, items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        if not items:
            self._refresh_screen()
            return []
        if self.store is None or self.fault is not None:
            raise self._unavailable()
        try:
            events = await self.store.append_many(items)
        except StoreWriteError as error:
            self.fault = error
            self._refresh_screen()
            raise self._unavailable() from error
        for event in events:
            self.machine.apply(event["type"], event["data"], self._event_moment(event), event["wall_time"])
        # Only now, with the events on disk, does the screen change (e.g. "感谢您的评价").
        self._refresh_screen()
        self._wake.set()
        for listener in self._event_listeners:
            listener(events)
        return events

    async def commit_events(self, items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Commit events decided outside the rating machine (the queue), in turn with every input."""
        async with self._lock:
            return await self._commit_events(items)

    def _unavailable(self) -> Unavailable:
        fault = self.fault or StoreWriteError("event store not open")
        return Unavailable(fault.code, f"event storage is not writable: {fault}")

    # --- inputs --------------------------------------------------------------------------

    def _on_key(self, key_id: Hashable, at: float) -> None:
        """Keypad handler; runs on the loop thread (the driver hands it over thread-safely)."""
        if isinstance(key_id, int):
            task = asyncio.create_task(self.press_rating_key(key_id, at))
        elif self.queue.is_ticket_key(key_id):
            task = asyncio.create_task(self.queue.press_ticket_key(key_id, at))
        else:
            task = asyncio.create_task(self._staff_key(str(key_id)))
        task.add_done_callback(_log_task_failure)

    async def press_rating_key(self, key: int, at: float | None = None) -> list[str]:
        """Handle one rating key press; returns the types of the events it committed.

        A press is never an error to the citizen: during a storage fault it does nothing visible
        beyond the out-of-order screen already shown.
        """
        async with self._lock:
            decision = self.machine.decide_press(key, self.clock.monotonic() if at is None else at)
            try:
                events = await self._commit(decision)
            except Unavailable:
                return []
            return [event["type"] for event in events]

    async def _staff_key(self, action: str) -> None:
        try:
            if action == "complete":
                await self.complete_transaction()
            elif action == "pause":
                await (self.resume() if self.machine.paused else self.pause("break"))
            elif action == "resume":
                await self.resume()
            elif action in ("call_next", "recall", "no_show"):
                await self.queue.staff_key(action)
            else:
                log.info("staff key %s has no action in this role", action)
        except (RatingRefused, Unavailable) as refused:
            log.info("staff key %s refused: %s", action, refused)

    async def _decide_and_commit(self, decide: Callable[[float], Decision]) -> list[dict[str, Any]]:
        async with self._lock:
            if self.fault is not None:
                # Out of order, staff are told why first (not "not signed in" from a counter whose
                # state could not even be read back from its store).
                raise self._unavailable()
            return await self._commit(decide(self.clock.monotonic()))

    async def sign_in(self, staff_id: str) -> list[dict[str, Any]]:
        if self._roster and staff_id not in self._roster:
            raise RatingRefused("unknown_staff", f"staff id {staff_id} is not on this unit's roster")
        return await self._decide_and_commit(lambda now: self.machine.decide_sign_in(staff_id, now))

    async def sign_out(self) -> list[dict[str, Any]]:
        return await self._decide_and_commit(self.machine.decide_sign_out)

    async def pause(self, reason: str) -> list[dict[str, Any]]:
        return await self._decide_and_commit(lambda now: self.machine.decide_pause(reason, now))

    async def resume(self) -> list[dict[str, Any]]:
        return await self._decide_and_commit(self.machine.decide_resume)

    async def complete_transaction(self, service_item: str | None = None, ticket: str | None = None) -> str:
        transaction_id = str(uuid.uuid4())
        served = self.queue.serving()
        if ticket is None and served is not None:
            # The number this counter called, and its category as the item unless staff named one.
            ticket, service_item = served.ticket, service_item or served.category_name
        await self._decide_and_commit(
            lambda now: self.machine.decide_complete(transaction_id, now, service_item, ticket))
        return transaction_id

    # --- time ----------------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        """Close windows when they run out and keep the countdown on screen current.

        It sleeps until the next deadline (at most a second, for the countdown) or until a commit
        wakes it. No asyncio.wait_for here: on Python 3.11 it can swallow a cancellation that
        arrives as the wait completes, and stop() would then wait for this task forever.
        """
        loop = asyncio.get_running_loop()
        while True:
            now = self.clock.monotonic()
            deadline = self.machine.next_change(now)
            wait = 1.0 if deadline is None else min(1.0, max(0.0, deadline - now) + 0.001)
            self._wake.clear()
            alarm = loop.call_later(wait, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                alarm.cancel()
            async with self._lock:
                try:
                    await self._commit(self.machine.decide_tick(self.clock.monotonic()))
                except Unavailable:
                    pass

    async def _recovery_loop(self) -> None:
        """While storage is faulty, keep trying a real write; resume by itself when it works."""
        while True:
            await asyncio.sleep(RECOVERY_INTERVAL_S)
            if self.fault is None:
                continue
            async with self._lock:
                if self.store is None:
                    await self._open_store()
                    if self.store is not None:
                        await self._replay()
                else:
                    try:
                        await self.store.probe_write()
                        self.fault = None
                    except StoreWriteError as error:
                        log.debug("storage still failing: %s", error)
                if self.fault is None:
                    log.warning("event storage writable again; back in service")
                    await self._record_start()
                    self._refresh_screen()

    # --- output --------------------------------------------------------------------------

    def current_view(self) -> View:
        if self.fault is not None:
            return OutOfOrder(storage_fault_text(self.fault), self.settings.unit.counter_id)
        now = self.clock.monotonic()
        return self.queue.view(self.machine.view(now), now)

    def refresh_screen(self) -> None:
        """Show the current state now (the queue's changes that are not commits: a host link
        lost, a printer out of paper, a ticket's number shown for a few seconds)."""
        self._refresh_screen()

    def _refresh_screen(self) -> None:
        self.changes.bump()   # the pages (console, hall, sim panel) look again, whatever the screen does
        view = self.current_view()
        if view == self._shown:
            return
        self._shown = view
        self.devices.display.show(self.devices.renderer.render(view))

    def use_directory(self, staff: list[StaffMember], reasons: list[Reason], complaint_phone: str | None) -> None:
        """Take the roster, 差评 reasons and complaint line from the centre's bundle (the config's
        are used until one arrives). An empty list in the bundle keeps the config's."""
        if staff:
            self._roster = {member.staff_id: member for member in staff}
        if reasons:
            self.machine.set_reasons([ReasonChoice(r.code, r.label) for r in reasons])
        if complaint_phone:
            self._complaint_phone = complaint_phone
            self.queue.use_complaint_phone(complaint_phone)
        self._refresh_screen()

    def _staff_card(self, staff_id: str) -> StaffCard:
        member = self._roster.get(staff_id)
        counter = self.settings.unit.counter_id
        phone = self._complaint_phone
        if member is None:
            return StaffCard(staff_id, staff_id, counter, complaint_phone=phone)
        photo = str(member.photo) if member.photo else None
        return StaffCard(staff_id, member.name, counter, member.title, member.duties, photo, phone)

    # --- status --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        machine = self.machine
        staff = None
        if machine.staff_id is not None:
            card = self._staff_card(machine.staff_id)
            staff = {"staff_id": card.staff_id, "name": card.name}
        store = self.store
        now = self.clock.monotonic()
        return {
            "mode": "sim" if self.sim else "live",
            "version": __version__,
            "unit_id": self.settings.unit.id,
            "role": self.settings.unit.role,
            "counter_id": self.settings.unit.counter_id,
            "staff": staff,
            "paused": machine.paused,
            "pause_reason": machine.pause_reason if machine.paused else None,
            "serving_ticket": self.queue.serving_ticket(),
            "rating": {
                "window_open": machine.window_open(now),
                "reasons_open": machine.reasons_open(now),
                "transaction_id": machine.open_transaction_id,
            },
            "screen": type(self.current_view()).__name__,
            "backlog": store.backlog if store else None,
            "last_seq": store.head.seq if store else None,
            "stream_id": store.stream_id if store else None,
            "storage": {"ok": self.fault is None, "error": self.fault.code if self.fault else None,
                        "message": str(self.fault) if self.fault else None, "seq": fault_seq(self.fault),
                        "disk_free_mb": disk_free_mb(self.settings.state_dir)},
            "printer": self.queue.printer_health(),
            "queue": self.queue.health(),
            "sync": self.sync.status() if self.sync is not None else {"provisioned": False},
            "uptime_s": int(time.monotonic() - self.started_at),
        }

    def health(self) -> dict[str, Any]:
        """What the uploader reports to the centre with every batch and heartbeat (cheap: it runs
        on the loop)."""
        printer = self.queue.printer_health() or {}
        report: dict[str, Any] = {"storage_ok": self.fault is None, "queue": self.queue.health()}
        if printer.get("kind") not in (None, "none"):  # a counter without a printer reports none
            report["paper"] = printer["paper"]
        return report


def fault_seq(fault: StoreError | None) -> int | None:
    """The event a storage fault concerns (a broken hash chain), when it names one."""
    return getattr(fault, "seq", None)


def storage_fault_text(fault: StoreError) -> str:
    """The out-of-order screen's cause, for the technician who comes to look."""
    text = STORAGE_FAULT_TEXT.get(fault.code, STORAGE_FAULT_TEXT["storage_error"])
    seq = fault_seq(fault)
    return f"{text}（第 {seq} 条记录）" if seq is not None else text


def event_moment(event: dict[str, Any], boot_id: str) -> float:
    """The event's time on this boot's monotonic clock; -inf for an earlier boot."""
    if event["boot_id"] == boot_id:
        return event["mono_ns"] / 1e9
    return float("-inf")


async def replay_state(machine: RatingMachine, store: EventStore, boot_id: str) -> None:
    """Rebuild what the counter shows from the store's tail (after a restart, or for status)."""
    anchors = [seq for kinds in _REPLAY_ANCHORS if (seq := await store.latest_seq(kinds))]
    if not anchors:
        return
    async for event in store.read_all(after=min(anchors) - 1):
        machine.apply(event["type"], event["data"], event_moment(event, boot_id), event["wall_time"])


def _log_task_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("input handling failed", exc_info=task.exception())

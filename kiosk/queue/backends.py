"""Where a unit's queue is kept: here (`LocalQueue`, the hall's queue host: a dispenser or a `both`
unit) or on the host, over the LAN (`RemoteQueue`, a counter unit with `queue.host_url`). Both
answer the same questions — act for a counter, the snapshot, which ticket a counter serves, health —
so the rest of the unit never asks which one it has.

The host's dispenser stops a category when no counter of it is open, so a counter that calls
through the host tells it whether it is closed for the day (paused for 结束营业) or open: when its
pause changes, and whenever the host's snapshot does not show it as it is (the host restarted, a
new day began, or the host was away when the counter paused)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Protocol

from kiosk.decision import Decision
from kiosk.queue.host_link import QueueHostClient, QueueHostUnreachable
from kiosk.queue.machine import CLOSING, QUEUE_EVENT_TYPES, QueueMachine, QueueRules, business_day
from kiosk.refusals import QueueRefused
from kiosk.tasks import cancel_all
from protocol.events import EventType

log = logging.getLogger(__name__)

DAY_START_META = "queue_day_start_seq"   # replay starts here: the event before today's first
CALLS = (EventType.TICKET_CALLED, EventType.TICKET_RECALLED)

Commit = Callable[[Decision], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class Served:
    """The ticket a counter is serving now."""
    ticket: str
    category: str
    category_name: str


class EventLog(Protocol):
    """What a local queue reads of the unit's event store (kiosk.events.EventStore)."""

    async def read(self, after: int, limit: int, types: Any = None) -> list[dict[str, Any]]: ...
    async def latest_seq(self, types: Any) -> int | None: ...
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...


class QueueBackend(Protocol):
    is_host: bool
    link_ok: bool | None   # the host answers (True), does not (False), not asked yet (None)

    async def replay(self, store: EventLog) -> None: ...
    def on_committed(self, events: list[dict[str, Any]]) -> None: ...
    async def after_commit(self, store: EventLog | None) -> None: ...
    def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def act(self, action: str, counter_id: str, staff_id: str,
                  target: Mapping[str, str | None]) -> dict[str, Any]: ...
    async def snapshot(self) -> dict[str, Any]: ...
    def serving(self, counter_id: str) -> Served | None: ...
    def machine_here(self) -> QueueMachine: ...
    def health(self, counter_id: str) -> dict[str, Any]: ...


def _given(target: Mapping[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in target.items() if value is not None}


class LocalQueue:
    """The hall's queue, kept on this unit: the pure machine, fed with every committed queue event."""

    is_host = True
    link_ok: bool | None = None

    def __init__(self, rules: QueueRules, commit: Commit, wall_time: Callable[[], str]) -> None:
        self.rules = rules
        self.machine = QueueMachine(rules)
        self._commit = commit
        self._wall_time = wall_time
        self._names = {c.letter: c.name for c in rules.categories}
        self._day_start_seq: int | None = None

    async def replay(self, store: EventLog) -> None:
        """Rebuild the queue from today's `ticket.*` events."""
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

    def on_committed(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] in QUEUE_EVENT_TYPES:
                day = self.machine.day
                self.machine.apply(event["type"], event["data"], event["wall_time"])
                if self.machine.day != day:
                    self._day_start_seq = event["seq"] - 1

    async def after_commit(self, store: EventLog | None) -> None:
        if self._day_start_seq is not None and store is not None:
            seq, self._day_start_seq = self._day_start_seq, None
            try:  # only speeds up the replay after a restart; the log itself is the truth
                await store.set_meta(DAY_START_META, str(seq))
            except Exception as error:
                log.warning("could not note where today's queue starts: %s", error)

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def act(self, action: str, counter_id: str, staff_id: str,
                  target: Mapping[str, str | None]) -> dict[str, Any]:
        wall = self._wall_time()
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
                "event": event["type"], **_given(target)}

    async def snapshot(self) -> dict[str, Any]:
        return self.machine.snapshot(self._wall_time())

    def serving(self, counter_id: str) -> Served | None:
        ticket = self.machine.serving(counter_id, self._wall_time())
        return Served(ticket.number, ticket.category, self._names.get(ticket.category, "")) if ticket else None

    def machine_here(self) -> QueueMachine:
        return self.machine

    def health(self, counter_id: str) -> dict[str, Any]:
        snapshot = self.machine.snapshot(self._wall_time())
        served = self.serving(counter_id)
        return {"mode": "host", "day": snapshot["day"], "surge": snapshot["surge"],
                "waiting": sum(snapshot["waiting"].values()), "waiting_by_category": snapshot["waiting"],
                "estimated_wait_min": snapshot["estimated_wait_min"],
                "serving": served.ticket if served else None}


class RemoteQueue:
    """A counter unit's view of the hall's queue, kept by the queue host: it asks the host's API,
    learns the ticket its counter serves from the host, and says when the host does not answer."""

    is_host = False

    def __init__(self, client: QueueHostClient, rules: QueueRules, counter_id: str, poll_s: float,
                 lock: asyncio.Lock, on_link_change: Callable[[], None], wall_time: Callable[[], str]) -> None:
        self._client = client
        self._rules = rules
        self._wall_time = wall_time
        self._names = {c.letter: c.name for c in rules.categories}
        self._counter = counter_id
        self._poll_s = poll_s
        self._lock = lock            # the queue's input lock: a poll never interleaves with an action
        self._on_link_change = on_link_change
        self.link_ok: bool | None = None
        self._link_error: str | None = None
        self._snapshot: dict[str, Any] | None = None
        self._serving: Served | None = None
        self._tasks: list[asyncio.Task] = []
        self._closed_since: str | None = None    # wall time of this counter's 结束营业, until it resumes
        self._pause_changed = asyncio.Event()

    async def replay(self, store: EventLog) -> None:
        """A counter that calls through the host records no ticket events; what it tells the host
        is its last pause or resume."""
        seq = await store.latest_seq([EventType.COUNTER_PAUSED, EventType.COUNTER_RESUMED])
        if seq:
            self._note_pause((await store.read(seq - 1, 1))[0])

    def on_committed(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] in (EventType.COUNTER_PAUSED, EventType.COUNTER_RESUMED):
                self._note_pause(event)
                self._pause_changed.set()    # tell the host now, not at the next poll

    def _note_pause(self, event: dict[str, Any]) -> None:
        closing = event["type"] == EventType.COUNTER_PAUSED and event["data"].get("reason") == CLOSING
        self._closed_since = event["wall_time"] if closing else None

    def closed_today(self) -> bool:
        """Paused for 结束营业 on this business day (yesterday's closing does not close today)."""
        if self._closed_since is None:
            return False
        rules = self._rules
        return (business_day(self._closed_since, rules.reset_minutes, rules.zone)
                == business_day(self._wall_time(), rules.reset_minutes, rules.zone))

    async def after_commit(self, store: EventLog | None) -> None:
        pass

    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._watch(), name="queue-host"))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        await asyncio.to_thread(self._client.close)   # waits for a request in flight (≤ its timeout)

    def not_host(self) -> QueueRefused:
        return QueueRefused("not_queue_host", f"this unit's queue is kept by {self._client.base_url}; "
                            "tickets are issued there")

    def machine_here(self) -> QueueMachine:
        raise self.not_host()

    async def act(self, action: str, counter_id: str, staff_id: str,
                  target: Mapping[str, str | None]) -> dict[str, Any]:
        path = "/v1/queue/" + action.replace("_", "-")
        result = await self._ask("POST", path, {"counter_id": counter_id, "staff_id": staff_id, **_given(target)})
        if result.get("event") in CALLS:
            self._serving = self._served(result["ticket"], result.get("category", ""))
        elif result.get("ticket") == (self._serving.ticket if self._serving else None):
            self._serving = None
        return result

    async def snapshot(self) -> dict[str, Any]:
        snapshot = await self._ask("GET", "/v1/queue")
        self._learn(snapshot)
        return snapshot

    def serving(self, counter_id: str) -> Served | None:
        return self._serving

    def health(self, counter_id: str) -> dict[str, Any]:
        snapshot = self._snapshot or {}
        return {"mode": "remote", "host_url": self._client.base_url,
                "link": {True: "ok", False: "down", None: "unknown"}[self.link_ok],
                "error": self._link_error, "surge": bool(snapshot.get("surge")),
                "waiting": sum((snapshot.get("waiting") or {}).values()),
                "serving": self._serving.ticket if self._serving else None}

    async def _ask(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            answer = await asyncio.to_thread(self._client.request, method, path, body)
        except QueueHostUnreachable as error:
            self._set_link(False, str(error))
            raise QueueRefused("queue_host_unreachable", f"叫号服务不可用: {error}") from None
        except QueueRefused:
            self._set_link(True)
            raise
        self._set_link(True)
        return answer

    def _set_link(self, ok: bool, error: str | None = None) -> None:
        if ok != self.link_ok:
            (log.info if ok else log.warning)("queue host %s %s", self._client.base_url,
                                             "answers" if ok else f"unavailable: {error}")
            self.link_ok = ok
            self._on_link_change()
        self._link_error = error

    def _served(self, number: str, category: str) -> Served:
        return Served(number, category, self._names.get(category, ""))

    def _learn(self, snapshot: dict[str, Any]) -> None:
        self._snapshot = snapshot
        number = (snapshot.get("serving") or {}).get(self._counter)
        if number is None:
            self._serving = None
        elif self._serving is None or self._serving.ticket != number:
            category = (snapshot.get("serving_categories") or {}).get(self._counter, "")
            self._serving = self._served(number, category)

    async def _tell_host_our_state(self, snapshot: dict[str, Any]) -> None:
        counters = snapshot.get("counters")
        if counters is None:   # a host from before counters told it their state
            return
        closed = self.closed_today()
        if counters.get(self._counter) != ("closed" if closed else "open"):
            await self._ask("POST", "/v1/queue/counter-state", {"counter_id": self._counter, "closed": closed})

    async def _watch(self) -> None:
        """Poll the host every `poll_s`, and at once when this counter's pause changed. No
        asyncio.wait_for (see the app's timer loop): the wait is an event and a timer."""
        loop = asyncio.get_running_loop()
        while True:
            self._pause_changed.clear()
            async with self._lock:
                try:
                    snapshot = await self._ask("GET", "/v1/queue")
                    self._learn(snapshot)
                    await self._tell_host_our_state(snapshot)
                except QueueRefused as refused:
                    log.debug("queue host poll: %s", refused)
            self._on_link_change()
            alarm = loop.call_later(self._poll_s, self._pause_changed.set)
            try:
                await self._pause_changed.wait()
            finally:
                alarm.cancel()

"""What the console follows beside the unit's own state, from the committed events:

- the last citizen of this counter: the last `transaction.completed` and whether it was rated
  (`rating.submitted`), not (`rating.missed`, `rating.voided`) or may still be. Never the level:
  staff must not see how a citizen rated them, so no level is ever kept here;
- the counter's sign-in in force (the seq of the last `staff.signed_in` / `staff.signed_out`),
  which a console session is bound to;
- on a counter whose queue is kept by the hall's queue host: the host's waiting counts. The unit
  itself asks the host every `queue.host_poll_s` (5 s by default); while a console is open this asks
  every HOST_POLL_S as well, so what the console shows of the host is at most that old (plus
  the request's time), and a host that stops answering shows within the request's timeout.

It starts on the first console request (the store is open by then) and reads the log's tail
once; events committed while it reads are held and folded after it, each once.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator

from kiosk.refusals import QueueRefused
from protocol.events import EventType

log = logging.getLogger(__name__)

HOST_POLL_S = 0.5          # while a console is open on a counter that calls through the host
HOST_RETRY_S = 1.0         # while the host does not answer
SIGN_INS = (EventType.STAFF_SIGNED_IN, EventType.STAFF_SIGNED_OUT)
CITIZEN = (EventType.TRANSACTION_COMPLETED, EventType.RATING_SUBMITTED, EventType.RATING_MISSED,
           EventType.RATING_VOIDED)
RATED, NOT_RATED, OPEN = "rated", "not_rated", "open"


@dataclass(frozen=True)
class LastCitizen:
    transaction_id: str
    ticket: str | None
    completed_at: str
    rating: str          # OPEN (the window may still take a press), RATED or NOT_RATED


class CounterWatch:
    def __init__(self, app: Any) -> None:
        self._app = app
        self.sign_in_seq = 0
        self.last_citizen: LastCitizen | None = None
        self.host_snapshot: dict[str, Any] | None = None   # the host's GET /v1/queue, when asked here
        self.host_answered_at: str | None = None
        self.viewers = 0
        self._folded_seq = 0
        self._held: list[dict[str, Any]] | None = None
        self._ready = False
        self._starting: asyncio.Lock | None = None
        self._listening = False
        self._poller: asyncio.Task | None = None

    # --- start: the log's tail, then every commit ------------------------------------------

    async def ready(self) -> bool:
        """Read the log's tail once (True when done; False while the store is not open)."""
        if self._ready:
            return True
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._ready:
                return True
            store = self._app.store
            if store is None:
                return False
            if not self._listening:
                self._app.add_event_listener(self._on_committed)
                self._listening = True
            self._held = []
            try:
                self.sign_in_seq = await store.latest_seq(SIGN_INS) or 0
                completed = await store.latest_seq([EventType.TRANSACTION_COMPLETED])
                after = (completed or 1) - 1
                while completed:
                    events = await store.read(after, 500, types=CITIZEN)
                    if not events:
                        break
                    for event in events:
                        self._fold(event)
                    after = events[-1]["seq"]
                held, self._held = self._held, None
                for event in held:
                    self._fold(event)
            except Exception:
                self._held = None
                raise
            self._ready = True
            return True

    def _on_committed(self, events: list[dict[str, Any]]) -> None:
        if self._held is not None:
            self._held.extend(events)
            return
        for event in events:
            self._fold(event)

    def _fold(self, event: dict[str, Any]) -> None:
        kind, data, seq = event["type"], event["data"], event["seq"]
        if kind in SIGN_INS:
            self.sign_in_seq = max(self.sign_in_seq, seq)
            return
        if kind not in CITIZEN or seq <= self._folded_seq:
            return
        self._folded_seq = seq
        if kind == EventType.TRANSACTION_COMPLETED:
            self.last_citizen = LastCitizen(data["transaction_id"], data.get("ticket"), event["wall_time"], OPEN)
            return
        last = self.last_citizen
        if last is None or data.get("transaction_id") != last.transaction_id:
            return
        rating = RATED if kind == EventType.RATING_SUBMITTED else NOT_RATED
        self.last_citizen = LastCitizen(last.transaction_id, last.ticket, last.completed_at, rating)

    # --- the queue host, while someone looks -----------------------------------------------

    async def viewing(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """A console stream's body, counted while it is open (the host is polled meanwhile)."""
        self.viewers += 1
        if not self._app.queue.is_host and (self._poller is None or self._poller.done()):
            self._poller = asyncio.get_running_loop().create_task(self._poll_host(), name="console-host-poll")
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            self.viewers -= 1
            await chunks.aclose()

    async def _poll_host(self) -> None:
        """GET /v1/queue of the host through the unit's own queue (its link state and serving
        ticket are learnt on the way), until the last console closes."""
        while self.viewers > 0:
            try:
                self.host_snapshot = await self._app.queue.snapshot()
                self.host_answered_at = self._app.clock.wall_time()
                pause = HOST_POLL_S
            except QueueRefused as refused:
                log.debug("console: queue host: %s", refused)
                pause = HOST_RETRY_S
            self._app.refresh_screen()   # the consoles look again (link state, counts)
            await asyncio.sleep(pause)

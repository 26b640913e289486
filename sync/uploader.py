"""The uploader: event store → centre, exactly once, in seq order, inside `kiosk run`'s event loop.

What it promises (PROTOCOL.md "Uploading events"):
- events are marked sent only up to the `acked_through` the centre answered;
- every blocking HTTP call runs in a worker thread, so the rating UI never waits for the network;
- after a failure it waits with exponential backoff (1 s doubling, full jitter, cap 5 min);
- a refusal that resending cannot cure (409 conflict, 422) stops uploading the stream, keeps every
  event, and is remembered in the store's meta table so a restart and `kiosk status` know it;
- when idle it sends a heartbeat (no events) with the unit's health every `heartbeat_s`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from protocol import MAX_BATCH
from protocol.signing import sign_head
from protocol.times import rfc3339
from sync.client import STREAM_STOPPING, CentreClient, Outcome, UploadResult
from sync.files import disk_free_mb
from sync.provision import Provisioning
from sync.settings import SyncSettings
from sync.timing import Backoff, wall_now

log = logging.getLogger(__name__)

MIN_BATCH = 10  # ≈ 6 KB: fits a 10 s timeout even on a link that carries 1 KB/s
GROW_AFTER = 8  # successes in a row before a shrunken batch size doubles again

# Meta key (in the event store) holding why this stream's upload stopped, as JSON (StreamStop).
STREAM_STOPPED_META_KEY = "sync.stream_stopped"
PRUNE_INTERVAL_S = 3600.0

# Outcomes of a drain pass besides the centre's answers (sync.client.Outcome):
STREAM_STOPPED = "stream_stopped"  # the stream was already stopped; nothing was sent
EVENTS_PRUNED = "events_pruned"    # the centre needs events this unit no longer has (stops the stream)
STORE_ERROR = "store_error"        # the local store could not be read or updated
INTERNAL_ERROR = "internal_error"  # a bug; logged with its traceback, retried with backoff

T = TypeVar("T")


class EventSource(Protocol):
    """What the uploader needs of the unit's event store (kiosk.events.EventStore is one).

    Events are the PROTOCOL.md dicts, in one stream, seq 1, 2, 3… with no gaps. `acked_through` is
    the last seq the centre acknowledged, `backlog` how many events follow it up to the newest.
    When the store cannot read or write, its methods raise one of the exception types the
    Uploader is given as `store_errors`; the uploader then keeps every event and tries later.
    """

    path: Path        # the store's file: health reports the free space of its disk
    stream_id: str

    @property
    def acked_through(self) -> int: ...

    @property
    def backlog(self) -> int: ...

    async def read(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Events with seq > after, in seq order, at most `limit` (fewer where pruned)."""

    async def set_acked_through(self, seq: int) -> None:
        """Record, durably, what the centre acknowledged (it moves back when the centre asks to
        resend)."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str | None) -> None:
        """Store a value durably next to the events (None removes it)."""

    async def prune(self, retention_s: float) -> int:
        """Delete acknowledged events older than `retention_s` (never the newest: the next event
        chains onto it); returns how many went."""


@dataclass(frozen=True)
class StreamStop:
    code: str       # conflict, bad_signature, invalid or events_pruned
    message: str
    at: str         # wall time, RFC 3339
    stream_id: str
    first_seq: int  # first seq of the batch the centre refused (or that is missing)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "StreamStop":
        raw = json.loads(text)
        return cls(str(raw["code"]), str(raw.get("message", "")), str(raw.get("at", "")),
                   str(raw.get("stream_id", "")), int(raw.get("first_seq", 0)))

    def describe(self) -> str:
        return f"upload of stream {self.stream_id} stopped since {self.at}: {self.code} at seq {self.first_seq}" + (
            f" ({self.message})" if self.message else "")


def read_stream_stop(meta_value: str | None) -> StreamStop | None:
    """Parse the stored stop record (for `kiosk status`, which reads the meta table itself)."""
    if not meta_value:
        return None
    try:
        return StreamStop.from_json(meta_value)
    except (ValueError, KeyError, TypeError):
        # An unreadable record still means "stopped": never resume a stream on a guess.
        return StreamStop("unknown", f"unreadable stop record: {meta_value[:200]}", "", "", 0)


@dataclass(frozen=True)
class DrainResult:
    outcome: str            # "ok", a sync.client.Outcome value, or one of the pass outcomes above
    sent: int               # events newly acknowledged by the centre in this pass
    stored: int             # of those the centre stored now (the rest it already held)
    duplicates: int
    acked_through: int
    backlog: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK

    def to_dict(self) -> dict[str, Any]:
        """The local API's answer to POST /v1/sync/drain."""
        return {"outcome": str(self.outcome), "sent": self.sent, "stored": self.stored,
                "duplicates": self.duplicates, "acked_through": self.acked_through,
                "backlog": self.backlog, "error": self.error}


class _NextBatch:
    """The batch after the one being uploaded, read from the store while the centre handles that
    one. Reading and decoding 500 events is about a tenth of a batch's round trip on a PC (more on
    a Pi's CPU and SD card); done meanwhile, it no longer adds to the drain's time.

    The read is used only if the next batch starts where it was read from (the centre acknowledged
    the whole batch); after a partial acknowledgement or a gap it is dropped and read afresh, so
    what is sent never depends on the guess. Reading never changes the store."""

    def __init__(self, store: EventSource) -> None:
        self._store = store
        self._after: int | None = None
        self._task: asyncio.Future[list[dict[str, Any]]] | None = None

    def read_ahead(self, after: int) -> None:
        self.drop()
        self._after = after
        self._task = asyncio.ensure_future(self._store.read(after, MAX_BATCH))

    async def take(self, after: int) -> list[dict[str, Any]]:
        """The events with seq > after (up to a batch), read ahead if that read is the one."""
        task, read_after = self._task, self._after
        self._task = self._after = None
        if task is not None:
            if read_after == after:
                return await task
            self._discard(task)
        return await self._store.read(after, MAX_BATCH)

    def drop(self) -> None:
        if self._task is not None:
            self._discard(self._task)
        self._task = self._after = None

    @staticmethod
    def _discard(task: asyncio.Future) -> None:
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved, so asyncio does not log it as never retrieved
        else:
            task.cancel()


class Uploader:
    """`version` is the unit's software version, reported in health; `store_errors` the exception
    types with which `store` says it cannot read or write (see EventSource). Without them a store
    failure is not told from a bug: run() logs it and backs off, drain_once() raises it."""

    def __init__(self, store: EventSource, provisioning: Provisioning, settings: SyncSettings,
                 health: Callable[[], dict[str, Any]] | None = None, *, version: str | None = None,
                 store_errors: tuple[type[Exception], ...] = (),
                 client: CentreClient | None = None, clock: Callable[[], float] = time.monotonic,
                 rng: Callable[[], float] = random.random) -> None:
        self._store = store
        self._provisioning = provisioning
        self._settings = settings
        self._health = health or dict
        self._version = version
        self._store_errors = store_errors
        self._client = client or CentreClient(
            provisioning.centre_url, unit_id=provisioning.unit_id, unit_token=provisioning.unit_token,
            # A CA file named in the config wins over the one copied in at provisioning.
            ca_file=settings.ca_file or provisioning.ca_file, timeout_s=settings.timeout_s)
        self._clock = clock
        self._backoff = Backoff(rng=rng)
        # Events per batch. It halves after a batch gets no answer and doubles back after
        # GROW_AFTER successes in a row: on a link too slow to carry 500 events within the timeout
        # the same full batch would otherwise time out forever and the backlog never drain, and
        # growing back slowly keeps a slow link from paying a timeout for every other batch.
        self.batch_size = MAX_BATCH
        self._successes_at_size = 0
        self._wake = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._started = clock()
        self._next_attempt = -math.inf
        self._last_request = -math.inf
        self._last_prune = -math.inf
        self._retry_delay: float | None = None
        self._last_success_at: str | None = None
        self._last_heartbeat_at: str | None = None
        self._last_error: dict[str, Any] | None = None
        self._stop: StreamStop | None = None
        self._stop_loaded = False

    # --- what the app calls --------------------------------------------------------------

    def notify(self, *_: object) -> None:
        """New events were committed: upload now unless backing off. Call on the loop's thread;
        the extra arguments let it be registered directly as an app event listener."""
        self._wake.set()

    async def run(self) -> None:
        """Upload, heartbeat and prune until cancelled."""
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a bug must not end uploading for good: log, back off, go on
                log.exception("uploader step failed")
                self._note_failure(INTERNAL_ERROR, f"{type(error).__name__}: {error}")

    async def drain_once(self, progress: Callable[[int, int], None] | None = None) -> DrainResult:
        """One full pass now (ignoring any backoff): every unsent event, in batches, in seq order.
        `progress(done, total)` is called on the loop thread as batches are acknowledged."""
        await self._load_stop()
        async with self._pass_lock:
            if self._stop is None and self._store.backlog == 0:
                # Nothing to send: a heartbeat still proves (or disproves) that the centre answers.
                reply = await self._send_heartbeat()
                error = None if reply.outcome is Outcome.OK else reply.message
                result = self._result(reply.outcome, {"sent": 0, "stored": 0, "duplicates": 0}, error)
            else:
                result = await self._pass(progress)
        self._wake.set()  # let run() re-plan: a success here ends its backoff
        return result

    def status(self) -> dict[str, Any]:
        now = self._clock()
        failing = self._backoff.failures > 0
        retry_in = max(0.0, self._next_attempt - now) if failing else None
        return {
            "centre_url": self._provisioning.centre_url,
            "unit_id": self._provisioning.unit_id,
            "stream_id": self._store.stream_id,
            "acked_through": self._store.acked_through,
            "backlog": self._store.backlog,
            "last_success_at": self._last_success_at,
            "last_heartbeat_at": self._last_heartbeat_at,
            "last_error": self._last_error,
            "consecutive_failures": self._backoff.failures,
            "retry_delay_s": self._retry_delay if failing else None,
            "next_retry_in_s": None if retry_in is None else round(retry_in, 3),
            "next_retry_at": None if retry_in is None else rfc3339(
                datetime.fromtimestamp(time.time() + retry_in).astimezone()),
            "stream_stopped": self._stop is not None,
            "stream_stopped_reason": asdict(self._stop) if self._stop else None,
        }

    def close(self) -> None:
        self._client.close()

    # --- the loop ------------------------------------------------------------------------

    async def _step(self) -> None:
        await self._load_stop()
        # Clear before looking, so a notify() that lands while we decide is not lost.
        self._wake.clear()
        now = self._clock()
        if now < self._next_attempt:
            await self._sleep(self._next_attempt - now)  # notify() wakes us only to re-plan
            return
        if self._stop is None and self._store.backlog > 0:
            async with self._pass_lock:
                await self._pass(None)
        else:
            heartbeat_due = self._last_request + self._settings.heartbeat_s
            if now < heartbeat_due:
                await self._sleep(heartbeat_due - now)
                return
            await self._heartbeat()
        await self._maybe_prune()

    async def _sleep(self, seconds: float) -> None:
        """Wait until `seconds` pass or notify() is called. Not asyncio.wait_for: on Python 3.11 it
        loses a cancel that arrives as the wait completes, and then the service cannot stop."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([waiter], timeout=seconds)
        finally:
            waiter.cancel()

    async def _maybe_prune(self) -> None:
        # Pruning follows acknowledgements: only while the centre answers, at most once an hour.
        if self._backoff.failures or self._clock() - self._last_prune < PRUNE_INTERVAL_S:
            return
        self._last_prune = self._clock()
        try:
            removed = await self._store_call(self._store.prune(self._settings.retention_days * 86400))
        except self._store_errors as error:
            log.warning("pruning acknowledged events failed (will retry in an hour): %s", error)
            return
        if removed:
            log.info("pruned %d acknowledged events older than %d days", removed, self._settings.retention_days)

    # --- one pass ------------------------------------------------------------------------

    async def _pass(self, progress: Callable[[int, int], None] | None) -> DrainResult:
        counts = {"sent": 0, "stored": 0, "duplicates": 0}
        if self._stop is not None:
            return self._result(STREAM_STOPPED, counts, self._stop.describe())
        try:
            return await self._send_backlog(counts, progress)
        except self._store_errors as error:
            message = f"local event store: {error}"
            self._note_failure(STORE_ERROR, message)
            return self._result(STORE_ERROR, counts, message)

    async def _send_backlog(self, counts: dict[str, int],
                            progress: Callable[[int, int], None] | None) -> DrainResult:
        next_batch = _NextBatch(self._store)
        try:
            return await self._send_batches(counts, progress, next_batch)
        finally:
            next_batch.drop()

    async def _send_batches(self, counts: dict[str, int], progress: Callable[[int, int], None] | None,
                            next_batch: _NextBatch) -> DrainResult:
        store = self._store
        if progress:
            progress(0, store.backlog)
        while store.backlog > 0:
            after = store.acked_through
            events = (await next_batch.take(after))[:self.batch_size]
            if not events or events[0]["seq"] != after + 1:
                message = f"events from seq {after + 1} are no longer in the local store"
                await self._stop_stream(EVENTS_PRUNED, message, after + 1)
                return self._result(EVENTS_PRUNED, counts, message)
            first, last = events[0]["seq"], events[-1]["seq"]
            if store.acked_through + store.backlog > last:  # the store holds events beyond this batch
                next_batch.read_ahead(last)
            reply = await self._upload(events)

            if reply.outcome is Outcome.OK:
                # Only what the centre says it holds, and never beyond what this batch carried.
                acked = min(reply.acked_through, last)
                if acked < first:
                    message = f"the centre acknowledged through {reply.acked_through} for seqs {first}..{last}"
                    self._note_failure(Outcome.SERVER_ERROR, message)
                    return self._result(Outcome.SERVER_ERROR, counts, message)
                await self._store_call(store.set_acked_through(acked))
                self._successes_at_size += 1
                if self._successes_at_size >= GROW_AFTER and self.batch_size < MAX_BATCH:
                    self.batch_size, self._successes_at_size = min(MAX_BATCH, self.batch_size * 2), 0
                counts["sent"] += acked - after
                counts["stored"] += reply.stored
                counts["duplicates"] += reply.duplicates
                self._note_success()
                if progress:
                    progress(counts["sent"], counts["sent"] + store.backlog)
                continue

            if reply.outcome is Outcome.GAP:
                expected = reply.expected_seq
                if expected >= first:
                    # Asking for seqs ahead of what we sent would mean skipping events: never.
                    message = f"the centre asks for seq {expected} after being sent {first}..{last}"
                    self._note_failure(Outcome.SERVER_ERROR, message)
                    return self._result(Outcome.SERVER_ERROR, counts, message)
                # The centre lost events it had acknowledged (restored from a backup?): resend them,
                # if this unit still has them.
                kept = await store.read(expected - 1, 1)
                if not kept or kept[0]["seq"] != expected:
                    message = (f"the centre needs events from seq {expected} again, but they were "
                               "pruned here after it had acknowledged them")
                    await self._stop_stream(EVENTS_PRUNED, message, expected)
                    return self._result(EVENTS_PRUNED, counts, message)
                log.warning("centre asks to resend from seq %d (was acknowledged through %d)", expected, after)
                await self._store_call(store.set_acked_through(expected - 1))
                continue

            if reply.outcome in STREAM_STOPPING:
                await self._stop_stream(reply.outcome.value, reply.message, first)
                return self._result(reply.outcome, counts, reply.message)

            # 401/403/5xx/no answer: the events wait here; try again after the backoff.
            if reply.outcome is Outcome.NETWORK_ERROR:
                self.batch_size, self._successes_at_size = max(MIN_BATCH, self.batch_size // 2), 0
            self._note_failure(reply.outcome, reply.message)
            return self._result(reply.outcome, counts, reply.message)
        return self._result(Outcome.OK, counts, None)

    def _result(self, outcome: str, counts: dict[str, int], error: str | None) -> DrainResult:
        return DrainResult(str(outcome), counts["sent"], counts["stored"], counts["duplicates"],
                           self._store.acked_through, self._store.backlog, error)

    async def _upload(self, events: list[dict[str, Any]]) -> UploadResult:
        body = self._body(events)
        try:
            # requests blocks: run it in a worker thread, never on the event loop.
            return await asyncio.to_thread(self._client.upload, body)
        finally:
            self._last_request = self._clock()

    async def _heartbeat(self) -> None:
        async with self._pass_lock:
            await self._send_heartbeat()

    async def _send_heartbeat(self) -> UploadResult:
        reply = await self._upload([])
        if reply.outcome is Outcome.OK:
            self._note_success()
            self._last_heartbeat_at = self._last_success_at
        else:
            # Even a 422 on a heartbeat never stops the stream: it carried no events.
            self._note_failure(reply.outcome, reply.message)
        return reply

    def _body(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        stream_id = self._store.stream_id
        head_sig = ""
        if events:
            last = events[-1]
            head_sig = sign_head(self._provisioning.private_key, stream_id, last["seq"], last["hash"])
        return {"stream_id": stream_id, "events": events, "head_sig": head_sig,
                "sent_at": wall_now(), "health": self._health_report()}

    def _health_report(self) -> dict[str, Any]:
        report: dict[str, Any] = {"uptime_s": int(self._clock() - self._started)}
        if self._version is not None:
            report["version"] = self._version
        free = disk_free_mb(self._store.path.parent)
        if free is not None:
            report["disk_free_mb"] = free
        try:
            extra = self._health() or {}
            report.update(extra)
        except Exception:  # the app's health callback must never stop uploads
            log.exception("health callback failed; sending the uploader's own health only")
        report["backlog"] = self._store.backlog
        report["stream_stopped"] = self._stop.code if self._stop else None
        return report

    # --- bookkeeping ---------------------------------------------------------------------

    def _note_success(self) -> None:
        self._backoff.reset()
        self._retry_delay = None
        self._next_attempt = -math.inf
        self._last_success_at = wall_now()
        # The centre answers again: an error from before is history, not the unit's state (a
        # stopped stream stays reported, in stream_stopped_reason).
        self._last_error = None

    def _note_failure(self, outcome: str, message: str) -> None:
        delay = self._backoff.next_delay()
        self._retry_delay = delay
        self._next_attempt = self._clock() + delay
        self._last_error = {"outcome": str(outcome), "message": message, "at": wall_now()}
        log.warning("upload to the centre failed (%s: %s); retry in %.1f s", outcome, message, delay)

    async def _load_stop(self) -> None:
        if self._stop_loaded:
            return
        self._stop = read_stream_stop(await self._store.get_meta(STREAM_STOPPED_META_KEY))
        self._stop_loaded = True
        if self._stop:
            log.error("%s; events are kept, nothing more is uploaded from this stream", self._stop.describe())

    async def _stop_stream(self, code: str, message: str, first_seq: int) -> None:
        self._stop = StreamStop(code, message, wall_now(), self._store.stream_id, first_seq)
        self._last_error = {"outcome": code, "message": message, "at": self._stop.at}
        log.error("%s; every event is kept, no more uploads from this stream", self._stop.describe())
        try:
            await self._store_call(self._store.set_meta(STREAM_STOPPED_META_KEY, self._stop.to_json()))
        except self._store_errors as error:
            # Still stopped for this run; after a restart the centre refuses the batch again.
            log.error("could not record the stop in the event store: %s", error)

    @staticmethod
    async def _store_call(write: Awaitable[T]) -> T:
        """Let a store write finish even if this task is cancelled mid-way (service stopping).
        The write runs on in the store's own thread regardless (EventStore: aiosqlite's), but the
        store updates its in-memory state (acked_through) only after the await returns: abandoning
        the await would leave the file and the object disagreeing, and the service closing the
        store under a live write."""
        task = asyncio.ensure_future(write)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait([task])
            raise

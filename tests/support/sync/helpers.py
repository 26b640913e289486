"""Helpers for the unit's sync tests (tests/sync, tests/kiosk/commands): the real event store, the
uploader as the unit makes it, and one scenario shape for every uploader test."""
from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

from kiosk import __version__
from kiosk.config import Settings, settings_from_mapping
from kiosk.events import EventStore
from kiosk.paths import events_db
from kiosk.service.sync_link import STORE_ERRORS
from sync.provision import Provisioning
from sync.settings import SyncSettings
from sync.uploader import Uploader

T = TypeVar("T")
UNIT_ID = "hall1-c3"


def run_async(coro: Awaitable[T], timeout: float = 30) -> T:
    """Run a coroutine on a fresh loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def make_settings(state_dir: Path, *, unit_id: str = UNIT_ID, listen: str = "127.0.0.1:8700",
                  **sync: Any) -> Settings:
    return settings_from_mapping({"unit": {"id": unit_id, "state_dir": str(state_dir)},
                                  "api": {"token": "local-secret", "listen": listen},
                                  "sync": {"timeout_s": 5, **sync}}, "test")


def sync_settings(**overrides: Any) -> SyncSettings:
    # model_construct: tests may use intervals below the config's minimums (heartbeat ≥ 5 s).
    base = SyncSettings(timeout_s=5).model_dump()
    base.update(overrides)
    return SyncSettings.model_construct(**base)


async def append_events(store: EventStore, count: int, start: int = 0) -> None:
    """Append `count` rating events in a few transactions (fast, but still the real store)."""
    items = [("rating.submitted", {"transaction_id": f"t{start + i}", "level": 5 - (start + i) % 5,
                                   "staff_id": "1001", "counter_id": "3"}) for i in range(count)]
    for offset in range(0, count, 1000):
        await store.append_many(items[offset:offset + 1000])


async def store_with(db_path: Path, count: int) -> EventStore:
    store = await EventStore.open(db_path)
    await append_events(store, count)
    return store


def fast_uploader(store: EventStore, provisioning: Provisioning, **kwargs: Any) -> Uploader:
    """The uploader as the unit makes it (its version, its store's errors). Jitter of 0.001 turns
    the 1 s…300 s backoff into 1 ms…0.3 s: the loop's logic, quickly."""
    kwargs.setdefault("rng", lambda: 0.001)
    kwargs.setdefault("version", __version__)
    kwargs.setdefault("store_errors", STORE_ERRORS)
    settings = kwargs.pop("settings", sync_settings())
    return Uploader(store, provisioning, settings, **kwargs)


@contextlib.asynccontextmanager
async def uploading(state_dir: Path, provisioning: Provisioning, events: int = 0, *, run: bool = False,
                    **kwargs: Any) -> AsyncIterator[tuple[EventStore, Uploader]]:
    """The state dir's event store with `events` more events, and an uploader for it (`fast_uploader`
    with `kwargs`); with `run`, its run() loop as a task. All of it is stopped and closed after."""
    store = await store_with(events_db(state_dir), events)
    uploader = fast_uploader(store, provisioning, **kwargs)
    task = asyncio.create_task(uploader.run()) if run else None
    try:
        yield store, uploader
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        uploader.close()
        await store.close()

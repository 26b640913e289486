"""Helpers for the unit's sync tests (imported by the tests and by conftest.py)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, TypeVar

from kiosk.config import Settings, settings_from_mapping
from kiosk.events import EventStore

T = TypeVar("T")
UNIT_ID = "hall1-c3"


def run_async(coro: Awaitable[T], timeout: float = 30) -> T:
    """Run a coroutine on a fresh loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def make_settings(state_dir: Path, *, unit_id: str = UNIT_ID, listen: str = "127.0.0.1:8700",
                  **sync: Any) -> Settings:
    return settings_from_mapping({"unit": {"id": unit_id, "state_dir": str(state_dir)},
                                  "api": {"token": "local-secret", "listen": listen},
                                  "sync": {"timeout_s": 5, **sync}}, "test")


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

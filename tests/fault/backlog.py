"""A provisioned unit with a large backlog, drained by `kiosk sync --once` processes (test helper for
the centre-side faults: a full database disk, a database server restart).

The backlog is written with the unit's own EventStore (its real append path), while no kiosk
process holds the store; `kiosk sync --once` then opens the store itself and uploads with
sync.uploader, exactly as a technician's drain does.
"""
from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from kiosk import paths
from kiosk.events import EventStore
from tests.fault.harness import kiosk_command

APPEND_BATCH = 1000


def hall_events(count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Completed transactions, each rated: a counter's working day, `count` events in all."""
    for number in range(count):
        transaction_id = f"tx-{number // 2:06d}-{uuid.uuid4().hex[:8]}"
        data = {"transaction_id": transaction_id, "staff_id": "1001", "counter_id": "1",
                "service_item": "提取", "ticket": f"B{number // 2 % 1000:03d}"}
        if number % 2 == 0:
            yield "transaction.completed", data
        else:
            yield "rating.submitted", {**data, "level": 1 + number % 5}


def build_backlog(state_dir: Path, count: int) -> None:
    async def append() -> None:
        store = await EventStore.open(paths.events_db(state_dir))
        try:
            events = hall_events(count)
            for done in range(0, count, APPEND_BATCH):
                await store.append_many(next(events) for _ in range(min(APPEND_BATCH, count - done)))
        finally:
            await store.close()

    asyncio.run(append())


@dataclass
class UnitStore:
    events: list[dict[str, Any]]
    acked_through: int
    backlog: int


def read_unit_store(state_dir: Path) -> UnitStore:
    async def read() -> UnitStore:
        store = await EventStore.open(paths.events_db(state_dir))
        try:
            events: list[dict[str, Any]] = []
            while page := await store.read(events[-1]["seq"] if events else 0, 1000):
                events += page
            return UnitStore(events, store.acked_through, store.backlog)
        finally:
            await store.close()

    return asyncio.run(read())


def sync_once(state_dir: Path) -> subprocess.CompletedProcess:
    return kiosk_command("sync", "--once", "--sim", "--state-dir", str(state_dir))


@dataclass
class DrainLog:
    """Every `kiosk sync --once` pass until one drained the whole backlog."""

    passes: list[subprocess.CompletedProcess] = field(default_factory=list)

    @property
    def failed_passes(self) -> list[subprocess.CompletedProcess]:
        return [done for done in self.passes if done.returncode != 0]

    def refusals(self, text: str) -> int:
        return sum(text in done.stderr for done in self.passes)


def drain_with_passes(state_dir: Path, *, timeout_s: float, pause_s: float = 0.5,
                      between: Callable[[], None] | None = None) -> DrainLog:
    """`kiosk sync --once` again and again (as a unit's retries would) until a pass succeeds."""
    log = DrainLog()
    deadline = time.monotonic() + timeout_s
    while True:
        done = sync_once(state_dir)
        log.passes.append(done)
        if done.returncode == 0:
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"the backlog did not drain within {timeout_s} s; last pass:\n"
                                 f"{done.stdout}{done.stderr}")
        if between is not None:
            between()
        time.sleep(pause_s)

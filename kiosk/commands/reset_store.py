"""`kiosk reset-store --yes`: start a new event stream when the store is broken (issue 15).

The store refuses to open a database that is missing, emptied, older than what the unit had
recorded, or whose hash chain breaks (storage_corrupt): deciding that those events are gone is a
technician's call, not the unit's. This command makes it explicitly and leaves a trace: it refuses
while the service runs and when the store is healthy, sets every old file aside under
`events.db.broken-<time>` (nothing is deleted), creates the new store and records in its meta why
it was reset and what it replaced, and logs the same. The centre sees a new stream of this unit;
the old one stays there as it was.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from kiosk.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from kiosk.config import Settings
from kiosk.events import EventStore, StoreCorrupt, StoreError, store_holder
from kiosk.paths import events_db
from kiosk.stream_record import load_stream_record, stream_record_path

log = logging.getLogger(__name__)

RESET_META_KEY = "reset_from"


async def _store_problem(db: Path) -> StoreError | None:
    try:
        store = await EventStore.open(db)
    except StoreError as error:
        return error
    await store.close()
    return None


def _set_aside(db: Path) -> list[Path]:
    """Rename the database, its WAL and shared memory, and the stream record, keeping them as a pair
    SQLite can still open; the new names."""
    base = db.with_name(f"{db.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
    moved = []
    for old, new in [(Path(f"{db}{suffix}"), Path(f"{base}{suffix}")) for suffix in ("", "-wal", "-shm")] + [
            (stream_record_path(db), stream_record_path(base))]:
        if old.exists():
            old.rename(new)
            moved.append(new)
    return moved


async def _new_store(db: Path, why: dict) -> str:
    store = await EventStore.open(db)
    try:
        await store.set_meta(RESET_META_KEY, json.dumps(why, ensure_ascii=False))
        return store.stream_id
    finally:
        await store.close()


def reset_store_command(settings: Settings, *, yes: bool, reason: str | None,
                        out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    db = events_db(settings.state_dir)
    holder = store_holder(db)
    if holder is not None:
        print(f"kiosk reset-store: {db} is in use by a running kiosk process ({holder}); stop it first "
              "(systemctl stop kiosk)", file=err)
        return EXIT_FAILED
    problem = asyncio.run(_store_problem(db))
    if problem is None:
        print(f"kiosk reset-store: the event store {db} is healthy; nothing to reset (it only replaces a "
              "broken one)", file=err)
        return EXIT_FAILED
    if not isinstance(problem, StoreCorrupt):
        print(f"kiosk reset-store: the event store is not damaged but cannot be used now ({problem}); fix "
              "that instead: a new stream would not help", file=err)
        return EXIT_FAILED
    if not yes:
        print(f"kiosk reset-store: {problem}\nThis sets the old files aside and starts a new stream. "
              "Nothing changed; run again with --yes (and --reason) to do it.", file=err)
        return EXIT_USAGE
    try:
        previous = load_stream_record(db)
    except (OSError, ValueError):
        previous = None
    moved = _set_aside(db)
    why = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "problem": str(problem), "reason": reason,
           "previous_stream_id": previous.stream_id if previous else None,
           "previous_head_seq": previous.head_seq if previous else None,
           "previous_acked_through": previous.acked_through if previous else None,
           "kept_as": [path.name for path in moved]}
    stream_id = asyncio.run(_new_store(db, why))
    log.warning("event store reset: new stream %s; %s", stream_id, json.dumps(why, ensure_ascii=False))
    print(f"new event stream {stream_id} in {db}\n"
          f"  because   {problem}\n"
          + (f"  reason    {reason}\n" if reason else "")
          + f"  old files {', '.join(str(path) for path in moved) or 'none'} (kept)", file=out)
    return EXIT_OK

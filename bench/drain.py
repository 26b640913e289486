"""A unit's backlog drained to a real centre (SQLite), against the centre's own bulk insert.

The unit side is the real thing: kiosk.events.EventStore (appended with append_many, the store's
real append path, in batches so set-up is quick), enrolled with `centre unit add` and
sync.provision.provision_unit over HTTP on 127.0.0.1, and drained by sync.uploader.Uploader's
drain_once into a `centre serve` process on a fresh SQLite file.

The baseline, in the same run on the same disk: the very rows the centre stores (made by the
centre's own parse_batch and event_rows from the same events) inserted into a fresh centre database
(the same engine: WAL, synchronous=FULL, BEGIN IMMEDIATE) with a Core executemany, one transaction
per 500 rows as the ingest does. Only the inserts and commits are timed; making the rows is not.

Prints both rates and the ratio drain/bulk (target >= 0.3). Bounded: the drain must finish
within --timeout seconds. Run: python bench/drain.py [--events 100000] [--dir DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_common.py, run as a script

from _common import CentreServer, add_unit, hall_events, machine_note, say  # noqa: E402

from centre.storage.db import Database  # noqa: E402
from centre.storage.migrate import upgrade_to_head  # noqa: E402
from centre.storage.models import Event, Stream, Unit  # noqa: E402
from centre.units.batches import parse_batch  # noqa: E402
from centre.units.upload import event_rows  # noqa: E402
from centre.web.bodies import decode_json  # noqa: E402
from kiosk import paths  # noqa: E402
from kiosk.config import SyncSettings  # noqa: E402
from kiosk.events import EventStore  # noqa: E402
from protocol import MAX_BATCH  # noqa: E402
from sync.provision import load_provisioning, provision_unit  # noqa: E402
from sync.uploader import Uploader  # noqa: E402

UNIT_ID = "bench-drain-01"
ADMIN_TOKEN = "bench-admin-token"
APPEND_BATCH = 5000
TARGET_RATIO = 0.3


async def build_backlog(store: EventStore, count: int) -> None:
    started = time.perf_counter()
    items = hall_events(count)
    for done in range(0, count, APPEND_BATCH):
        await store.append_many(next(items) for _ in range(min(APPEND_BATCH, count - done)))
    say(f"  backlog: {count} events in the unit's store ({time.perf_counter() - started:.1f} s)")


async def bulk_insert_baseline(store: EventStore, folder: Path) -> float:
    """Seconds spent inserting and committing the centre's rows for every event in the store."""
    db = Database(f"sqlite:///{folder / 'bulk.db'}")
    try:
        upgrade_to_head(db.engine)
        now = datetime.now(timezone.utc)
        with db.transaction() as session:  # the rows' foreign keys need their unit and stream
            session.add(Unit(unit_id=UNIT_ID, role="counter", counter_id="3", created_at=now))
            session.flush()
            session.add(Stream(stream_id=store.stream_id, unit_id=UNIT_ID, first_seen=now, last_seen=now))
        table = Event.__table__
        spent, after = 0.0, 0
        while True:
            events = await store.read(after, MAX_BATCH)
            if not events:
                return spent
            after = events[-1]["seq"]
            # The body as the uploader's requests call serialises it, parsed by the centre's code.
            text = json.dumps({"stream_id": store.stream_id, "events": events, "head_sig": "x",
                               "sent_at": now.isoformat()})
            rows = event_rows(UNIT_ID, parse_batch(text, decode_json(text)), now)
            started = time.perf_counter()
            with db.transaction() as session:
                session.execute(table.insert(), rows)
            spent += time.perf_counter() - started
    finally:
        db.dispose()


def centre_holds(db_file: Path, stream_id: str) -> tuple[int, int, int]:
    """(events, distinct seqs, max seq) the centre stored for the stream, read from its file."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM events "
                            "WHERE stream_id = ?", (stream_id,)).fetchone()


async def run(count: int, folder: Path, timeout_s: float) -> int:
    say(f"drain benchmark: {count} events; {machine_note()}")
    centre_db = folder / "centre.db"
    db_url = f"sqlite:///{centre_db}"
    state_dir = folder / "unit"

    say("set-up: `centre unit add`, `centre serve`, provisioning over http://127.0.0.1")
    token = add_unit(db_url, UNIT_ID)
    with CentreServer(db_url, folder / "centre.log", admin_token=ADMIN_TOKEN) as centre:
        provision_unit(state_dir, centre.url, UNIT_ID, token, timeout_s=30)
        provisioning = load_provisioning(state_dir)
        store = await EventStore.open(paths.events_db(state_dir))
        try:
            await build_backlog(store, count)

            say("baseline: the centre's bulk insert of the same rows (Core executemany, "
                f"one transaction per {MAX_BATCH} rows, fresh SQLite db, WAL + synchronous=FULL)")
            bulk_s = await bulk_insert_baseline(store, folder)
            bulk_rate = count / bulk_s
            say(f"  bulk insert: {bulk_s:.2f} s, {bulk_rate:,.0f} events/s")

            say("drain: Uploader.drain_once → centre serve (HTTP, 127.0.0.1, SQLite)")
            uploader = Uploader(store, provisioning, SyncSettings(timeout_s=60))
            next_report = [count // 10]

            def progress(done: int, total: int) -> None:
                if done >= next_report[0] or done == total:
                    say(f"  {done}/{total} acknowledged ({time.perf_counter() - started:.1f} s)")
                    next_report[0] = done + max(1, count // 10)

            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(uploader.drain_once(progress), timeout_s)
            finally:
                uploader.close()
            drain_s = time.perf_counter() - started
        finally:
            await store.close()
        if not result.ok or result.sent != count:
            say(f"FAILED: the drain ended {result.outcome} after {result.sent} events: {result.error}")
            return 1
        fleet = next(u for u in centre.admin_get("/api/v1/units")["units"] if u["unit_id"] == UNIT_ID)
    held, distinct, top = centre_holds(centre_db, store.stream_id)
    if (held, distinct, top) != (count, count, count) or fleet["acked_through"] != count:
        say(f"FAILED: the centre holds {held} events ({distinct} distinct, up to seq {top}), "
            f"acked_through {fleet['acked_through']}; expected {count}")
        return 1

    drain_rate = count / drain_s
    ratio = drain_rate / bulk_rate
    say("")
    say(f"drain:        {drain_s:7.2f} s  {drain_rate:10,.0f} events/s   "
        f"(stored {result.stored}, duplicates {result.duplicates}; centre holds seq 1..{top} once each)")
    say(f"bulk insert:  {bulk_s:7.2f} s  {bulk_rate:10,.0f} events/s   (baseline, same rows, same run)")
    say(f"ratio drain/bulk: {ratio:.2f}   target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="backlog size (default 100000)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="give up on the drain after this many seconds (default 900)")
    parser.add_argument("--dir", type=Path, help="work folder to keep (default: a temporary one, removed)")
    args = parser.parse_args()
    if args.events < 1:
        parser.error("--events must be at least 1")
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        if any(args.dir.iterdir()):
            parser.error(f"--dir {args.dir} is not empty (its unit would already be enrolled)")
        return asyncio.run(run(args.events, args.dir, args.timeout))
    with tempfile.TemporaryDirectory(prefix="bench-drain-") as folder:
        return asyncio.run(run(args.events, Path(folder), args.timeout))


if __name__ == "__main__":
    sys.exit(main())

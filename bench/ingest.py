"""Many units uploading small batches at once to `centre serve` on PostgreSQL: throughput, latency.

Set-up (not timed): a database of its own on the server named by $CENTRE_TEST_PG_URL (created here,
dropped at the end; `source .ci/postgres.sh` provides one), --units units registered with the
centre's own Python API (centre.enrolment.add_unit, one transaction) and then enrolled through the
real `POST /api/v1/enrol`, concurrently, each with its own Ed25519 key. Every batch is built ahead
of time, hash-chained and head-signed with the protocol package exactly as a unit does, so the load
generator only sends.

The load: each unit sends a batch of --batch-events events every --interval seconds (a random
phase per unit, so the fleet does not fire in step) for --duration seconds, through the real
upload endpoint over HTTP on 127.0.0.1. A unit waits for the answer before its next batch, as the
uploader does, on a connection of its own, kept alive as long as the server keeps it (so at 10 s
intervals every upload connects afresh, as in the field); at most --concurrency requests are in
flight (bench/_common.py's KeepAliveClient: httpx.AsyncClient cost this machine ~7 ms of CPU per
request, as much as the centre). Latency is measured from the batch's scheduled time, so time a
request waited on the client side counts against the centre, not hidden. Bounded: --grace seconds
after --duration, batches still unsent are counted, not sent. Afterwards the centre's fleet view
must show every unit acknowledged through exactly the events answered 200.

Prints requests/s, p50/p90/p99/max latency, errors, CPU per request (centre and load generator),
and the target (p99 < 100 ms, 0 errors).
Run: source .ci/postgres.sh && python bench/ingest.py [--units 1000] [--interval 10] [--duration 60]
     [--workers N]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_common.py and stats.py, run as scripts

from _common import (  # noqa: E402
    PG_URL_ENV, CentreServer, HttpError, KeepAliveClient, SignedStream, machine_cpu_seconds,
    machine_note, processes_cpu_seconds, say, temporary_pg_database,
)
from stats import percentile  # noqa: E402

from sqlalchemy.engine import make_url  # noqa: E402

from centre.storage.db import Database  # noqa: E402
from centre.storage.migrate import upgrade_to_head  # noqa: E402
from centre.units.enrolment import add_unit  # noqa: E402

ADMIN_TOKEN = "bench-admin-token"
TARGET_P99_MS = 100.0
ENROL_CONCURRENCY = 32
REQUEST_TIMEOUT_S = 30.0
PROGRESS_EVERY_S = 5.0


@dataclass
class Unit:
    stream: SignedStream
    bodies: list[bytes] = field(default_factory=list)  # its batches, in the order they must go
    events_per_batch: int = 0
    acked_batches: int = 0  # answered 200
    failed: bool = False    # a batch got an error or no answer: its later batches were not sent

    @property
    def acked_events(self) -> int:
        return self.acked_batches * self.events_per_batch


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)  # from the batch's scheduled time
    service_s: list[float] = field(default_factory=list)    # from when it had a connection
    late_s: list[float] = field(default_factory=list)  # how far behind its schedule a send started
    errors: dict[str, int] = field(default_factory=dict)
    not_sent: int = 0  # batches still unsent at the deadline: the centre fell behind
    generator_cpu_s: float = 0.0  # this process's CPU time during the load

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def register_units(db_url: str, count: int) -> list[tuple[SignedStream, str]]:
    """`count` units added in one transaction with the centre's own API; (stream, enrolment token)."""
    db = Database(db_url)
    try:
        upgrade_to_head(db.engine)
        now = datetime.now(timezone.utc)
        streams = [SignedStream(f"bench-unit-{n:04d}") for n in range(count)]
        with db.transaction() as session:
            tokens = [add_unit(session, s.unit_id, "counter", str(n % 40 + 1), now).token
                      for n, s in enumerate(streams)]
        return list(zip(streams, tokens))
    finally:
        db.dispose()


async def enrol_all(client: KeepAliveClient, registered: list[tuple[SignedStream, str]]) -> None:
    """Every unit through the real enrolment endpoint, a few at a time."""
    gate = asyncio.Semaphore(ENROL_CONCURRENCY)

    async def enrol(stream: SignedStream, token: str) -> None:
        body = json.dumps({"token": token, "unit_id": stream.unit_id, "public_key": stream.public_key})
        async with gate:
            answer = await client.post("/api/v1/enrol", body.encode("utf-8"), key=stream.unit_id)
        if answer.status != 201:
            raise RuntimeError(f"enrolling {stream.unit_id}: HTTP {answer.status} {answer.body[:300]!r}")
        stream.token = json.loads(answer.body)["unit_token"]

    await asyncio.gather(*(enrol(stream, token) for stream, token in registered))


def plan_batches(streams: list[SignedStream], rounds: int, batch_events: int) -> list[Unit]:
    """Every batch of every unit, chained and signed now, serialised as requests would send it."""
    units = []
    for stream in streams:
        unit = Unit(stream, events_per_batch=batch_events)
        for _ in range(rounds):
            unit.bodies.append(json.dumps(stream.batch(batch_events)).encode("utf-8"))
        units.append(unit)
    return units


async def run_unit(unit: Unit, client: KeepAliveClient, start: float, phase: float, interval: float,
                   deadline: float, tally: Tally) -> None:
    stream = unit.stream
    headers = {"Authorization": f"Bearer {stream.token}"}
    path = f"/api/v1/units/{stream.unit_id}/events"
    for index, body in enumerate(unit.bodies):
        scheduled = start + phase + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif time.perf_counter() > deadline:
            tally.not_sent += len(unit.bodies) - index  # bounded run: the centre fell too far behind
            return
        tally.late_s.append(max(0.0, -delay))
        sent = time.perf_counter()
        try:
            answer = await client.post(path, body, headers, key=stream.unit_id)
        except HttpError as error:
            tally.error(str(error).split(":")[0])
            unit.failed = True
            return  # a unit whose batch got no answer would resend it: stop this one's schedule
        answered = time.perf_counter()
        tally.latencies_s.append(answered - scheduled)
        tally.service_s.append(answered - sent - answer.queued_s)
        if answer.status != 200:
            tally.error(f"HTTP {answer.status} {_error_code(answer.body)}".strip())
            unit.failed = True
            return
        unit.acked_batches += 1


def _error_code(answer: bytes) -> str:
    try:
        return str(json.loads(answer)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


async def report_progress(tally: Tally, total: int, start: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        done = len(tally.latencies_s)
        elapsed = time.perf_counter() - start
        recent = tally.latencies_s[-200:]
        p99 = f", p99 of the last {len(recent)} {1000 * percentile(recent, 0.99):.1f} ms" if recent else ""
        say(f"  {elapsed:5.0f} s: {done}/{total} requests answered, {tally.error_count} errors{p99}")


async def load(centre_url: str, registered: list[tuple[SignedStream, str]], args: argparse.Namespace,
               rounds: int, meter: dict[str, Callable[[], float]]
               ) -> tuple[Tally, float, list[Unit], "CpuMeter"]:
    client = KeepAliveClient(centre_url, args.concurrency, REQUEST_TIMEOUT_S)
    try:
        started = time.perf_counter()
        await enrol_all(client, registered)
        say(f"  enrolled {len(registered)} units through POST /api/v1/enrol "
            f"({time.perf_counter() - started:.1f} s)")

        started = time.perf_counter()
        units = plan_batches([stream for stream, _ in registered], rounds, args.batch_events)
        total = rounds * len(units)
        say(f"  built and signed {total} batches of {args.batch_events} events "
            f"({time.perf_counter() - started:.1f} s)")
        # The batches and units built so far are left out of the garbage collector's full passes:
        # a pass over them paused this process for 100-170 ms now and then, time the latencies
        # would have counted against the centre.
        gc.collect()
        gc.freeze()

        say(f"load: {len(units)} units, a batch every {args.interval:g} s each, for {args.duration:g} s "
            f"({total} requests, offered {len(units) / args.interval:.0f} requests/s)")
        tally = Tally()
        phases = random.Random(4).sample(range(len(units)), len(units))  # spread evenly, not in step
        start = time.perf_counter() + 0.5
        deadline = start + args.duration + args.grace
        progress = asyncio.create_task(report_progress(tally, total, start))
        cpu = CpuMeter(meter)
        cpu_before = time.process_time()
        try:
            await asyncio.gather(*(
                run_unit(unit, client, start, args.interval * phases[n] / len(units),
                         args.interval, deadline, tally)
                for n, unit in enumerate(units)))
        finally:
            progress.cancel()
        elapsed = time.perf_counter() - start
        tally.generator_cpu_s = time.process_time() - cpu_before
        cpu.stop()
    finally:
        await client.aclose()
    return tally, elapsed, units, cpu


class CpuMeter:
    """CPU used by named parts and by the whole machine between its making and stop()."""

    def __init__(self, parts: dict[str, Callable[[], float]]) -> None:
        self._parts = parts
        self._start = {name: read() for name, read in parts.items()}
        self._machine_start = machine_cpu_seconds()
        self.used: dict[str, float] = {}
        self.machine_busy = 0.0  # fraction of all CPUs
        self._machine_busy_s = 0.0

    def stop(self) -> None:
        self.used = {name: read() - self._start[name] for name, read in self._parts.items()}
        busy, total = machine_cpu_seconds()
        self._machine_busy_s = busy - self._machine_start[0]
        self.machine_busy = self._machine_busy_s / max(1e-9, total - self._machine_start[1])

    def others_share(self, own_s: float) -> float:
        """Of the machine's busy time, the share not spent by the parts or by this process."""
        ours = sum(self.used.values()) + own_s
        return max(0.0, self._machine_busy_s - ours) / max(1e-9, self._machine_busy_s)


def check_stored(centre: CentreServer, units: list[Unit]) -> list[str]:
    """The centre's fleet view must show each unit acknowledged through exactly the events of its
    batches answered 200 (a unit whose last batch failed may or may not have had it stored)."""
    acked = {u["unit_id"]: u["acked_through"] for u in centre.admin_get("/api/v1/units")["units"]}
    return [f"{u.stream.unit_id}: acked_through {acked.get(u.stream.unit_id)}, answered 200 for "
            f"{u.acked_events} events" for u in units
            if not u.failed and acked.get(u.stream.unit_id, 0) != u.acked_events]


def run(args: argparse.Namespace, pg_url: str, folder: Path) -> int:
    rounds = max(1, int(args.duration // args.interval))
    if rounds * args.units > args.max_requests:
        raise SystemExit(f"{rounds * args.units} requests planned, more than --max-requests "
                         f"{args.max_requests}: shorten --duration or lengthen --interval")
    say(f"ingest benchmark: {machine_note()}")
    say("  the load generator, the centre and PostgreSQL all share those CPUs")
    extra = ("--workers", str(args.workers)) if args.workers else ()
    with temporary_pg_database(pg_url, "centre_bench") as db_url:
        say("set-up: a database of its own, units registered via centre.enrolment.add_unit")
        started = time.perf_counter()
        registered = register_units(db_url, args.units)
        say(f"  registered {args.units} units ({time.perf_counter() - started:.1f} s)")
        with CentreServer(db_url, folder / "centre.log", admin_token=ADMIN_TOKEN,
                          extra_args=extra) as centre:
            say(f"  centre serve on {centre.url} (PostgreSQL{', ' + ' '.join(extra) if extra else ''})")
            database = make_url(db_url).database
            meter = {
                "centre": centre.cpu_seconds,
                # its server processes for this benchmark's database (they name it in their title)
                "PostgreSQL": lambda: processes_cpu_seconds(
                    lambda pid, pgrp, cmdline: cmdline.startswith("postgres:") and f" {database} " in cmdline),
            }
            tally, elapsed, units, cpu = asyncio.run(load(centre.url, registered, args, rounds, meter))
            wrong = check_stored(centre, units)
            if tally.error_count:
                say("the centre's log around the errors:\n" + centre.log_tail(
                    15, only=("WARNING", "ERROR", "Traceback")))
    say("  the benchmark's database is dropped")

    answered = len(tally.latencies_s)

    def spread(samples_s: list[float]) -> tuple[float, ...]:
        ms = [1000 * s for s in samples_s] or [float("nan")]
        return tuple(percentile(ms, f) for f in (0.50, 0.90, 0.99)) + (max(ms),)

    p50, p90, p99, worst = spread(tally.latencies_s)
    s50, _, s99, _ = spread(tally.service_s)
    late_p99 = 1000 * percentile(tally.late_s, 0.99) if tally.late_s else 0.0
    say("")
    say(f"requests: {answered} answered in {elapsed:.1f} s = {answered / elapsed:.1f} requests/s, "
        f"offered {args.units / args.interval:.1f} ({args.units} units, {args.batch_events} events "
        f"per batch, every {args.interval:g} s)" + (
            f"; {tally.not_sent} batches not sent by the deadline: the centre fell behind"
            if tally.not_sent else ""))
    say(f"latency from the scheduled send: p50 {p50:.1f} ms  p90 {p90:.1f} ms  p99 {p99:.1f} ms  "
        f"max {worst:.1f} ms   (the centre's part, from a free connection to the answer: p50 "
        f"{s50:.1f} ms  p99 {s99:.1f} ms; sends started late by up to {late_p99:.1f} ms, p99)")
    requests = max(1, answered)
    say(f"CPU per request: centre {1000 * cpu.used['centre'] / requests:.2f} ms, its PostgreSQL "
        f"backends {1000 * cpu.used['PostgreSQL'] / requests:.2f} ms, load generator "
        f"{1000 * tally.generator_cpu_s / requests:.2f} ms (user+system, from /proc)")
    say(f"machine during the load: {cpu.machine_busy:.0%} of {os.cpu_count()} CPUs busy, "
        f"{cpu.others_share(tally.generator_cpu_s):.0%} of them by other work than this benchmark")
    say(f"errors: {tally.error_count}" + (f" {tally.errors}" if tally.errors else ""))
    if wrong:
        say(f"WRONG: {len(wrong)} units not acknowledged through what they sent, e.g. {wrong[:3]}")
    met = p99 < TARGET_P99_MS and tally.error_count == 0 and not tally.not_sent and not wrong
    say(f"target: p99 < {TARGET_P99_MS:.0f} ms (from the scheduled send) with 0 errors: "
        f"{'met' if met else 'MISSED'}")
    return 0 if not wrong else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1000, help="simulated units (default 1000)")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="seconds between one unit's batches (default 10; smaller compresses the schedule)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--grace", type=float, default=30.0,
                        help="after --duration, how long units behind schedule may still send "
                             "(default 30); what is left then is counted as not sent")
    parser.add_argument("--batch-events", type=int, default=3, help="events per batch (default 3)")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="most requests in flight at once (default 64)")
    parser.add_argument("--max-requests", type=int, default=50_000,
                        help="refuse to plan more requests than this (default 50000)")
    parser.add_argument("--workers", type=int, default=0,
                        help="pass --workers N to `centre serve` (default: its own default)")
    parser.add_argument("--pg-url", default=os.environ.get(PG_URL_ENV),
                        help=f"PostgreSQL server URL, a role that may create databases (default ${PG_URL_ENV})")
    args = parser.parse_args()
    if not args.pg_url:
        parser.error(f"no PostgreSQL: set {PG_URL_ENV} (as root: source .ci/postgres.sh) or give --pg-url")
    if min(args.units, args.batch_events, args.concurrency) < 1 or args.interval <= 0 or args.duration <= 0 \
            or args.grace < 0:
        parser.error("--units, --batch-events and --concurrency must be at least 1; times positive")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        return run(args, args.pg_url, Path(folder))


if __name__ == "__main__":
    sys.exit(main())

"""Key press → state machine → durable commit → screen render, on the sim, against a bare commit.

Prints p50/p99 of 2,000 rating presses beside a bare SQLite insert+commit (WAL, synchronous=FULL)
in the same folder in the same run, and their ratio (target: p99 ≤ 1.5× the bare commit); the RSS
after 10,000 presses (target < 60 MB); and the start-to-ready time of `kiosk run --sim` (target
< 2 s). Run: python bench/press_latency.py [--presses 2000] [--dir DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from kiosk.cli import skip_optional_imports  # noqa: E402

skip_optional_imports()  # as `kiosk run` does, so the RSS figure is the service's

from kiosk.app import KioskApp, build_devices  # noqa: E402
from kiosk.clock import SystemClock  # noqa: E402
from kiosk.config import builtin_sim_settings  # noqa: E402

SAMPLE_EVENT = json.dumps({"event_id": "0" * 36, "stream_id": "1" * 36, "type": "rating.submitted",
                           "wall_time": "2026-11-23T09:14:03.512+08:00", "data": {"level": 5, "x": "满意" * 20},
                           "prev_hash": "a" * 64, "hash": "b" * 64}, ensure_ascii=False)


class SteppingClock(SystemClock):
    """Real clocks, but monotonic time jumps ahead between presses so no press is debounced and
    every press lands in an open window — the benchmark measures work, not waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def mono_ns(self) -> int:
        return time.monotonic_ns() + int(self.offset * 1e9)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class BareCommits:
    """The baseline: one row inserted and committed on a plain sqlite3 connection, WAL + FULL."""

    def __init__(self, folder: Path) -> None:
        self.conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        self.samples: list[float] = []

    def commit_one(self) -> None:
        started = time.perf_counter()
        self.conn.execute("INSERT INTO events (body) VALUES (?)", (SAMPLE_EVENT,))
        self.samples.append(time.perf_counter() - started)

    def close(self) -> None:
        self.conn.close()


class AiosqliteCommits:
    """The same insert+commit through aiosqlite, as the event store does it: what the hop to
    aiosqlite's thread and back costs on its own, between the bare commit and a whole press."""

    def __init__(self) -> None:
        self.conn: aiosqlite.Connection | None = None
        self.samples: list[float] = []

    async def open(self, folder: Path) -> None:
        self.conn = await aiosqlite.connect(folder / "hop.db", isolation_level=None)
        for pragma in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                       "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)"):
            await self.conn.execute_fetchall(pragma)

    async def commit_one(self) -> None:
        started = time.perf_counter()
        await self.conn.execute_fetchall("INSERT INTO events (body) VALUES (?)", (SAMPLE_EVENT,))
        self.samples.append(time.perf_counter() - started)

    async def close(self) -> None:
        await self.conn.close()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def unit_presses(folder: Path, timed: int, total: int, bare: BareCommits,
                       hop: AiosqliteCommits) -> tuple[list[float], float]:
    """Presses, bare commits and aiosqlite commits alternate, so all see the same disk and the same
    neighbours."""
    await hop.open(folder)
    settings = builtin_sim_settings(folder / "unit")
    clock = SteppingClock()
    app = KioskApp(settings, build_devices(settings, sim=True, loop=asyncio.get_running_loop()), sim=True,
                   clock=clock)
    await app.start()
    try:
        await app.sign_in("1001")
        samples = []
        for i in range(total):
            await app.complete_transaction()
            clock.offset += 1.0
            started = time.perf_counter()
            types = await app.press_rating_key(1 + i % 3)   # 非常满意 / 满意 / 基本满意
            elapsed = time.perf_counter() - started
            if types != ["rating.submitted"]:
                raise RuntimeError(f"press {i} gave {types}")
            if i < timed:
                samples.append(elapsed)
                bare.commit_one()
                await hop.commit_one()
        return samples, rss_mb()
    finally:
        await app.stop()
        await hop.close()


def start_to_ready(folder: Path, runs: int = 3) -> list[float]:
    times = []
    for run in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--sim", "--state-dir",
                                 str(folder / f"ready{run}"), "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for line in proc.stdout:
                if re.search(r"kiosk API: http://", line):
                    times.append(time.perf_counter() - started)
                    break
            else:
                raise RuntimeError("kiosk run --sim never became ready")
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=2000)
    parser.add_argument("--rss-presses", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, help="folder on the disk to measure (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as raw:
        folder = Path(raw)
        baseline, hop = BareCommits(folder), AiosqliteCommits()
        presses, rss = asyncio.run(unit_presses(folder, args.presses, max(args.presses, args.rss_presses),
                                                baseline, hop))
        baseline.close()
        bare = baseline.samples
        ready = start_to_ready(folder)
    bare_p50, bare_p99 = percentile(bare, 0.5) * 1e3, percentile(bare, 0.99) * 1e3
    p50, p99 = percentile(presses, 0.5) * 1e3, percentile(presses, 0.99) * 1e3
    ratio = p99 / bare_p99
    print(f"bare SQLite insert+commit (WAL, FULL), {len(bare)} commits: "
          f"p50 {bare_p50:.3f} ms  p99 {bare_p99:.3f} ms")
    print(f"the same insert+commit through aiosqlite, {len(hop.samples)} commits: "
          f"p50 {percentile(hop.samples, 0.5) * 1e3:.3f} ms  p99 {percentile(hop.samples, 0.99) * 1e3:.3f} ms")
    print(f"press → machine → commit → render, {len(presses)} presses:     "
          f"p50 {p50:.3f} ms  p99 {p99:.3f} ms  mean {statistics.mean(presses) * 1e3:.3f} ms")
    print(f"p99 ratio press/bare: {ratio:.2f}  (target ≤ 1.5)  {'OK' if ratio <= 1.5 else 'OVER TARGET'}")
    print(f"RSS after {max(args.presses, args.rss_presses)} presses: {rss:.1f} MB  (target < 60 MB)  "
          f"{'OK' if rss < 60 else 'OVER TARGET'}")
    print(f"start to ready (kiosk run --sim → API answering), {len(ready)} runs: "
          f"best {min(ready):.2f} s  worst {max(ready):.2f} s  (target < 2 s)  "
          f"{'OK' if max(ready) < 2 else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

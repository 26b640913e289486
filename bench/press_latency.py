"""Key press → state machine → durable commit → screen render, on the sim, against a bare commit.

Prints p50/p99 of 2,000 rating presses beside a bare SQLite insert+commit (WAL, synchronous=FULL)
in the same folder in the same run, and their ratio (target: p99 ≤ 1.5× the bare commit); the RSS
after 10,000 presses (target < 60 MB); and the start-to-ready time of `kiosk run --sim` (target
< 2 s). Beside the first two it prints what the libraries alone cost, measured in the same run:
the same insert+commit through aiosqlite (the hop to its thread and back that every press takes),
and the RSS of a process that only imports the libraries the unit is built on.
Run: python bench/press_latency.py [--presses 2000] [--dir DIR]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/stats.py, run as a script

from kiosk.cli import skip_optional_imports  # noqa: E402
from stats import percentile  # noqa: E402

skip_optional_imports()  # as `kiosk run` does, so the RSS figure is the service's

from kiosk.app import KioskApp  # noqa: E402
from kiosk.devices import open_devices  # noqa: E402
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


THINKING_S = 3      # countdown seconds between the prompt appearing and the press
SETTLE_S = 0.002    # real time the loop is left idle before the measured steps


async def unit_presses(folder: Path, timed: int, total: int, bare: BareCommits,
                       hop: AiosqliteCommits) -> tuple[list[float], float]:
    """Each round: staff complete a transaction, the prompt counts down while the citizen thinks
    (the screen redrawn once a second, as the unit's timer does), then one press, one bare commit
    and one aiosqlite commit, their order rotating from round to round so none of the three is
    always first after the redraws and all see the same disk and the same neighbours."""
    await hop.open(folder)
    settings = builtin_sim_settings(folder / "unit")
    clock = SteppingClock()
    app = KioskApp(settings, open_devices(settings, sim=True, loop=asyncio.get_running_loop()), sim=True,
                   clock=clock)
    await app.start()
    samples: list[float] = []

    async def press(i: int) -> None:
        started = time.perf_counter()
        types = await app.press_rating_key(1 + i % 3)   # 非常满意 / 满意 / 基本满意
        elapsed = time.perf_counter() - started
        if types != ["rating.submitted"]:
            raise RuntimeError(f"press {i} gave {types}")
        if i < timed:
            samples.append(elapsed)

    async def bare_commit(i: int) -> None:
        bare.commit_one()

    async def hop_commit(i: int) -> None:
        await hop.commit_one()

    try:
        await app.sign_in("1001")
        for i in range(total):
            await app.complete_transaction()
            for _ in range(THINKING_S):
                clock.offset += 1.0
                app.refresh_screen()
            clock.offset += 0.5
            # The citizen's pause: the unit's own timer has its turn (it redraws after each
            # commit) and the loop is idle when the key goes down, as at a real counter.
            await asyncio.sleep(SETTLE_S)
            steps = [press, bare_commit, hop_commit] if i < timed else [press]
            first = i % len(steps)
            for step in steps[first:] + steps[:first]:
                await step(i)
        return samples, rss_mb()
    finally:
        await app.stop()
        await hop.close()


# What the unit's process imports from the libraries it is built on, without any of its own code:
# the floor under the RSS figure.
LIBRARY_FLOOR = """
import sys
for optional in ("numpy", "pkg_resources"):
    sys.modules[optional] = None
import asyncio, sqlite3, aiosqlite, pygame, pygame.freetype, pydantic, uvicorn, starlette.applications
import gpiozero, serial, requests, cryptography.hazmat.primitives.asymmetric.ed25519
import escpos.printer, qrcode, PIL.Image
pygame.display.init()
pygame.display.set_mode((800, 480))
pygame.freetype.init()
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) / 1024)
"""


# One unit of each role, started as `kiosk run --sim` starts it (devices, store, queue, API app),
# left to settle (the printer watch loads python-escpos's profile on its first round), then
# measured: what each role's process holds before any key is pressed.
ROLE_UNIT = """
import asyncio, json, sys, tomllib
from importlib import resources
from pathlib import Path
from kiosk.cli import skip_optional_imports
skip_optional_imports()
from kiosk.config import settings_from_mapping
from kiosk.service.run import assemble

role, printer, state_dir = sys.argv[1], sys.argv[2], sys.argv[3]
raw = tomllib.loads(resources.files("kiosk").joinpath("defaults/sim.toml").read_text(encoding="utf-8"))
raw["unit"].update(role=role, state_dir=state_dir)
raw["printer"]["kind"] = printer

async def main():
    app, sync, api = await assemble(settings_from_mapping(raw, "bench"), sim=True)
    await asyncio.sleep(1.5)
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    loaded = sorted(name for name in ("escpos", "qrcode", "PIL") if name in sys.modules)
    await sync.stop()
    await app.stop()
    print(json.dumps({"rss_mb": rss, "printing_libraries": loaded}))

asyncio.run(main())
"""
ROLES = (("counter without printer", "counter", "none"), ("counter with printer", "counter", "sim"),
         ("dispenser", "dispenser", "sim"), ("both", "both", "sim"))


def rss_by_role(folder: Path) -> list[tuple[str, float, list[str]]]:
    measured = []
    for name, role, printer in ROLES:
        state_dir = folder / f"role-{role}-{printer}"
        done = subprocess.run([sys.executable, "-c", ROLE_UNIT, role, printer, str(state_dir)], capture_output=True,
                              text=True, timeout=120,
                              env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})
        if done.returncode != 0:
            raise RuntimeError(f"{name}: {done.stderr.strip()[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        measured.append((name, result["rss_mb"], result["printing_libraries"]))
    return measured


def library_floor_mb() -> float:
    done = subprocess.run([sys.executable, "-c", LIBRARY_FLOOR], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYGAME_HIDE_SUPPORT_PROMPT": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"library floor measurement failed: {done.stderr.strip()}")
    return float(done.stdout.split()[-1])


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
        roles = rss_by_role(folder)
    floor = library_floor_mb()
    bare_p50, bare_p99 = percentile(bare, 0.5) * 1e3, percentile(bare, 0.99) * 1e3
    p50, p99 = percentile(presses, 0.5) * 1e3, percentile(presses, 0.99) * 1e3
    ratio = p99 / bare_p99
    print(f"bare SQLite insert+commit (WAL, FULL), {len(bare)} commits: "
          f"p50 {bare_p50:.3f} ms  p99 {bare_p99:.3f} ms")
    hop_p99 = percentile(hop.samples, 0.99) * 1e3
    print(f"the same insert+commit through aiosqlite, {len(hop.samples)} commits: "
          f"p50 {percentile(hop.samples, 0.5) * 1e3:.3f} ms  p99 {hop_p99:.3f} ms")
    print(f"press → machine → commit → render, {len(presses)} presses:     "
          f"p50 {p50:.3f} ms  p99 {p99:.3f} ms  mean {statistics.mean(presses) * 1e3:.3f} ms")
    print(f"p99 ratio press/bare: {ratio:.2f}  (target ≤ 1.5)  {'OK' if ratio <= 1.5 else 'OVER TARGET'}")
    print(f"p99 ratio aiosqlite alone/bare: {hop_p99 / bare_p99:.2f}  (the floor under the ratio above)")
    print(f"RSS after {max(args.presses, args.rss_presses)} presses: {rss:.1f} MB  (target < 60 MB)  "
          f"{'OK' if rss < 60 else 'OVER TARGET'}")
    print(f"RSS of a process that only imports the unit's libraries and opens the display: {floor:.1f} MB  "
          f"(the floor under the RSS above)")
    for name, rss_role, loaded in roles:
        print(f"RSS of a {name} unit, started and idle: {rss_role:.1f} MB  "
              f"(printing libraries loaded: {', '.join(loaded) or 'none'})")
    print(f"start to ready (kiosk run --sim → API answering), {len(ready)} runs: "
          f"best {min(ready):.2f} s  worst {max(ready):.2f} s  (target < 2 s)  "
          f"{'OK' if max(ready) < 2 else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

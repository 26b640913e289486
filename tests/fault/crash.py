"""Crash storm: a provisioned sim unit syncing to a real `centre serve`, killed with SIGKILL at random
moments while key presses and staff/queue actions arrive over its API, restarted, again and again;
the centre is killed mid-upload now and then too. At the end the unit drains, and:

- the centre holds exactly the events the unit committed (its own /v1/events after the last
  restart): none lost, none doubled, every field equal, seq 1..N, every hash chain intact;
- every action the API acknowledged (200) is among those events: each transaction id and called
  ticket it answered, each rating and reason it reported for the open transaction, and per event
  type at least as many events as the acknowledgements named.

By hand: `python -m tests.fault.crash --cycles 1000 [--seed S] [--db URL]` (default: a SQLite centre
in a temporary folder). The seed is printed first; the same seed replays the same storm and kill
moments (the processes' own timing still varies).
"""
from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

from tests.support.centre.process import CentreProcess
from tests.fault.harness import (UNIT_ENV, centre_events, centre_streams, compare_exactly_once, drain,
                                 provision_sim_unit, restart_centre, start_centre)
from tests.support.sim_unit import SimUnit

UNIT_ID = "crash-unit"
STAFF_ID = "1001"
# A storm lasts a random time in this range before the kill lands (the kill may come while a
# request is in flight, while a batch is being uploaded, or while the acknowledgement is written).
STORM_S = (0.15, 0.9)
# By default the centre is killed mid-upload every n-th cycle, at a random moment of that cycle.
CENTRE_KILL_EVERY = 12
# Every n-th cycle the unit is also killed once while it starts (opening the store, replaying,
# recording unit.started), before its API answers; START_KILL_S is when that kill lands.
START_KILL_EVERY = 10
START_KILL_S = (0.1, 1.2)
# Every action's HTTP timeout: generous for 2 busy cores, short enough that a hung unit is noticed.
ACTION_TIMEOUT_S = 10.0
# No cycle may take longer than this (start, storm, kill); a hang fails the run instead of blocking CI.
CYCLE_LIMIT_S = 60.0


@dataclass
class Acknowledged:
    """What the unit's API acknowledged: each of these must be among the committed events."""

    types: Counter = field(default_factory=Counter)             # event type -> times named in a 200
    identified: set[tuple[str, str]] = field(default_factory=set)  # (event type, transaction id or ticket)
    actions_sent: int = 0
    actions_acknowledged: int = 0
    actions_refused: int = 0    # a 4xx the rules call for (not signed in, queue empty, paused …)
    actions_cut: int = 0        # no answer: the kill landed while the request was in flight

    def missing_from(self, events: list[dict[str, Any]]) -> list[str]:
        """What was acknowledged but is not among `events` (empty when all is there)."""
        problems = []
        committed_types = Counter(event["type"] for event in events)
        for event_type, count in sorted(self.types.items()):
            if committed_types[event_type] < count:
                problems.append(f"{event_type}: {count} acknowledged, {committed_types[event_type]} committed")
        present = {(event["type"], key) for event in events
                   for key in (event["data"].get("transaction_id"), event["data"].get("ticket")) if key}
        problems += [f"{kind} for {key}" for kind, key in sorted(self.identified - present)]
        return problems


class Storm:
    """A seeded random sequence of staff actions, queue actions and key presses, sent one at a time
    (as from one counter) to a unit until it stops answering or the storm's time is up."""

    def __init__(self, rng: random.Random, acknowledged: Acknowledged) -> None:
        self.rng = rng
        self.ack = acknowledged
        # The transaction whose rating window the unit has open, as far as its answers tell.
        self.open_transaction: str | None = None
        self.actions: list[tuple[int, Callable[[SimUnit], bool]]] = [
            (30, self.press_rating_key), (14, self.complete), (10, self.press_ticket_key),
            (3, self.issue_ticket), (6, self.call_next), (2, self.recall), (1, self.no_show),
            (4, self.sign_in), (1, self.sign_out), (2, self.pause), (4, self.resume), (1, self.notice),
        ]
        self._weights = [weight for weight, _ in self.actions]

    def resync(self, unit: SimUnit) -> None:
        """After a restart: the open window (if any) is whatever the store rebuilt."""
        self.open_transaction = unit.state()["rating"]["transaction_id"]

    def run(self, unit: SimUnit, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            action = self.rng.choices(self.actions, weights=self._weights)[0][1]
            # Mostly paced like hands (some presses inside the 50 ms debounce on purpose).
            time.sleep(self.rng.choice((0.0, 0.02, 0.06, 0.06, 0.1)))
            if not action(unit):
                return

    # --- one HTTP call, and what its answer promises -------------------------------------

    def _call(self, unit: SimUnit, path: str, body: dict | None = None) -> dict[str, Any] | None:
        """The answer of a 200, None for a refusal; raises _Cut when the unit gave no answer."""
        self.ack.actions_sent += 1
        try:
            answer = requests.post(unit.url + path, json=body if body is not None else {},
                                   headers=unit.headers, timeout=ACTION_TIMEOUT_S)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            # No answer, or its body cut short: the caller never learnt the outcome, so nothing
            # was acknowledged (the event may or may not be committed; both are fine).
            self.ack.actions_cut += 1
            raise _Cut from None
        if answer.status_code == 200:
            self.ack.actions_acknowledged += 1
            payload = answer.json()
            self.ack.types.update(payload.get("events", []))
            return payload
        if 400 <= answer.status_code < 500 or answer.json()["error"]["code"] == "printer_unavailable":
            self.ack.actions_refused += 1
            return None
        raise AssertionError(f"POST {path} answered {answer.status_code}: {answer.text}")

    def _guarded(self, unit: SimUnit, path: str, body: dict | None = None) -> tuple[bool, dict | None]:
        try:
            return True, self._call(unit, path, body)
        except _Cut:
            return False, None

    def press_rating_key(self, unit: SimUnit) -> bool:
        alive, answer = self._guarded(unit, f"/v1/sim/keys/{self.rng.randint(1, 5)}/press")
        if answer and self.open_transaction:
            for kind in ("rating.submitted", "rating.reason"):
                if kind in answer["events"]:
                    self.ack.identified.add((kind, self.open_transaction))
        return alive

    def complete(self, unit: SimUnit) -> bool:
        alive, answer = self._guarded(unit, "/v1/transactions/complete", {"service_item": "提取"})
        if answer:
            self.open_transaction = answer["transaction_id"]
            self.ack.types["transaction.completed"] += 1
            self.ack.identified.add(("transaction.completed", answer["transaction_id"]))
        return alive

    def press_ticket_key(self, unit: SimUnit) -> bool:
        return self._guarded(unit, f"/v1/sim/ticket-keys/{self.rng.randint(1, 5)}/press")[0]

    def issue_ticket(self, unit: SimUnit) -> bool:
        alive, answer = self._guarded(unit, "/v1/tickets", {"category": "A"})
        if answer:
            self.ack.types["ticket.issued"] += 1
            self.ack.identified.add(("ticket.issued", answer["ticket"]))
        return alive

    def _queue_action(self, unit: SimUnit, path: str) -> bool:
        alive, answer = self._guarded(unit, path)
        if answer:
            self.ack.types[answer["event"]] += 1
            self.ack.identified.add((answer["event"], answer["ticket"]))
        return alive

    def call_next(self, unit: SimUnit) -> bool:
        return self._queue_action(unit, "/v1/queue/call-next")

    def recall(self, unit: SimUnit) -> bool:
        return self._queue_action(unit, "/v1/queue/recall")

    def no_show(self, unit: SimUnit) -> bool:
        return self._queue_action(unit, "/v1/queue/no-show")

    def sign_in(self, unit: SimUnit) -> bool:
        return self._guarded(unit, "/v1/staff/sign-in", {"staff_id": STAFF_ID})[0]

    def sign_out(self, unit: SimUnit) -> bool:
        alive, answer = self._guarded(unit, "/v1/staff/sign-out")
        if answer is not None:
            self.open_transaction = None  # signing out ends an open window
        return alive

    def pause(self, unit: SimUnit) -> bool:
        return self._guarded(unit, "/v1/counter/pause", {"reason": "break"})[0]

    def resume(self, unit: SimUnit) -> bool:
        return self._guarded(unit, "/v1/counter/resume")[0]

    def notice(self, unit: SimUnit) -> bool:
        alive, answer = self._guarded(unit, "/v1/notices/print", {"service_item": "JC01"})
        if answer:
            self.ack.types["notice.printed"] += 1
        return alive


def kill_while_starting(state_dir: Path, after_s: float) -> None:
    """`kiosk run --sim` killed with SIGKILL `after_s` into its start, whether it answers yet or not."""
    command = [sys.executable, "-m", "kiosk.cli", "run", "--sim", "--state-dir", str(state_dir),
               "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=UNIT_ENV)
    time.sleep(after_s)
    process.kill()
    process.wait(10)


class _Cut(Exception):
    """The unit stopped answering mid-request (it was killed)."""


@dataclass
class CrashSummary:
    seed: int
    cycles: int
    start_kills: int
    centre_kills: int
    unit_events: int
    centre_events: int
    lost: int
    duplicated: int
    ack: Acknowledged
    seconds: float

    def line(self) -> str:
        return (f"crash storm: seed={self.seed} cycles={self.cycles} unit_kills={self.cycles} "
                f"kills_while_starting={self.start_kills} centre_kills={self.centre_kills} "
                f"actions={self.ack.actions_sent} "
                f"acknowledged={self.ack.actions_acknowledged} refused={self.ack.actions_refused} "
                f"cut_by_kill={self.ack.actions_cut} committed={self.unit_events} "
                f"at_centre={self.centre_events} lost={self.lost} duplicated={self.duplicated} "
                f"chains=intact seconds={self.seconds:.0f}")

    def figures(self) -> dict[str, Any]:
        return {"seed": self.seed, "unit kills": self.cycles,
                "kills while starting": self.start_kills, "centre kills": self.centre_kills,
                "actions": self.ack.actions_sent, "acknowledged": self.ack.actions_acknowledged,
                "cut by a kill": self.ack.actions_cut, "events committed": self.unit_events,
                "events at centre": self.centre_events, "lost": self.lost, "duplicated": self.duplicated}


def run_crash_storm(db_url: str, work_dir: Path, cycles: int, seed: int, *,
                    centre_kill_every: int = CENTRE_KILL_EVERY,
                    log: Callable[[str], None] = print) -> CrashSummary:
    """The whole storm against a centre on `db_url`; raises AssertionError on any lost, doubled,
    altered or unacknowledged event, with the seed in the message."""
    log(f"crash storm: seed={seed} cycles={cycles} db={db_url.split('@')[-1]}")
    rng = random.Random(seed)
    started = time.monotonic()
    ack = Acknowledged()
    storm = Storm(rng, ack)
    state_dir = work_dir / "unit"
    centre = start_centre(db_url)
    centre_kills = 0
    start_kills = 0
    unit: SimUnit | None = None
    try:
        provision_sim_unit(db_url, centre.url, state_dir, UNIT_ID)
        for cycle in range(1, cycles + 1):
            cycle_started = time.monotonic()
            if cycle % START_KILL_EVERY == START_KILL_EVERY // 2:
                kill_while_starting(state_dir, rng.uniform(*START_KILL_S))
                start_kills += 1
            unit = SimUnit(state_dir).start()
            storm.resync(unit)
            if cycle == 1:
                storm.sign_in(unit)
            storm_s = rng.uniform(*STORM_S)
            # The kill lands at a random moment, independent of what the storm is doing.
            killer = threading.Timer(storm_s, unit.kill)
            centre_restarter = None
            if cycle % centre_kill_every == 0:
                holder: dict[str, CentreProcess] = {}

                def kill_and_restart_centre(old=centre, holder=holder) -> None:
                    holder["centre"] = restart_centre(old, hard=True)

                centre_restarter = threading.Timer(rng.uniform(0.0, storm_s), kill_and_restart_centre)
                centre_restarter.start()
            killer.start()
            storm.run(unit, storm_s + 1.0)  # runs on until the kill cuts a request off
            killer.join()
            unit.kill()
            if centre_restarter is not None:
                centre_restarter.join()
                centre = holder["centre"]
                centre_kills += 1
            if time.monotonic() - cycle_started > CYCLE_LIMIT_S:
                raise AssertionError(f"cycle {cycle} took over {CYCLE_LIMIT_S} s (seed {seed})")

        # The last restart: what the unit holds now is what it committed.
        unit = SimUnit(state_dir).start()
        drain(unit)
        committed = unit.events()
        held = centre_events(centre.url, UNIT_ID)
        try:
            counts = compare_exactly_once(committed, held)
            streams = centre_streams(centre.url, UNIT_ID)
            if len(streams) != 1:
                raise AssertionError(f"the centre holds {len(streams)} streams for one database: {streams}")
            missing = ack.missing_from(committed)
            if missing:
                raise AssertionError(f"acknowledged but not committed: {missing[:10]}")
        except AssertionError as failure:
            raise AssertionError(f"{failure} (seed {seed})") from None
        summary = CrashSummary(seed, cycles, start_kills, centre_kills, counts["unit_events"],
                               counts["centre_events"], counts["lost"], counts["duplicated"], ack,
                               time.monotonic() - started)
        log(summary.line())
        return summary
    finally:
        if unit is not None:
            unit.kill()
        centre.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fault.crash", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50, help="kill -9 / restart cycles (default 50)")
    parser.add_argument("--seed", type=int, default=None, help="replay a storm (default: a new seed)")
    parser.add_argument("--db", default=None,
                        help="the centre's database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder for a post-mortem")
    args = parser.parse_args(argv)
    if args.cycles < 1:
        parser.error("--cycles must be at least 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    work_dir = Path(tempfile.mkdtemp(prefix="crash-storm-"))
    # SIGINT stops the run through the finally blocks above (unit and centre are stopped).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run_crash_storm(args.db or f"sqlite:///{work_dir / 'centre.db'}", work_dir, args.cycles, seed)
    except AssertionError as failure:
        print(f"FAILED: {failure}\nstate kept in {work_dir}", file=sys.stderr)
        return 1
    if args.keep:
        print(f"state kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The pieces every fault test needs: a real `centre serve`, a sim unit provisioned to it, and the
check that the centre holds exactly the unit's events (test helper, also used by the scripts)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from protocol.chain import ChainError, verify_chain
from tests.support.centre.process import CentreProcess, add_unit
from tests.support.sim_unit import SimUnit

ADMIN_TOKEN = "fault-admin"
UNIT_ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
PROVISION_TIMEOUT_S = 120
DRAIN_TIMEOUT_S = 120.0
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def kiosk_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`kiosk ARGS…` as a process, output captured."""
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=env or UNIT_ENV, timeout=PROVISION_TIMEOUT_S)


def provision_sim_unit(db_url: str, centre_url: str, state_dir: Path, unit_id: str) -> str:
    """`centre unit add` then `kiosk provision --sim` against the running centre at centre_url
    (it may be a proxy in front of it); returns the enrolment token it used."""
    token = add_unit(db_url, unit_id, role="both", counter="1")
    done = kiosk_command("provision", "--sim", "--state-dir", str(state_dir), "--centre", centre_url,
                         "--unit-id", unit_id, f"--token={token}")
    if done.returncode != 0:
        raise RuntimeError(f"kiosk provision failed:\n{done.stdout}{done.stderr}")
    return token


def start_centre(db_url: str) -> CentreProcess:
    return CentreProcess(db_url, ADMIN_TOKEN).__enter__()


def restart_centre(old: CentreProcess, *, hard: bool) -> CentreProcess:
    """Stop the centre (kill -9 when `hard`, else SIGTERM) and start it again on the same port, so
    the units' stored centre URL stays right."""
    if hard and old.proc is not None and old.proc.poll() is None:
        old.proc.kill()
        old.proc.wait(10)
    else:
        old.__exit__(None, None, None)
    again = CentreProcess(old.db_url, ADMIN_TOKEN)
    again.port, again.url = old.port, old.url
    return again.__enter__()


def centre_events(centre_url: str, unit_id: str) -> list[dict[str, Any]]:
    """The unit's current stream as the centre holds it (the audit trail), every page."""
    collected: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = httpx.get(f"{centre_url}/api/v1/units/{unit_id}/events",
                           params={"after_seq": after, "limit": 1000}, headers=ADMIN_HEADERS, timeout=30)
        answer.raise_for_status()
        page = answer.json()["events"]
        if not page:
            return collected
        collected += page
        after = page[-1]["seq"]


def centre_streams(centre_url: str, unit_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{centre_url}/api/v1/units/{unit_id}/streams", headers=ADMIN_HEADERS, timeout=30)
    answer.raise_for_status()
    body = answer.json()
    return body["streams"] if isinstance(body, dict) else body


def fleet_row(centre_url: str, unit_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{centre_url}/api/v1/units", headers=ADMIN_HEADERS, timeout=30)
    answer.raise_for_status()
    body = answer.json()
    return next(u for u in (body["units"] if isinstance(body, dict) else body) if u["unit_id"] == unit_id)


def drain(unit: SimUnit, timeout_s: float = DRAIN_TIMEOUT_S) -> dict[str, Any]:
    """Ask the unit to upload everything now (ignoring its backoff) until its backlog is 0."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = _drain_once(unit)
        if last.get("outcome") == "ok" and last.get("backlog") == 0:
            return last
        if last.get("outcome") in ("conflict", "bad_signature", "invalid", "stream_stopped", "events_pruned"):
            raise AssertionError(f"the centre stopped the unit's stream: {last}")
        time.sleep(0.5)
    raise AssertionError(f"backlog did not drain within {timeout_s} s; last pass: {last}")


def _drain_once(unit: SimUnit) -> dict[str, Any]:
    answer = unit.post("/v1/sync/drain", {})
    answer.raise_for_status()
    return answer.json()


def check_chain(events: list[dict[str, Any]], where: str) -> None:
    """One stream, seq 1..N without a gap, every hash and link intact."""
    if not events:
        return
    seqs = [event["seq"] for event in events]
    if seqs != list(range(1, len(events) + 1)):
        missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))[:10]
        raise AssertionError(f"{where}: seq is not 1..{len(seqs)} in order without gaps "
                             f"(missing: {missing}, first out of place: {first_out_of_place(seqs)})")
    try:
        verify_chain(events, events[0]["stream_id"])
    except ChainError as broken:
        raise AssertionError(f"{where}: hash chain broken: {broken}") from None


def first_out_of_place(seqs: list[int]) -> int | None:
    return next((seq for position, seq in enumerate(seqs, start=1) if seq != position), None)


def compare_exactly_once(unit_events: list[dict[str, Any]], held: list[dict[str, Any]]) -> dict[str, int]:
    """The centre holds exactly the unit's committed events, each once, every field equal.
    Returns the counts for the summary; raises AssertionError saying what differs."""
    check_chain(unit_events, "unit")
    check_chain(held, "centre")
    unit_ids = Counter(event["event_id"] for event in unit_events)
    held_ids = Counter(event["event_id"] for event in held)
    lost = sum((unit_ids - held_ids).values())
    extra = sum((held_ids - unit_ids).values())
    duplicated = sum(count - 1 for count in held_ids.values() if count > 1)
    counts = {"unit_events": len(unit_events), "centre_events": len(held), "lost": lost,
              "duplicated": duplicated, "unknown_at_centre": extra}
    if lost or duplicated or extra:
        raise AssertionError(f"centre differs from the unit: {counts}")
    differing = [u["seq"] for u, c in zip(unit_events, held) if u != c]
    if differing:
        raise AssertionError(f"centre's copy differs in content at seqs {differing[:10]}")
    return counts

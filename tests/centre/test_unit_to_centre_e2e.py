"""Issue 4's end-to-end story with real processes on 127.0.0.1, on SQLite and on PostgreSQL:
a sim unit (`kiosk run --sim`) provisioned with `kiosk provision`, records while `centre serve` is
down; the centre starts, the backlog drains, and the centre holds exactly the unit's events, once
each, in order — then new events flow by themselves."""
from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.support.centre.process import CentreProcess, add_unit
from tests.support.sim_unit import SimUnit, wait_until

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

ADMIN = "e2e-admin"
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=120)


def centre_events(centre: CentreProcess, unit_id: str) -> list[dict]:
    collected: list[dict] = []
    after = 0
    while True:
        page = httpx.get(f"{centre.url}/api/v1/units/{unit_id}/events",
                         params={"after_seq": after, "limit": 1000},
                         headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10).json()["events"]
        if not page:
            return collected
        collected += page
        after = page[-1]["seq"]


def restart_on_same_port(old: CentreProcess) -> CentreProcess:
    again = CentreProcess(old.db_url, ADMIN)
    again.port, again.url = old.port, old.url
    return again


def test_backlog_recorded_offline_drains_exactly_once(db_url, tmp_path):
    state = tmp_path / "unit"
    token = add_unit(db_url, "sim-unit", role="both", counter="1")
    with CentreProcess(db_url, ADMIN) as centre:
        provisioned = kiosk("provision", "--sim", "--state-dir", str(state), "--centre", centre.url,
                            "--unit-id", "sim-unit", f"--token={token}")
        assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
    # The centre is down from here on.
    unit = SimUnit(state).start()
    try:
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        for key in (1, 2, 5, 3):
            unit.post("/v1/transactions/complete", {})
            unit.press(key)
        offline = unit.state()
        assert offline["backlog"] == offline["last_seq"] >= 10
        wait_until(lambda: unit.state()["sync"]["upload"]["last_error"], timeout=15)

        with restart_on_same_port(centre) as back:
            drained = kiosk("sync", "--once", "--sim", "--state-dir", str(state))
            assert drained.returncode == 0, drained.stdout + drained.stderr
            assert unit.state()["backlog"] == 0
            local = unit.events()
            assert centre_events(back, "sim-unit") == local  # every field, once each, in order

            # Online now: new events reach the centre by themselves, within seconds.
            unit.post("/v1/transactions/complete", {})
            unit.press(1)
            head = unit.state()["last_seq"]
            wait_until(lambda: len(centre_events(back, "sim-unit")) == head, timeout=20)
            assert centre_events(back, "sim-unit") == unit.events()

            fleet = httpx.get(f"{back.url}/api/v1/units", headers={"Authorization": f"Bearer {ADMIN}"},
                              timeout=10).json()
            row = next(u for u in (fleet["units"] if isinstance(fleet, dict) else fleet)
                       if u["unit_id"] == "sim-unit")
            assert row["acked_through"] == head and not row["stream_stopped"]
    finally:
        unit.kill()

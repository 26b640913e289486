"""Issue 14.1 through real processes on 127.0.0.1: `centre serve`, `centre unit add … --counter 3`,
`kiosk provision --sim --state-dir` with only what PROTOCOL.md says to give, then `kiosk run --sim`
on that state dir runs as the centre's unit, role and counter, and its events say window 3."""
from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.support.centre.process import CentreProcess, add_unit
from tests.support.sim_unit import SimUnit, wait_until

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

ADMIN = "provision-admin"
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=120, stdin=subprocess.DEVNULL)


def test_a_sim_unit_runs_as_the_centres_unit_role_and_counter(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    state = tmp_path / "hall1-c3"
    token = add_unit(db_url, "hall1-c3", role="counter", counter="3")
    with CentreProcess(db_url, ADMIN) as centre:
        provision = ("provision", "--sim", "--state-dir", str(state), "--centre", centre.url,
                     "--unit-id", "hall1-c3", f"--token={token}")
        # A flag that disagrees with the centre is refused before the token is used …
        wrong = kiosk(*provision, "--role", "counter", "--counter", "4")
        assert wrong.returncode == 1, wrong.stdout + wrong.stderr
        assert "the centre has unit hall1-c3, role counter, counter 3" in wrong.stderr
        # … so the same token still enrols, with nothing but what PROTOCOL.md says to give.
        done = kiosk(*provision)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "role counter, counter 3 (the centre's record)" in done.stdout

        unit = SimUnit(state).start()
        try:
            state_now = unit.state()
            assert (state_now["unit_id"], state_now["role"], state_now["counter_id"]) == ("hall1-c3", "counter", "3")
            assert any("running as the centre's unit hall1-c3, role counter, counter 3" in line
                       for line in unit.output), unit.output
            assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
            assert unit.post("/v1/transactions/complete", {}).status_code == 200
            assert "rating.submitted" in unit.press(1)
            local = unit.events()
            started = next(e for e in local if e["type"] == "unit.started")
            assert started["data"]["role"] == "counter"
            windows = {e["data"]["counter_id"] for e in local if "counter_id" in e["data"]}
            assert windows == {"3"}

            admin = {"Authorization": f"Bearer {ADMIN}"}

            def centre_has_them() -> bool:
                fleet = httpx.get(f"{centre.url}/api/v1/units", headers=admin, timeout=10).json()["units"]
                row = next(u for u in fleet if u["unit_id"] == "hall1-c3")
                return row["acked_through"] == local[-1]["seq"] and row

            row = wait_until(centre_has_them, timeout=30)
            assert (row["role"], row["counter_id"]) == ("counter", "3")
            held = httpx.get(f"{centre.url}/api/v1/units/hall1-c3/events", params={"limit": 1000},
                             headers=admin, timeout=10).json()["events"]
            rating = next(e for e in held if e["type"] == "rating.submitted")
            assert rating["data"]["counter_id"] == "3"  # the window the fleet page shows
        finally:
            unit.stop()

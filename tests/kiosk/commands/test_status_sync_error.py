"""Issue 14.4 through a real `kiosk run --sim` process: while the centre refuses, `kiosk status` says
what is wrong in words (never a Python dict), and once uploads succeed again the error is gone from
`kiosk status` and from GET /v1/state."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.provision import provision_unit
from tests.support.sim_unit import SimUnit, wait_until
from tests.support.sync.fake_centre import FakeCentre

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
SIM_UNIT = "sim-unit"  # the built-in sim config's id, so nothing but the sync state differs


def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=60, stdin=subprocess.DEVNULL)


def sync_line(status_output: str) -> list[str]:
    return [line for line in status_output.splitlines() if line.startswith("sync:")]


def test_status_says_the_sync_error_in_words_and_forgets_it_once_uploads_succeed(centre: FakeCentre,
                                                                                 tmp_path: Path):
    state = tmp_path / "state"
    provision_unit(state, centre.url, SIM_UNIT, centre.issue_token(SIM_UNIT))
    # Every upload and heartbeat is refused until the list is emptied.
    centre.refuse_uploads.extend([(503, {"code": "maintenance", "message": "back at 10:00"})] * 10_000)
    unit = SimUnit(state).start()
    try:
        failing = wait_until(lambda: unit.state()["sync"]["upload"]["last_error"], timeout=20)
        assert failing["outcome"] == "server_error"

        shown = kiosk("status", "--sim", "--state-dir", str(state))
        lines = sync_line(shown.stdout)
        assert len(lines) == 1, shown.stdout + shown.stderr
        line = lines[0]
        assert "{" not in line and "'outcome'" not in line  # no raw dict
        assert "uploads failing: the centre answered with an error — HTTP 503 maintenance back at 10:00 (at " in line
        assert "every event is kept" in line and "next in" in line

        centre.refuse_uploads.clear()
        drained = kiosk("sync", "--once", "--sim", "--state-dir", str(state))  # through the service
        assert drained.returncode == 0, drained.stdout + drained.stderr
        upload = unit.state()["sync"]["upload"]
        assert upload["last_error"] is None and upload["consecutive_failures"] == 0
        assert upload["backlog"] == 0 and upload["last_success_at"]

        shown = kiosk("status", "--sim", "--state-dir", str(state))
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert sync_line(shown.stdout) == [], shown.stdout
    finally:
        unit.stop()

"""kill -9 storms against a provisioned sim unit syncing to a real centre (tests.fault.crash)."""
from __future__ import annotations

import pytest

from tests.fault.crash import CENTRE_KILL_EVERY, START_KILL_EVERY, run_crash_storm
from tests.fault.results import record

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# CI's bounded sizes (a cycle costs about 2 s, most of it the unit's start); PostgreSQL gets fewer
# cycles and more frequent centre kills. `python -m tests.fault.crash --cycles 1000` by hand.
CYCLES = {"sqlite": 50, "postgresql": 4}
CENTRE_KILL_EVERY_CYCLES = {"sqlite": CENTRE_KILL_EVERY, "postgresql": 2}


def test_crash_storm_loses_and_doubles_nothing(db_url, fault_seed, tmp_path, request):
    backend = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    cycles = CYCLES[backend]
    kill_every = CENTRE_KILL_EVERY_CYCLES[backend]
    summary = run_crash_storm(db_url, tmp_path, cycles, fault_seed, centre_kill_every=kill_every)
    assert summary.lost == 0 and summary.duplicated == 0
    assert summary.unit_events == summary.centre_events > cycles  # each start records unit.started
    assert summary.ack.actions_acknowledged > cycles  # the storm really reached the unit
    assert summary.centre_kills == cycles // kill_every
    assert summary.start_kills == (cycles + START_KILL_EVERY // 2) // START_KILL_EVERY
    record(request.node.nodeid, f"{cycles} unit kill -9 cycles (+{summary.start_kills} while starting), "
           f"{summary.centre_kills} centre kill -9s, {backend}", summary.figures())

"""kill -9 storms against a provisioned sim unit syncing to a real centre (tests.fault.crash)."""
from __future__ import annotations

import pytest

from tests.fault.crash import CENTRE_KILL_EVERY, START_KILL_EVERY, run_crash_storm
from tests.fault.results import record

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# CI's bounded sizes; `python -m tests.fault.crash --cycles 1000` runs the long version by hand.
CYCLES = {"sqlite": 50, "postgresql": 12}


def test_crash_storm_loses_and_doubles_nothing(db_url, fault_seed, tmp_path, request):
    backend = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    cycles = CYCLES[backend]
    summary = run_crash_storm(db_url, tmp_path, cycles, fault_seed)
    assert summary.lost == 0 and summary.duplicated == 0
    assert summary.unit_events == summary.centre_events > cycles  # each start records unit.started
    assert summary.ack.actions_acknowledged > cycles  # the storm really reached the unit
    assert summary.centre_kills == cycles // CENTRE_KILL_EVERY
    assert summary.start_kills == (cycles + START_KILL_EVERY // 2) // START_KILL_EVERY
    record(request.node.name, f"{cycles} unit kill -9 cycles (+{summary.start_kills} while starting), "
           f"{summary.centre_kills} centre kill -9s, {backend}", summary.figures())

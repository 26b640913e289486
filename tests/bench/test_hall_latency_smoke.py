"""bench/hall_latency.py still runs end to end and prints its figures (tiny sizes: this checks that
it works, not how fast anything is; the target is read off a full run, never asserted)."""
from __future__ import annotations

import pytest

from tests.bench.test_smoke import run_bench


@pytest.mark.slow   # a real queue host with live streams
def test_hall_latency_prints_its_figures():
    out = run_bench("hall_latency.py", "--calls", "6", "--consoles", "2", "--halls", "1", "--pause-s", "0.05")
    for figure in ("call round trip", "call → hall display stream (6 arrivals)",
                   "call → staff console stream (12 arrivals)", "host RSS: idle", "with the streams connected"):
        assert figure in out, out

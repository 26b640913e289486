"""The benchmarks under bench/ still run end to end and print their figures (tiny sizes: this checks
that they work, not how fast anything is; their targets are read off a full run, never asserted)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout_s: float = 120) -> str:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow   # starts seven real unit processes (start-to-ready, RSS per role)
def test_press_latency_prints_its_figures(tmp_path):
    out = run_bench("press_latency.py", "--presses", "40", "--rss-presses", "40", "--dir", str(tmp_path))
    for figure in ("bare SQLite insert+commit", "through aiosqlite", "p99 ratio press/bare",
                   "p99 ratio aiosqlite alone/bare", "RSS after 40 presses",
                   "only imports the unit's libraries", "start to ready"):
        assert figure in out, out
    # RSS per role, and a counter without a printer loads no printing library (issue 13)
    assert "RSS of a counter without printer unit, started and idle" in out, out
    assert "(printing libraries loaded: none)" in out.split("counter without printer unit")[1].splitlines()[0], out
    for role in ("counter with printer", "dispenser", "both"):
        assert f"RSS of a {role} unit" in out and "printing libraries loaded: PIL, escpos, qrcode" in out, out


def test_ticket_latency_prints_its_figures(tmp_path):
    out = run_bench("ticket_latency.py", "--tickets", "30", "--dir", str(tmp_path))
    assert "p99" in out, out


@pytest.mark.slow
def test_drain_prints_its_figures(tmp_path):
    out = run_bench("drain.py", "--events", "600", "--timeout", "90", "--dir", str(tmp_path))
    assert "ratio" in out, out

"""Network faults between a unit and its centre (tests.fault.proxy): the backlog drains afterwards,
nothing lost or doubled, and a citizen's key press answers as fast while the link is black-holed."""
from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.fault.harness import (centre_events, compare_exactly_once, drain, provision_sim_unit,
                                 start_centre)
from tests.fault.proxy import FaultProxy
from tests.fault.results import record
from tests.support.sim_unit import SimUnit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SIM_CONFIG = Path(__file__).resolve().parents[2] / "kiosk" / "defaults" / "sim.toml"
# The unit's request timeout: short, so a black-holed upload gives up within a phase.
UPLOAD_TIMEOUT_S = 2
PRESSES_PER_PHASE = 10
# One citizen after another: slower than the burst rule (8 presses in 2 s count as key chatter).
PRESS_INTERVAL_S = 0.26
# The network faults in the order they are applied; "pass" before and after measures the baseline.
PHASES = ("pass", "blackhole", "lose_answers", "refuse", "reset", "delay", "throttle", "pass")
# A sanity bound, not a benchmark: a press that waited on the uploader would take the upload
# timeout (2 s); on two busy cores a press normally answers in a few tens of milliseconds.
PRESS_SANITY_BOUND_S = 1.0


def sim_config_with_short_timeout(tmp_path: Path) -> Path:
    config = tmp_path / "sim-short-timeout.toml"
    config.write_text(SIM_CONFIG.read_text(encoding="utf-8") + f"\n[sync]\ntimeout_s = {UPLOAD_TIMEOUT_S}\n",
                      encoding="utf-8")
    return config


def timed_press(unit: SimUnit, key: int) -> tuple[float, list[str]]:
    time.sleep(PRESS_INTERVAL_S)
    started = time.perf_counter()
    answer = unit.post(f"/v1/sim/keys/{key}/press")
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed, answer.json()["events"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_network_faults_drain_exactly_once_and_presses_stay_fast(tmp_path, request):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    centre = start_centre(db_url)
    unit = None
    try:
        with FaultProxy(centre.port, delay_s=0.5, rate_bps=2048) as proxy:
            provision_sim_unit(db_url, proxy.url, tmp_path / "unit", "net-unit")
            unit = SimUnit(tmp_path / "unit", config=sim_config_with_short_timeout(tmp_path)).start()
            assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
            acknowledged: set[str] = set()
            phases = []
            for mode in PHASES:
                proxy.set_mode(mode)
                drain_answer: dict = {}
                # An upload attempt meets the fault now, whatever the uploader's backoff says.
                kick = threading.Thread(target=lambda: drain_answer.update(_drain_attempt(unit)))
                kick.start()
                latencies = []
                for press in range(PRESSES_PER_PHASE):
                    transaction = unit.post("/v1/transactions/complete", {})
                    assert transaction.status_code == 200, transaction.text
                    elapsed, events = timed_press(unit, 1 + press % 3)
                    assert events == ["rating.submitted"]
                    acknowledged.add(transaction.json()["transaction_id"])
                    latencies.append(elapsed)
                kick.join(UPLOAD_TIMEOUT_S * 5)
                phases.append({"mode": mode, "p50_ms": round(statistics.median(latencies) * 1000, 1),
                               "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                               "max_ms": round(max(latencies) * 1000, 1),
                               "upload": drain_answer.get("outcome", "no answer"), "error": drain_answer.get("error"),
                               "proxy_acted": proxy.acted[mode]})

            for phase in phases:
                if phase["mode"] != "pass":
                    assert phase["proxy_acted"] > 0, f"the {phase['mode']} fault never met a connection"
                    assert phase["upload"] != "ok" or phase["mode"] in ("delay", "throttle"), phase
                assert phase["max_ms"] < PRESS_SANITY_BOUND_S * 1000, phase

            proxy.set_mode("pass")
            drained = drain(unit)
            committed = unit.events()
            counts = compare_exactly_once(committed, centre_events(centre.url, "net-unit"))
            completed = {e["data"]["transaction_id"] for e in committed if e["type"] == "transaction.completed"}
            assert acknowledged <= completed
    finally:
        if unit is not None:
            unit.kill()
        centre.__exit__(None, None, None)

    by_mode = {phase["mode"]: phase for phase in phases[1:-1]}
    baseline = phases[0]
    record(request.node.nodeid,
           f"{len(PHASES) - 2} faults × {PRESSES_PER_PHASE} rated transactions, unit timeout {UPLOAD_TIMEOUT_S} s",
           {"press p50/p99 normal ms": f"{baseline['p50_ms']}/{baseline['p99_ms']}",
            "press p50/p99 black-hole ms": f"{by_mode['blackhole']['p50_ms']}/{by_mode['blackhole']['p99_ms']}",
            "press max any phase ms": max(phase["max_ms"] for phase in phases),
            "uploads during faults": ", ".join(f"{p['mode']} {p['upload']}" for p in phases[1:-1]),
            "events": counts["unit_events"], "lost": counts["lost"], "duplicated": counts["duplicated"],
            "final drain sent": drained["sent"]})


def _drain_attempt(unit: SimUnit) -> dict:
    try:
        return unit.post("/v1/sync/drain", {}).json()
    except requests.RequestException as error:
        return {"outcome": f"no answer from the unit: {error}"}

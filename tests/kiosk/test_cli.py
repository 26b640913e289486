"""The `kiosk` command as a technician uses it: run, status, selftest, and clear config errors."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.sim_unit import SimUnit
from tests.support.unit_app import UnitApp

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def kiosk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.slow
def test_run_sim_with_no_config_starts_on_builtin_config():
    if not port_free(8700):
        pytest.skip("port 8700 is taken on this machine")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--sim"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert first.startswith("sim panel: http://127.0.0.1:8700/sim/")   # what a person opens first
        assert "kiosk API: http://127.0.0.1:8700" in second
        import requests

        state = requests.get("http://127.0.0.1:8700/v1/state", headers={"Authorization": "Bearer sim"},
                             timeout=5).json()
        assert state["role"] == "both" and state["counter_id"] == "1" and state["mode"] == "sim"
        signed = requests.post("http://127.0.0.1:8700/v1/staff/sign-in", json={"staff_id": "1001"},
                               headers={"Authorization": "Bearer sim"}, timeout=5)
        assert signed.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_selftest_sim_passes_and_prints_one_line_per_check(tmp_path):
    result = kiosk("selftest", "--sim", "--state-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    names = [line.split()[1] for line in result.stdout.splitlines() if line.strip()]
    assert names == ["config", "storage", "display", "font", "keys", "voice", "sound", "printer", "clock",
                     "centre", "disk"]
    report = json.loads(kiosk("selftest", "--sim", "--state-dir", str(tmp_path), "--json").stdout)
    assert report["ok"] is True and {c["name"] for c in report["checks"]} >= {"storage", "font"}


def test_selftest_fails_when_storage_is_unwritable(tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the state dir should be")
    result = kiosk("selftest", "--sim", "--state-dir", str(blocked))
    assert result.returncode == 1
    assert any(line.startswith("FAIL  storage") for line in result.stdout.splitlines())


def test_selftest_live_mode_checks_voice_clips_and_key_pins(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[unit]\nstate_dir = "{tmp_path / "state"}"\n[api]\ntoken = "t"\n'
                      '[display]\nfullscreen = false\n', encoding="utf-8")
    result = kiosk("selftest", "--config", str(config))
    lines = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    # No clips were rendered and this machine has no GPIO: a real unit would fail both.
    assert lines["voice"] == "FAIL" and lines["keys"] == "FAIL"
    assert lines["sound"] == "OK"  # SDL's dummy audio driver opens
    assert result.returncode == 1
    no_audio = subprocess.run([sys.executable, "-m", "kiosk.cli", "selftest", "--config", str(config)],
                              capture_output=True, text=True, timeout=60,
                              env={**ENV, "SDL_AUDIODRIVER": "no-such-audio-driver"})
    assert any(line.startswith("FAIL  sound") for line in no_audio.stdout.splitlines())


def test_selftest_as_root_never_writes_a_service_users_store(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (CI runs as root)")
    state = tmp_path / "state"
    unit = UnitApp(state).start()  # the store as the service leaves it: same app, same files
    unit.stop()
    service_uid = 4321
    for path in [state, *state.iterdir()]:
        os.chown(path, service_uid, service_uid)
    before = {p.name: (p.stat().st_uid, p.stat().st_mtime_ns) for p in state.iterdir()}
    result = kiosk("selftest", "--sim", "--state-dir", str(state))
    storage = next(line for line in result.stdout.splitlines() if line.split()[1] == "storage")
    assert storage.startswith("OK") and "read-only as root" in storage
    after = {p.name: (p.stat().st_uid, p.stat().st_mtime_ns) for p in state.iterdir() if p.name in before}
    assert after == before and not [p for p in state.iterdir() if p.stat().st_uid == 0]


def test_bad_config_is_refused_with_a_clear_message(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('[api]\ntoken = "t"\n[rating]\nwindow_s = 1\n', encoding="utf-8")
    result = kiosk("run", "--config", str(config))
    assert result.returncode == 2
    assert str(config) in result.stderr and "rating.window_s" in result.stderr


@pytest.mark.slow
def test_status_of_running_and_stopped_unit(tmp_path):
    unit = SimUnit(tmp_path / "state").start()
    try:
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        running = kiosk("status", "--sim", "--state-dir", str(tmp_path / "state"))
        assert running.returncode == 0, running.stdout + running.stderr
        assert "running" in running.stdout and "1001" in running.stdout and "staff.signed_in" in running.stdout
    finally:
        unit.stop()
    stopped = kiosk("status", "--sim", "--state-dir", str(tmp_path / "state"), "--json")
    report = json.loads(stopped.stdout)
    assert report["service"] == "stopped"
    assert report["staff"] == {"staff_id": "1001"}
    types = [e["type"] for e in report["last_events"]]
    assert report["backlog"] == report["last_seq"] == len(types) and report["storage"]["ok"] is True
    assert types[0] == "unit.started" and types[-1] == "staff.signed_in"


def test_status_of_a_unit_that_never_ran(tmp_path):
    result = kiosk("status", "--sim", "--state-dir", str(tmp_path))
    assert result.returncode == 1 and "never started" in result.stdout


def sim_scratch_dirs(tmp: Path) -> list[str]:
    return sorted(path.name for path in tmp.glob("kiosk-sim-*"))


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_sim_without_a_state_dir_removes_its_temporary_one_on_exit(tmp_path, stop):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--sim", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**ENV, "TMPDIR": str(tmp)})
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline(), proc.stdout.readline()][1:]   # after the panel's
        assert "kiosk API: http://127.0.0.1:" in lines[0], lines
        made = sim_scratch_dirs(tmp)
        assert len(made) == 1 and lines[1].strip() == f"state dir: {tmp / made[0]}"
        assert (tmp / made[0] / "events.db").exists()
        proc.send_signal(stop)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sim_scratch_dirs(tmp) == []


@pytest.mark.slow
def test_run_sim_removes_its_temporary_state_dir_when_it_cannot_start(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--sim", "--listen", f"127.0.0.1:{port}"],
                              capture_output=True, text=True, env={**ENV, "TMPDIR": str(tmp)}, timeout=60)
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert sim_scratch_dirs(tmp) == []

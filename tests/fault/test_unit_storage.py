"""The unit's storage under attack, through real `kiosk run --sim` processes (issue 15): a restart
on a disk that is still full, a flipped byte in a stored event, an emptied database, a state dir
that is a file or read-only. In every one nothing the unit acknowledged is lost."""
from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pygame
import pytest

from kiosk.screens.renderer import Renderer
from kiosk.screens.views import OutOfOrder
from protocol.chain import verify_chain
from protocol.events import EventType
from tests.fault.results import record
from tests.support.sim_unit import SimUnit, wait_until
from tests.support.tiny_disk import fill, mounted_tmpfs

BALLAST_BYTES = 192 * 1024     # given back once the unit is out of order: "space returns"
MAX_WRITES_TO_FILL = 2000
REFUSED_FOR_S = 5.0           # two and a half of the unit's storage probes (every 2 s)


def fill_with_transactions(unit, acknowledged: set[str]):
    """Complete transactions until the unit refuses one; the refusal."""
    for _ in range(MAX_WRITES_TO_FILL):
        answer = unit.post("/v1/transactions/complete", {})
        if answer.status_code != 200:
            return answer
        acknowledged.add(answer.json()["transaction_id"])
    return None


def until_refused_for(unit, acknowledged: set[str], seconds: float) -> None:
    """Keep writing until every write for `seconds` (longer than the unit's storage probe) was refused."""
    refused_since = time.monotonic()
    for _ in range(MAX_WRITES_TO_FILL):
        if time.monotonic() - refused_since > seconds:
            return
        answer = unit.post("/v1/transactions/complete", {})
        if answer.status_code == 200:
            acknowledged.add(answer.json()["transaction_id"])
            refused_since = time.monotonic()
        time.sleep(0.2)
    raise AssertionError("the unit kept finding room on a full disk")


def png_pixels(png: bytes) -> bytes:
    return pygame.image.tobytes(pygame.image.load(io.BytesIO(png), "x.png"), "RGB")


def completed_ids(events: list[dict]) -> set[str]:
    return {e["data"]["transaction_id"] for e in events if e["type"] == EventType.TRANSACTION_COMPLETED}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_restart_on_a_still_full_disk_starts_out_of_order_and_records_the_start_when_space_returns(
        tmp_path, request):
    with mounted_tmpfs(tmp_path / "disk", size_mb=1) as disk:
        state_dir = disk / "state"
        ballast = disk / "ballast"
        unit = SimUnit(state_dir).start()
        restarted = None
        try:
            ballast.write_bytes(b"\0" * BALLAST_BYTES)
            assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
            acknowledged: set[str] = set()
            refused = fill_with_transactions(unit, acknowledged)
            assert refused is not None and refused.status_code == 503, "the 1 MB disk never filled"
            assert refused.json()["error"]["code"] == "storage_unavailable"
            # Take the last bytes too, then let the unit use up what its WAL still had allocated,
            # so that on the restart not even its first write fits.
            fill(disk)
            until_refused_for(unit, acknowledged, REFUSED_FOR_S)
            head_before_kill = unit.state()["last_seq"]
            unit.kill()

            # Start again on the disk that is still full: it must come up, out of order.
            restarted = SimUnit(state_dir).start()
            health = restarted.get("/healthz", headers={})
            assert health.status_code == 503
            assert health.json() == {"status": "out_of_order", "storage": "storage_unavailable"}
            state = restarted.state()
            assert state["screen"] == "OutOfOrder" and state["storage"]["error"] == "storage_unavailable"
            assert restarted.post("/v1/transactions/complete", {}).status_code == 503

            ballast.unlink()
            wait_until(lambda: restarted.get("/healthz", headers={}).status_code == 200, timeout=20)
            after = restarted.post("/v1/transactions/complete", {})
            assert after.status_code == 200
            acknowledged.add(after.json()["transaction_id"])
            events = restarted.events()
            verify_chain(events, events[0]["stream_id"])
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            starts = [e["seq"] for e in events if e["type"] == EventType.UNIT_STARTED]
            assert len(starts) == 2, starts
            # The restart's unit.started is the first thing recorded once space returns.
            assert starts[1] == head_before_kill + 1
            lost = acknowledged - completed_ids(events)
            assert not lost
            assert restarted.stop() == 0
            output = "\n".join(restarted.output)
            assert "Traceback" not in output
            record(request.node.nodeid, "state dir on a 1 MB tmpfs filled by the unit's own writes, kill -9, "
                   "restart on the full disk, then space returns",
                   {"acknowledged before the kill": len(acknowledged) - 1, "events committed": len(events),
                    "unit.started recorded at seq": starts[1], "acknowledged but lost": len(lost)})
        finally:
            unit.kill()
            if restarted is not None:
                restarted.kill()


# --- a state dir that is a file, or read-only ---------------------------------------------------

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, env=ENV,
                          timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["run", "--listen", "127.0.0.1:0"], ["status"], ["sync", "--once"]],
                         ids=lambda c: c[0])
@pytest.mark.parametrize("where", ["the state dir", "a parent"])
def test_a_state_dir_that_is_a_file_is_one_clear_line_and_exit_2(tmp_path, command, where):
    """A wrong path: nothing the unit does can fix it, so it says so where the technician looks
    (the terminal, systemd's status) instead of showing an out-of-order screen that would say
    the storage is full."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state dir should be\n")
    state_dir = blocker if where == "the state dir" else blocker / "state"
    done = kiosk(command[0], "--sim", "--state-dir", str(state_dir), *command[1:])
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stdout, done.stdout + done.stderr
    assert str(state_dir) in lines[0] and "not a folder" in lines[0] and "--state-dir" in lines[0]
    assert blocker.read_text() == "a file where the state dir should be\n"


@pytest.mark.slow
def test_selftest_reports_a_state_dir_that_is_a_file_as_its_failed_storage_check(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    done = kiosk("selftest", "--sim", "--state-dir", str(blocker))
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    storage = [line for line in done.stdout.splitlines() if line.startswith("FAIL  storage")]
    assert len(storage) == 1 and f"state dir {blocker} is a file, not a folder" in storage[0]


def remount(mount_point, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount_point)], check=True, timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_read_only_state_dir_shows_out_of_order_says_so_once_and_resumes_when_writable(tmp_path, request):
    """Read-only happens to a working unit (the kernel remounts a failing SD card read-only; a
    wrong owner after maintenance): the citizen sees the out-of-order screen, /healthz says why,
    the log says it once in one line, and the unit resumes by itself when it can write again."""
    with mounted_tmpfs(tmp_path / "disk", size_mb=8) as disk:
        state_dir = disk / "state"
        unit = SimUnit(state_dir).start()
        assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
        acknowledged = {unit.post("/v1/transactions/complete", {}).json()["transaction_id"] for _ in range(3)}
        assert unit.stop() == 0
        remount(disk, "ro")
        again = None
        try:
            again = SimUnit(state_dir).start()
            health = again.get("/healthz", headers={})
            assert health.status_code == 503 and health.json()["storage"] == "storage_unavailable"
            state = again.state()
            assert state["screen"] == "OutOfOrder"
            assert "cannot be written" in state["storage"]["message"]
            time.sleep(5)   # two more attempts of the recovery loop, which must not repeat the line
            said = [line for line in again.output if "cannot be written" in line]
            assert len(said) == 1, said
            assert str(state_dir) in said[0] and "remount it read-write" in said[0]
            # (It could not announce its --listen port in the read-only dir; a unit on its configured
            # port is found there all the same.) The unit holds its state dir while out of order.
            status = kiosk("status", "--sim", "--state-dir", str(state_dir))
            assert "Traceback" not in status.stdout + status.stderr and "running" in status.stdout
            remount(disk, "rw")
            wait_until(lambda: again.get("/healthz", headers={}).status_code == 200, timeout=15)
            events = again.events()
            verify_chain(events, events[0]["stream_id"])
            assert acknowledged <= completed_ids(events)
            assert [e["type"] for e in events].count(EventType.UNIT_STARTED) == 2
            assert again.stop() == 0
            assert "Traceback" not in "\n".join(again.output)
            record(request.node.nodeid, "state dir remounted read-only under a stopped unit, started, remounted rw",
                   {"screen while read-only": state["screen"], "log lines saying so": len(said),
                    "acknowledged but lost": len(acknowledged - completed_ids(events))})
        finally:
            if again is not None:
                again.kill()
            remount(disk, "rw")


# --- a flipped byte in a stored event -----------------------------------------------------------

def flip_staff_id(db: Path, old: bytes = b'"staff_id":"1001"', new: bytes = b'"staff_id":"1091"') -> int:
    """Change one stored event's staff id in the file itself, as an editor or a bad sector would;
    the seq of the event changed."""
    raw = db.read_bytes()
    at = raw.rindex(old)
    db.write_bytes(raw[:at] + new + raw[at + len(old):])
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"   # what SQLite alone sees
        return conn.execute("SELECT seq FROM events WHERE body LIKE ?", (f"%{new.decode()}%",)).fetchone()[0]
    finally:
        conn.close()


def stored_head(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT max(seq) FROM events").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_flipped_byte_in_a_stored_event_stops_the_unit_out_of_order_naming_the_seq(tmp_path, request):
    state_dir = tmp_path / "state"
    db = state_dir / "events.db"
    unit = SimUnit(state_dir).start()
    assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
    for _ in range(5):
        assert unit.post("/v1/transactions/complete", {}).status_code == 200
    assert unit.stop() == 0
    broken_seq = flip_staff_id(db)
    head = stored_head(db)

    selftest = kiosk("selftest", "--sim", "--state-dir", str(state_dir))
    storage = [line for line in selftest.stdout.splitlines() if " storage " in line]
    assert selftest.returncode == 1 and storage[0].startswith("FAIL") and f"seq {broken_seq}" in storage[0]

    again = SimUnit(state_dir).start()
    try:
        health = again.get("/healthz", headers={})
        assert health.status_code == 503
        assert health.json() == {"status": "out_of_order", "storage": "storage_corrupt", "seq": broken_seq}
        state = again.state()
        assert state["screen"] == "OutOfOrder" and state["storage"]["seq"] == broken_seq
        expected = Renderer((800, 480)).render(OutOfOrder(f"数据存储损坏（第 {broken_seq} 条记录）", "1"))
        buffer = io.BytesIO()
        pygame.image.save(expected, buffer, "x.png")
        assert png_pixels(again.get("/v1/sim/display.png").content) == png_pixels(buffer.getvalue())
        status = kiosk("status", "--sim", "--state-dir", str(state_dir))
        assert f"storage_corrupt at seq {broken_seq}" in status.stdout and status.returncode == 1
        refused = again.post("/v1/transactions/complete", {})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "storage_corrupt"
        assert again.press(1) == []
        assert again.stop() == 0
    finally:
        again.kill()
    assert stored_head(db) == head   # nothing was chained onto the broken event
    stopped = kiosk("status", "--sim", "--state-dir", str(state_dir))
    assert f"storage_corrupt at seq {broken_seq}" in stopped.stdout
    record(request.node.nodeid, "\"1001\" → \"1091\" in one stored event of a stopped unit",
           {"seq changed": broken_seq, "seen by quick_check": "no", "selftest": "FAIL",
            "healthz": health.status_code, "events added after": stored_head(db) - head})


@pytest.mark.slow
def test_selftest_walks_the_whole_chain_where_a_start_walks_only_what_is_new(tmp_path):
    """A start checks the events added since the last start (it would otherwise read the whole
    log every time); selftest checks them all, so an event changed after its check is found."""
    state_dir = tmp_path / "state"
    db = state_dir / "events.db"
    for _ in range(2):   # the second start verifies what the first recorded
        unit = SimUnit(state_dir).start()
        assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
        assert unit.stop() == 0
    conn = sqlite3.connect(db)
    verified = int(conn.execute("SELECT value FROM meta WHERE key = 'chain_verified_seq'").fetchone()[0])
    conn.close()
    assert verified >= 2
    raw = db.read_bytes()
    at = raw.index(b'"staff_id":"1001"')
    db.write_bytes(raw[:at] + b'"staff_id":"1091"' + raw[at + 17:])
    selftest = kiosk("selftest", "--sim", "--state-dir", str(state_dir))
    assert selftest.returncode == 1 and "the hash chain breaks at seq 2" in selftest.stdout


# --- an emptied, deleted or older event database ------------------------------------------------

def damage(db: Path, how: str, older_copy: Path) -> None:
    if how == "emptied":
        os.truncate(db, 0)            # truncate -s 0 events.db
    elif how == "deleted":
        db.unlink()
    else:                             # an older copy put back (a backup restored over it)
        db.write_bytes(older_copy.read_bytes())


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", ["emptied", "deleted", "older copy"])
def test_an_emptied_or_replaced_database_is_corrupt_until_a_technician_resets_it(tmp_path, how, request):
    state_dir = tmp_path / "state"
    db = state_dir / "events.db"
    unit = SimUnit(state_dir).start()
    assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
    stream_id = unit.state()["stream_id"]
    assert unit.stop() == 0
    older_copy = tmp_path / "older.db"
    older_copy.write_bytes(db.read_bytes())
    unit = SimUnit(state_dir).start()
    for _ in range(3):
        assert unit.post("/v1/transactions/complete", {}).status_code == 200
    head = unit.state()["last_seq"]
    assert unit.stop() == 0
    damage(db, how, older_copy)
    size_after_damage = db.stat().st_size if db.exists() else None

    again = SimUnit(state_dir).start()
    try:
        health = again.get("/healthz", headers={})
        assert health.status_code == 503 and health.json()["storage"] == "storage_corrupt"
        assert "reset-store" in again.state()["storage"]["message"]
        assert again.post("/v1/transactions/complete", {}).status_code == 503
        status = kiosk("status", "--sim", "--state-dir", str(state_dir))
        assert "storage_corrupt" in status.stdout
        # The technician's command refuses while the unit runs, naming it.
        busy = kiosk("reset-store", "--sim", "--state-dir", str(state_dir), "--yes")
        assert busy.returncode == 1 and f"pid {again.proc.pid}" in busy.stderr
        assert again.stop() == 0
    finally:
        again.kill()
    # Nothing was made in its place: no new stream at seq 1.
    assert (db.stat().st_size if db.exists() else None) == size_after_damage
    stopped = kiosk("status", "--sim", "--state-dir", str(state_dir))
    assert stopped.returncode == 1 and "storage_corrupt" in stopped.stdout

    asked = kiosk("reset-store", "--sim", "--state-dir", str(state_dir))
    assert asked.returncode == 2 and "--yes" in asked.stderr
    done = kiosk("reset-store", "--sim", "--state-dir", str(state_dir), "--yes", "--reason", "SD card swapped")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "event store reset" in done.stdout and "SD card swapped" in done.stdout
    kept = sorted(path.name for path in state_dir.glob("events.db.broken-*"))
    assert kept and all(name.startswith("events.db.broken-") for name in kept)
    conn = sqlite3.connect(db)
    reset = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'reset_from'").fetchone()[0])
    conn.close()
    assert reset["previous_stream_id"] == stream_id and reset["previous_head_seq"] == head
    assert reset["reason"] == "SD card swapped" and reset["problem"]

    fresh = SimUnit(state_dir).start()
    try:
        assert fresh.get("/healthz", headers={}).status_code == 200
        assert fresh.state()["stream_id"] != stream_id
        assert [e["type"] for e in fresh.events()] == [EventType.UNIT_STARTED]
        assert fresh.stop() == 0
    finally:
        fresh.kill()
    again_refused = kiosk("reset-store", "--sim", "--state-dir", str(state_dir), "--yes")
    assert again_refused.returncode == 1 and "healthy" in again_refused.stderr
    record(request.node.nodeid, f"events.db {how} under a stopped unit with {head} events, then reset",
           {"healthz": health.status_code, "new stream at seq 1 before the reset": "no",
            "old files kept": len(kept)})

"""sd_notify as systemd sees it: a real AF_UNIX datagram socket standing in for systemd's, and a real
`kiosk run --sim` process started with NOTIFY_SOCKET and WATCHDOG_USEC in its environment."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

from kiosk.service.systemd import Notifier

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
START_TIMEOUT_S = 30.0
WATCHDOG_USEC = 600_000  # pings every 0.2 s: enough of them in a short test


@pytest.fixture
def notify_socket():
    """A datagram socket bound like systemd's; AF_UNIX paths must stay under 108 bytes, so it lives
    in a short temporary folder rather than pytest's deep tmp_path."""
    folder = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def receive(sock: socket.socket, timeout_s: float) -> list[str]:
    """One datagram as its newline-separated assignments, or [] when none came in time."""
    sock.settimeout(timeout_s)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return []
    return data.decode("utf-8").split("\n")


def test_notifier_is_a_no_op_outside_systemd():
    notifier = Notifier(environ={})
    assert not notifier.enabled
    assert notifier.notify("READY=1") is False
    assert notifier.watchdog_interval_s is None


def test_notifier_sends_to_path_and_abstract_sockets(notify_socket):
    sock, path = notify_socket
    notifier = Notifier(environ={"NOTIFY_SOCKET": path})
    assert notifier.notify("READY=1", "STATUS=up") is True
    assert receive(sock, 2) == ["READY=1", "STATUS=up"]
    notifier.close()

    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as abstract:
        abstract.bind(b"\0" + name.encode())
        abstract_notifier = Notifier(environ={"NOTIFY_SOCKET": "@" + name})
        assert abstract_notifier.notify("WATCHDOG=1") is True
        assert receive(abstract, 2) == ["WATCHDOG=1"]
        abstract_notifier.close()


def test_notifier_survives_a_socket_that_is_gone(tmp_path):
    notifier = Notifier(environ={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert notifier.notify("READY=1") is False  # logged, never raised: the unit keeps running


def test_watchdog_interval_follows_systemd_and_only_for_the_watched_process():
    assert Notifier(environ={"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000"}).watchdog_interval_s == 30.0
    mine = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(environ=mine).watchdog_interval_s == 30.0
    other = {**mine, "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(environ=other).watchdog_interval_s is None
    assert Notifier(environ={"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "0"}).watchdog_interval_s is None


def test_watchdog_pings_stop_when_the_loop_is_blocked(notify_socket):
    """The pings come from the loop: while a callback blocks it, none are sent."""
    sock, path = notify_socket
    notifier = Notifier(environ={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"})

    async def scenario() -> tuple[int, int]:
        pinger = asyncio.create_task(notifier.ping_watchdog())
        await asyncio.sleep(0.5)
        before = drain_count(sock)
        time.sleep(0.6)  # a hung loop: blocking call on the loop thread
        during = drain_count(sock)
        pinger.cancel()
        return before, during

    before, during = asyncio.run(scenario())
    notifier.close()
    assert before >= 4          # every 0.1 s while the loop runs
    assert during <= 1          # at most the one already due when the loop blocked


def drain_count(sock: socket.socket) -> int:
    count = 0
    sock.setblocking(False)
    try:
        while True:
            sock.recv(4096)
            count += 1
    except BlockingIOError:
        return count
    finally:
        sock.setblocking(True)


@pytest.mark.slow
def test_kiosk_run_says_ready_after_its_api_answers_and_keeps_pinging(notify_socket, tmp_path):
    sock, path = notify_socket
    env = {**ENV, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--sim", "--state-dir",
                             str(tmp_path / "state"), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        first: list[str] = []
        while not first and time.monotonic() < deadline and proc.poll() is None:
            first = receive(sock, 0.5)
        assert first, "no sd_notify message from kiosk run"
        # READY=1 is the first message: no ping before the unit is up.
        assert first[0] == "READY=1", first
        status = next(line for line in first if line.startswith("STATUS="))
        url = re.search(r"http://\S+", status).group(0)
        # One request, no retry: the API must already answer when systemd is told it is ready.
        health = requests.get(url + "/healthz", timeout=5)
        assert health.status_code == 200
        state = requests.get(url + "/v1/state", headers={"Authorization": "Bearer sim"}, timeout=5)
        assert state.status_code == 200

        pings = 0
        window_end = time.monotonic() + 1.5
        while time.monotonic() < window_end:
            message = receive(sock, max(0.01, window_end - time.monotonic()))
            if message == ["WATCHDOG=1"]:
                pings += 1
        # WatchdogSec 0.6 s → a ping every 0.2 s: about 7 in 1.5 s; a slow CI core still gets 4.
        assert pings >= 4, pings

        proc.terminate()
        assert proc.wait(timeout=15) == 0
        tail = []
        while True:
            message = receive(sock, 0.2)
            if not message:
                break
            tail.append(message)
        assert ["STOPPING=1"] in tail
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

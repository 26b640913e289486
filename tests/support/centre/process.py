"""A real `centre serve` process on 127.0.0.1, and the `centre` command run as a process (test helper).

Usable by any test that needs the head office for real, e.g. a sim unit draining its backlog.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.support.centre.testkit import free_port

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 60.0
TOKEN_LINE = re.compile(r"^token: (\S+)$", re.MULTILINE)


def centre_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CENTRE_DB", "CENTRE_ADMIN_TOKEN")}
    return {**env, "CENTRE_DB": db_url, **extra}


def run_centre(db_url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`centre ARGS…` with CENTRE_DB=db_url; output captured as text."""
    return subprocess.run([sys.executable, "-m", "centre", *args], env=centre_env(db_url), cwd=cwd,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def add_unit(db_url: str, unit_id: str, role: str = "counter", counter: str = "1") -> str:
    """`centre unit add`; returns the enrolment token it printed."""
    args = ["unit", "add", unit_id, "--role", role] + (["--counter", counter] if counter else [])
    done = run_centre(db_url, *args)
    if done.returncode != 0:
        raise RuntimeError(f"centre unit add failed: {done.stderr}")
    return TOKEN_LINE.search(done.stdout).group(1)


class CentreProcess:
    """`centre serve --listen 127.0.0.1:<free port>`; use as a context manager."""

    def __init__(self, db_url: str, admin_token: str | None = None, *, extra_args: tuple[str, ...] = (),
                 scheme: str = "http", verify=True, cwd: Path | None = None) -> None:
        self.db_url = db_url
        self.admin_token = admin_token
        self.extra_args = extra_args
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.verify = verify
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    def __enter__(self) -> "CentreProcess":
        admin = {"CENTRE_ADMIN_TOKEN": self.admin_token} if self.admin_token else {}
        env = centre_env(self.db_url, **admin)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "centre", "serve", "--listen", f"127.0.0.1:{self.port}", *self.extra_args],
            env=env, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Read what it prints as it prints it: a pipe nobody reads fills (64 KiB, a few hundred
        # access-log lines) and then blocks the server in the middle of a test.
        self._reader = threading.Thread(target=lambda: self._lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"centre serve exited {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0, verify=self.verify).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("centre serve did not answer /healthz in time")
            time.sleep(0.1)

    def __exit__(self, *_exc) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)

    def output(self) -> str:
        """Everything the process printed (only once it has stopped)."""
        if self.proc is None or self.proc.poll() is None:
            return ""
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT_S)
        return "".join(self._lines)

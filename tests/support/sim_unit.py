"""A real `kiosk run --sim` process on 127.0.0.1, driven over its HTTP API (test helper)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.support.unit_calls import UnitCalls

URL_LINE = re.compile(r"kiosk API: (http://\S+)")
START_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 10.0


class SimUnit(UnitCalls):
    def __init__(self, state_dir: Path, config: Path | None = None, token: str = "sim",
                 extra_env: dict[str, str] | None = None, listen: str = "127.0.0.1:0") -> None:
        self.state_dir = Path(state_dir)
        self.listen = listen  # a fixed port lets other units find this one again after a restart
        self.config = config
        self.token = token
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self) -> "SimUnit":
        command = [sys.executable, "-m", "kiosk.cli", "run", "--sim", "--state-dir", str(self.state_dir),
                   "--listen", self.listen]
        if self.config is not None:
            command += ["--config", str(self.config)]
        env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", **self.extra_env}
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env)
        found = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:
                self.output.append(line.rstrip("\n"))
                match = URL_LINE.search(line)
                if match and not found.is_set():
                    self.url = match.group(1)
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(START_TIMEOUT_S):
            self.kill()
            raise RuntimeError("sim unit did not start:\n" + "\n".join(self.output))
        return self

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("headers", self.headers)
        return requests.get(self.url + path, timeout=REQUEST_TIMEOUT_S, **kwargs)

    def post(self, path: str, json: dict | None = None, **kwargs) -> requests.Response:
        kwargs.setdefault("headers", self.headers)
        return requests.post(self.url + path, json=json, timeout=REQUEST_TIMEOUT_S, **kwargs)

    def kill(self) -> None:
        """kill -9: no shutdown code runs at all."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self.proc.returncode if self.proc else 0


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")

"""How soon the staff console shows a change, measured at its stream (the server-sent events the
page reads), against real `kiosk run --sim` processes on 127.0.0.1:

- the queue host's own console (role both): a ticket issued at the host → its waiting count in
  the console's stream (the change feed wakes the stream at the commit);
- a counter's console calling through that host (role counter, the default queue.host_poll_s of
  5 s): the same ticket → the count in the counter's stream (the console asks the host every 0.5 s
  while it is open);
- the counter's own action: 呼叫下一位 on its console → the ticket it serves in its stream.

The clock starts before the request that makes the change and stops when the stream's message
with it arrives. Target: ≤ 1 s.

Run: python bench/console_latency.py [--tickets 100]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/stats.py, run as a script

from stats import percentile  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
URL_LINE = re.compile(r"kiosk API: (http://\S+)")
TOKEN = {"Authorization": "Bearer sim"}
WAIT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_unit(state_dir: Path, listen: str, config: Path | None = None) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "kiosk.cli", "run", "--sim", "--state-dir", str(state_dir), "--listen", listen]
    if config is not None:
        command += ["--config", str(config)]
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        match = URL_LINE.search(line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, match.group(1)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError("the unit did not start")


class Console:
    """A console signed in as 1001, reading its stream in a thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        csrf = self.http.get(f"{url}/console/api/session", timeout=10).json()["csrf"]
        signed = self.http.post(f"{url}/console/api/sign-in", json={"staff_id": "1001", "pin": "123456"},
                                headers={"X-CSRF-Token": csrf, "Origin": url}, timeout=10)
        signed.raise_for_status()
        self.csrf = signed.json()["csrf"]
        self.views: list[tuple[float, dict]] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with self.http.get(f"{self.url}/console/api/stream", stream=True, timeout=(10, None),
                           headers={"Accept": "text/event-stream"}) as response:
            for line in response.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    view = json.loads(line[6:])
                    with self._seen:
                        self.views.append((time.monotonic(), view))
                        self._seen.notify_all()

    def when(self, predicate, since: float) -> float:
        """The arrival time of the first message after `since` that satisfies `predicate`."""
        deadline = time.monotonic() + WAIT_S
        with self._seen:
            while True:
                for at, view in self.views:
                    if at >= since and predicate(view):
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the console never showed it")
                self._seen.wait(left)

    def act(self, name: str) -> requests.Response:
        return self.http.post(f"{self.url}/console/api/{name}", json={},
                              headers={"X-CSRF-Token": self.csrf, "Origin": self.url}, timeout=10)


def counter_config(folder: Path, host_listen: str) -> Path:
    text = (REPO / "kiosk" / "defaults" / "sim.toml").read_text(encoding="utf-8")
    text = text.replace('role = "both"', 'role = "counter"').replace('counter_id = "1"', 'counter_id = "3"')
    text = text.replace("[queue]\n", f'[queue]\nhost_url = "http://{host_listen}"\nhost_token = "sim"\n')
    path = folder / "counter.toml"
    path.write_text(text, encoding="utf-8")
    return path


def summary(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (f"{name}: n={len(ms)} p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"max {max(ms):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        host_listen = f"127.0.0.1:{free_port()}"
        host, host_url = start_unit(root / "host", host_listen)
        counter, counter_url = start_unit(root / "counter", f"127.0.0.1:{free_port()}",
                                          counter_config(root, host_listen))
        try:
            at_host, at_counter = Console(host_url), Console(counter_url)
            time.sleep(1.0)   # both streams open, the counter's first host answer in
            local, remote, own = [], [], []
            for n in range(1, args.tickets + 1):
                started = time.monotonic()
                requests.post(f"{host_url}/v1/tickets", json={"category": "A"}, headers=TOKEN,
                              timeout=10).raise_for_status()
                shows = lambda view, n=n: (view.get("waiting") or {}).get("total") == n  # noqa: E731
                local.append(at_host.when(shows, started) - started)
                remote.append(at_counter.when(shows, started) - started)
                time.sleep(random.uniform(0.05, 0.6))   # not in step with the console's polls
            for _ in range(min(20, args.tickets)):
                started = time.monotonic()
                called = at_counter.act("call-next")
                called.raise_for_status()
                ticket = called.json()["ticket"]
                own.append(at_counter.when(
                    lambda view: (view.get("serving") or {}).get("ticket") == ticket, started) - started)
            print(summary("ticket at the host → the host's console", local))
            print(summary("ticket at the host → a counter's console through the host", remote))
            print(summary("呼叫下一位 on a counter's console → its own stream (through the host)", own))
        finally:
            for proc in (counter, host):
                proc.terminate()
                proc.wait(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())

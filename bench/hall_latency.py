"""How soon a call reaches the hall display and the staff consoles: one queue host (`kiosk run
--sim`, a real process on 127.0.0.1) with 20 console streams and 3 hall streams connected, calls
made through its API one after another, and for each call the time from sending it to each
stream's first message that shows it (the hall board with the ticket at its window; the console's
waiting count one lower). Prints p50 / p99 / max per kind of page, and the host's RSS idle, with
the streams connected, and after the calls.

    python bench/hall_latency.py [--calls 200] [--consoles 20] [--halls 3]

The streams are opened with an HTTP client (httpx), as a browser's EventSource opens them; the
consoles sign in once with the built-in sim config's staff 1001 and PIN 123456 and share that
session, as tabs of one browser would (a unit has one counter, so one signed-in staff member).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import percentile  # noqa: E402

URL_LINE = re.compile(r"kiosk API: (http://\S+)")
START_TIMEOUT_S = 60.0
ARRIVAL_TIMEOUT_S = 10.0      # a call not seen on a stream by then counts as this (and is said)
TOKEN = {"Authorization": "Bearer sim"}
SSE = {"Accept": "text/event-stream"}
CATEGORIES = "ABCD"
OTHER_COUNTERS = [str(n) for n in range(2, 10)]   # the host acts for them; counter 1 is its own


def say(message: str) -> None:
    print(message, flush=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Stream:
    kind: str                                   # "hall" or "console"
    messages: list[tuple[float, dict]] = field(default_factory=list)
    moved: asyncio.Event = field(default_factory=asyncio.Event)


async def follow(client: httpx.AsyncClient, url: str, stream: Stream, opened: asyncio.Event, **kwargs) -> None:
    async with client.stream("GET", url, **kwargs) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {await response.aread()!r}")
        opened.set()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                stream.messages.append((time.perf_counter(), json.loads(line[6:])))
                stream.moved.set()


def shows_call(stream: Stream, message: dict, ticket: str, counter: str, waiting_after: int) -> bool:
    if stream.kind == "hall":
        return any(s["ticket"] == ticket and s["counter_id"] == counter for s in message.get("serving", ()))
    return (message.get("waiting") or {}).get("total") == waiting_after


async def arrival(stream: Stream, since: int, sent_at: float, ticket: str, counter: str, waiting_after: int) -> float:
    """Seconds from sending the call to the stream's first message that shows it."""
    deadline = sent_at + ARRIVAL_TIMEOUT_S
    index = since
    while True:
        while index < len(stream.messages):
            at, message = stream.messages[index]
            index += 1
            if shows_call(stream, message, ticket, counter, waiting_after):
                return at - sent_at
        stream.moved.clear()
        left = deadline - time.perf_counter()
        if left <= 0:
            say(f"  {stream.kind} stream: call {ticket} → {counter} not seen within {ARRIVAL_TIMEOUT_S:.0f} s")
            return ARRIVAL_TIMEOUT_S
        try:
            await asyncio.wait_for(stream.moved.wait(), left)
        except TimeoutError:
            pass


async def console_session(client: httpx.AsyncClient) -> None:
    """Sign in on the console as its page does (the CSRF token of the sign-in, then the session's)."""
    info = (await client.get("/console/api/session")).json()
    signed = await client.post("/console/api/sign-in", json={"staff_id": "1001", "pin": "123456"},
                               headers={"X-CSRF-Token": info["csrf"]})
    if signed.status_code != 200:
        raise RuntimeError(f"console sign-in refused: {signed.status_code} {signed.text}")


async def measure(base: str, pid: int, calls: int, consoles: int, halls: int, pause_s: float) -> dict:
    figures: dict = {"rss_idle_mb": rss_mb(pid)}
    limits = httpx.Limits(max_connections=consoles + halls + 4, max_keepalive_connections=4)
    timeout = httpx.Timeout(30.0, read=None)
    async with httpx.AsyncClient(base_url=base, headers=TOKEN, timeout=timeout) as api, \
            httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as pages:
        for number in range(calls):
            answer = await api.post("/v1/tickets", json={"category": CATEGORIES[number % len(CATEGORIES)]})
            answer.raise_for_status()
        waiting = calls
        await console_session(pages)
        streams = [Stream("console") for _ in range(consoles)] + [Stream("hall") for _ in range(halls)]
        tasks = []
        for stream in streams:
            opened = asyncio.Event()
            url = "/console/api/stream" if stream.kind == "console" else "/hall/api/stream"
            tasks.append(asyncio.create_task(follow(pages, url, stream, opened, headers=SSE)))
            await asyncio.wait_for(opened.wait(), 10)
        await asyncio.sleep(1.0)
        figures["rss_connected_mb"] = rss_mb(pid)
        latencies: dict[str, list[float]] = {"hall": [], "console": []}
        round_trips = []
        try:
            for number in range(calls):
                counter = OTHER_COUNTERS[number % len(OTHER_COUNTERS)]
                marks = [len(stream.messages) for stream in streams]
                sent_at = time.perf_counter()
                answer = await api.post("/v1/queue/call-next", json={"counter_id": counter, "staff_id": "1002"})
                round_trips.append(time.perf_counter() - sent_at)
                answer.raise_for_status()
                ticket = answer.json()["ticket"]
                waiting -= 1
                seen = await asyncio.gather(*(arrival(stream, mark, sent_at, ticket, counter, waiting)
                                              for stream, mark in zip(streams, marks)))
                for stream, seconds in zip(streams, seen):
                    latencies[stream.kind].append(seconds)
                await asyncio.sleep(random.uniform(0.5, 1.5) * pause_s)
            figures["rss_after_mb"] = rss_mb(pid)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    figures["latencies"] = latencies
    figures["round_trips"] = round_trips
    return figures


def start_host(folder: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--sim", "--state-dir", str(folder / "host"),
                             "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    started = time.monotonic()
    for line in proc.stdout:
        match = URL_LINE.search(line)
        if match:
            return proc, match.group(1)
        if time.monotonic() - started > START_TIMEOUT_S:
            break
    proc.kill()
    raise RuntimeError("kiosk run --sim did not start")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--consoles", type=int, default=20)
    parser.add_argument("--halls", type=int, default=3)
    parser.add_argument("--pause-s", type=float, default=0.2, help="mean pause between calls")
    args = parser.parse_args()
    load = os.getloadavg()
    say(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    with tempfile.TemporaryDirectory() as raw:
        proc, base = start_host(Path(raw))
        try:
            figures = asyncio.run(measure(base, proc.pid, args.calls, args.consoles, args.halls, args.pause_s))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    say(f"{args.calls} calls through POST /v1/queue/call-next on one queue host, "
        f"{args.consoles} console streams and {args.halls} hall streams connected")
    trips = figures["round_trips"]
    say(f"call round trip (the API's answer), p50 / p99: {ms(percentile(trips, 0.5))} / {ms(percentile(trips, 0.99))}")
    for kind, shown in (("hall", "hall display"), ("console", "staff console")):
        samples = figures["latencies"][kind]
        if samples:
            say(f"call → {shown} stream ({len(samples)} arrivals), p50 / p99 / max: {ms(percentile(samples, 0.5))} / "
                f"{ms(percentile(samples, 0.99))} / {ms(max(samples))}  (target p99 ≤ 1000 ms)")
    say(f"host RSS: idle {figures['rss_idle_mb']:.1f} MB, with the streams connected "
        f"{figures['rss_connected_mb']:.1f} MB, after the calls {figures['rss_after_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

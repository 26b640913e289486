"""The unit's local API under hostile requests (issue 15): JSON built to break the parser, bodies
far over the limit, wrong tokens in a row, and connections that never finish their headers.
Every answer is a 4xx in the error shape (never a 500), memory and connections stay bounded, and
the unit keeps taking ratings."""
from __future__ import annotations

import os
import resource
import select
import socket
import time

import pytest

from kiosk.api.bodies import BODY_TIMEOUT_S
from kiosk.api.token_limit import MAX_FAILURES, WINDOW_S, BadTokenLimit
from kiosk.service.http_limits import HEAD_TIMEOUT_S, MAX_CONNECTIONS_PER_CLIENT
from tests.fault.results import record
from tests.support.raw_http import (memory_kb, read_answer, request_head, send_chunked_until_answered,
                                     send_head_only)
from tests.support.sim_unit import SimUnit
from tests.support.unit_app import UnitApp

DEPTH = 5_000
OTHER_DEVICE = "127.0.0.2"     # a second client address, still loopback: the unit listens on 127.0.0.1
DIGITS = "9" * 5_000


@pytest.fixture
def unit(tmp_path):
    unit = UnitApp(tmp_path / "state").start()
    yield unit
    unit.stop()


def error_code(answer) -> str:
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]["code"]


HOSTILE_BODIES = {
    "5,000 nested [": b"[" * DEPTH,
    "5,000 nested [ closed": b"[" * DEPTH + b"]" * DEPTH,
    "5,000 nested objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "a 5,000-digit number": DIGITS.encode(),
    "a 5,000-digit staff id": b'{"staff_id": ' + DIGITS.encode() + b"}",
    "nesting inside a field": b'{"staff_id": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
}


def test_json_built_to_break_the_parser_is_a_400_never_a_500(unit, request):
    statuses = {}
    for name, body in HOSTILE_BODIES.items():
        answer = unit.post("/v1/staff/sign-in", data=body,
                           headers={**unit.headers, "Content-Type": "application/json"})
        statuses[name] = answer.status_code
        assert answer.status_code in (400, 422), (name, answer.status_code, answer.text[:200])
        assert error_code(answer) in ("invalid_json", "invalid"), name
    # In a path and a query the same number is a 404 / 422, not a 500 either.
    answer = unit.post(f"/v1/sim/keys/{DIGITS}/press")
    assert answer.status_code == 404 and error_code(answer) == "not_found"
    answer = unit.get("/v1/events", params={"after": DIGITS})
    assert answer.status_code == 422 and error_code(answer) == "invalid"
    assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
    record(request.node.nodeid, f"{len(HOSTILE_BODIES)} bodies, a path and a query",
           {"statuses": ", ".join(f"{name}: {status}" for name, status in statuses.items()), "500s": 0})


# --- bodies over the limit, against a real process (its memory is what is at stake) ----------

HOSTILE_BODY_MB = 100          # the attack of the issue was 600 MB; 100 is plenty to show it
RSS_GROWTH_LIMIT_KB = 5 * 1024


def unit_address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def sign_in_headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **extra}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_body_over_the_limit_is_refused_without_being_read_whole(tmp_path, request):
    unit = SimUnit(tmp_path / "state").start()
    try:
        assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200  # warm
        before = memory_kb(unit.proc.pid)
        chunked = send_chunked_until_answered(unit_address(unit.url), "POST", "/v1/staff/sign-in",
                                              sign_in_headers(unit.token), HOSTILE_BODY_MB * 1024 * 1024)
        answer, sent = chunked.answer, chunked.body_bytes
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # A declared length over the limit is refused at once, before a byte of the body.
        declared = send_head_only(unit_address(unit.url), "POST", "/v1/staff/sign-in",
                                  sign_in_headers(unit.token, **{"Content-Length": str(10**9)}))
        assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
        after = memory_kb(unit.proc.pid)
        grown = {name: after[name] - before[name] for name in after}
        assert grown["VmHWM"] < RSS_GROWTH_LIMIT_KB and grown["VmRSS"] < RSS_GROWTH_LIMIT_KB, grown
        # It stopped reading: the answer closes the connection rather than read on to discard the rest.
        assert b"connection: close" in answer.lower() and sent < HOSTILE_BODY_MB * 1024 * 1024
        assert unit.post("/v1/transactions/complete", {}).status_code == 200
        record(request.node.nodeid, f"a chunked body of up to {HOSTILE_BODY_MB} MB and a Content-Length of 1 GB",
               {"sent before the 413 (KB)": sent // 1024, "RSS growth (KB)": grown["VmRSS"],
                "peak RSS growth (KB)": grown["VmHWM"]})
    finally:
        unit.stop()


# --- wrong tokens in a row ---------------------------------------------------------------------

WRONG_TOKENS = 300


def test_wrong_tokens_in_a_row_are_limited_per_address(unit, request):
    wrong = {"Authorization": "Bearer not-the-token"}
    statuses = [unit.get("/v1/state", headers=wrong).status_code for _ in range(WRONG_TOKENS)]
    assert statuses[:MAX_FAILURES] == [401] * MAX_FAILURES
    assert set(statuses[MAX_FAILURES:]) == {429}
    limited = unit.get("/v1/state", headers=wrong)
    assert error_code(limited) == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= WINDOW_S
    # Over the limit the right token is refused too (a 429 never confirms a guess) …
    assert unit.get("/v1/state").status_code == 429
    # … while what needs no token still answers, and a citizen's key press is not an API call.
    assert unit.get("/healthz", headers={}).status_code == 200
    record(request.node.nodeid, f"{WRONG_TOKENS} wrong tokens in a row from one address",
           {"answered 401": statuses.count(401), "answered 429": statuses.count(429),
            "Retry-After s": int(limited.headers["Retry-After"])})


def test_the_token_limit_forgets_after_its_window_and_stays_bounded():
    now = [100.0]
    limit = BadTokenLimit(max_failures=3, window_s=60, max_addresses=50, monotonic=lambda: now[0])
    waits = []
    for step_s in (0, 0, 0, 0, 59.5, 0.5):   # three failures, then look at the wait as time passes
        now[0] += step_s
        waits.append(limit.retry_after_s("10.0.0.1"))
        if len(waits) <= 3:
            limit.failed("10.0.0.1")
    assert waits == [None, None, None, 60, 1, None]
    assert limit.retry_after_s("10.0.0.2") is None          # one address's failures are its own
    for n in range(5_000):                                    # a flood from many addresses …
        limit.failed(f"10.1.{n // 256}.{n % 256}")
    assert len(limit) == 50                                   # … keeps at most max_addresses


# --- connections that never finish their request head ------------------------------------------

SLOW_CONNECTIONS = 1_100
PARTIAL_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def still_open(sock: socket.socket) -> bool:
    """False once the peer closed or reset it (it then reads as ready with nothing, or fails)."""
    poller = select.poll()   # not select(): these descriptors go past 1024
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return True
    try:
        return sock.recv(1024, socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def trickle(socks: list[socket.socket]) -> list[socket.socket]:
    """One more header line on every connection still open (a slowloris client's keep-alive)."""
    alive = []
    for sock in socks:
        if not still_open(sock):
            sock.close()
            continue
        try:
            sock.send(b"X-Slow: 1\r\n")
            alive.append(sock)
        except OSError:
            sock.close()
    return alive


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def healthz_from(url: str, source: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return int(read_answer(sock).split(b" ", 2)[1])


@pytest.fixture
def many_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SLOW_CONNECTIONS + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"this machine allows {hard} open files, the attack needs {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_slow_request_heads_are_cut_off_and_one_address_cannot_take_every_connection(
        tmp_path, many_descriptors, request):
    unit = SimUnit(tmp_path / "state").start()   # inherits the raised limit: it could hold them all
    socks: list[socket.socket] = []
    try:
        baseline_fds = open_fds(unit.proc.pid)
        host, port = unit.url.removeprefix("http://").split(":")
        started = time.monotonic()
        for _ in range(SLOW_CONNECTIONS):
            sock = socket.create_connection((host, int(port)), timeout=5)
            try:
                sock.send(PARTIAL_HEAD)
            except OSError:
                pass
            socks.append(sock)
        time.sleep(1.0)
        socks = trickle(socks)
        held_at_once = len(socks)
        peak_fds = open_fds(unit.proc.pid) - baseline_fds
        assert held_at_once <= MAX_CONNECTIONS_PER_CLIENT, held_at_once
        assert peak_fds <= MAX_CONNECTIONS_PER_CLIENT + 4, peak_fds
        # Another device on the LAN (here another loopback address) is still served meanwhile.
        other_device = healthz_from(unit.url, OTHER_DEVICE)
        assert other_device == 200
        while socks and time.monotonic() - started < HEAD_TIMEOUT_S + 5:
            time.sleep(1.0)
            socks = trickle(socks)
        held_past_deadline = len(socks)
        cut_after_s = time.monotonic() - started
        assert held_past_deadline == 0, f"{held_past_deadline} slow connections still open after {cut_after_s:.0f} s"
        assert healthz_from(unit.url, "127.0.0.1") == 200
        assert unit.press(1) == ["rating.misuse"]   # the unit kept working throughout (no window open)
        record(request.node.nodeid, f"{SLOW_CONNECTIONS} connections from one address trickling their headers",
               {"held at once": held_at_once, "extra descriptors in the unit": peak_fds,
                "other address served": other_device, "all cut after s": round(cut_after_s),
                "held past the deadline": held_past_deadline})
    finally:
        for sock in socks:
            sock.close()
        unit.stop()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_body_trickled_a_byte_at_a_time_is_answered_408(tmp_path, request):
    unit = SimUnit(tmp_path / "state").start()
    try:
        host, port = unit.url.removeprefix("http://").split(":")
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            head = request_head("POST", "/v1/staff/sign-in", sign_in_headers(unit.token, **{"Content-Length": "1000"}))
            sock.sendall(head)
            answer = b""
            for _ in range(int(BODY_TIMEOUT_S) + 10):
                try:
                    sock.send(b" ")
                except OSError:
                    break
                readable, _, _ = select.select([sock], [], [], 1.0)
                if readable:
                    answer = read_answer(sock)
                    break
        waited_s = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"request_timeout"' in answer or b"connection: close" in answer.lower()
        assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
        record(request.node.nodeid, "a 1,000-byte body sent one byte a second",
               {"answered": 408, "after s": round(waited_s)})
    finally:
        unit.stop()

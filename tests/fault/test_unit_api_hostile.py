"""The unit's local API under hostile requests (issue 15): JSON built to break the parser, bodies
far over the limit, wrong tokens in a row, and connections that never finish their headers.
Every answer is a 4xx in the error shape (never a 500), memory and connections stay bounded, and
the unit keeps taking ratings."""
from __future__ import annotations

import select
import socket
from pathlib import Path

import pytest

from tests.fault.results import record
from tests.support.sim_unit import SimUnit
from tests.support.unit_app import UnitApp

DEPTH = 5_000
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

CHUNK = 64 * 1024
HOSTILE_BODY_MB = 100          # the attack of the issue was 600 MB; 100 is plenty to show it
RSS_GROWTH_LIMIT_KB = 5 * 1024


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak so far) of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def request_head(path: str, token: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode("ascii")


def read_answer(sock: socket.socket) -> bytes:
    data = b""
    sock.settimeout(10)
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def send_chunked_until_answered(url: str, token: str, total_bytes: int) -> tuple[bytes, int]:
    """A chunked body of up to total_bytes, sent until the unit answers; (answer, bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request_head("/v1/staff/sign-in", token, "Transfer-Encoding: chunked\r\n"))
        chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
        while sent < total_bytes:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        else:
            sock.sendall(b"0\r\n\r\n")
        return read_answer(sock), sent


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_body_over_the_limit_is_refused_without_being_read_whole(tmp_path, request):
    unit = SimUnit(tmp_path / "state").start()
    try:
        assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200  # warm
        before = memory_kb(unit.proc.pid)
        answer, sent = send_chunked_until_answered(unit.url, unit.token, HOSTILE_BODY_MB * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # A declared length over the limit is refused at once, before a byte of the body.
        host, port = unit.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(request_head("/v1/staff/sign-in", unit.token, f"Content-Length: {10**9}\r\n"))
            declared = read_answer(sock)
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

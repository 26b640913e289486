"""Slow and greedy clients against a real `centre serve` on 127.0.0.1 (issue 15.11): slowloris
connections that trickle their headers a byte a second, ones that stop sending their body, an
endless header, and more connections from one address than it may hold. Before, none of them was
ever closed (uvicorn's httptools protocol arms no timer before a request's head and takes a head
of any size). Now a normal request is answered while they are held, each slow one is closed once
its deadline passes (the head's HEAD_TIMEOUT_S, the body's BODY_IDLE_TIMEOUT_S with a 408), the
endless header is a 431, and connections beyond MAX_CONNECTIONS_PER_CLIENT are closed as they
open."""
from __future__ import annotations

import select
import socket
import time

import httpx
import pytest

from centre.web.bodies import BODY_IDLE_TIMEOUT_S
from centre.web.connections import HEAD_TIMEOUT_S, MAX_CONNECTIONS_PER_CLIENT
from tests.fault.results import record
from tests.support.centre.process import CentreProcess, add_unit
from tests.support.centre.testkit import SimulatedUnit
from tests.support.raw_http import memory_kb, read_answer, request_head

SLOW_HEADS = 200
SLOW_BODIES = 5
OVER_THE_CAP = 50
ENDLESS_BYTES = 64 * 1024 * 1024  # a header this long, unless the server answers first
# The deadlines, and this much more for the server's timers and this test's own pace.
CLOSE_MARGIN_S = 10.0
NORMAL_TIMEOUT_S = 5.0


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """The server closed or reset it (anything it answered first is read and dropped)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        while sock.recv(65536):
            if not select.select([sock], [], [], 0)[0]:
                return False
    except OSError:
        pass
    return True


def enrolled_unit(db_url: str, centre: CentreProcess) -> SimulatedUnit:
    unit = SimulatedUnit("counter-01")
    token = add_unit(db_url, unit.unit_id)
    unit.token = httpx.post(f"{centre.url}/api/v1/enrol", json={
        "token": token, "unit_id": unit.unit_id, "public_key": unit.public_key}).json()["unit_token"]
    return unit


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_slow_clients_are_closed_and_a_normal_request_is_answered_meanwhile(tmp_path, request):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    with CentreProcess(db_url) as centre:
        unit = enrolled_unit(db_url, centre)
        upload = f"/api/v1/units/{unit.unit_id}/events"
        before = memory_kb(centre.proc.pid)
        opened_at = time.monotonic()
        heads = [connect(centre.port) for _ in range(SLOW_HEADS)]
        for sock in heads:
            sock.sendall(b"POST " + upload.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        bodies = [connect(centre.port) for _ in range(SLOW_BODIES)]
        for sock in bodies:
            sock.sendall(request_head("POST", upload, {**unit.auth(), "Content-Type": "application/json",
                                                       "Content-Length": "1000"}) + b'{"stream_id"')
        endless = connect(centre.port)
        endless.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        endless_sent = 0
        while endless_sent < ENDLESS_BYTES and not select.select([endless], [], [], 0)[0]:
            try:
                endless.sendall(b"a" * 65536)
            except OSError:
                break  # closed once over the limit
            endless_sent += 65536
        endless_answer = read_answer(endless)

        # Held connections trickle a byte a second, which kept them open for ever before.
        normal: list[float] = []
        still_open = set(range(SLOW_HEADS))
        closed_after: dict[int, float] = {}
        deadline = opened_at + max(HEAD_TIMEOUT_S, BODY_IDLE_TIMEOUT_S) + CLOSE_MARGIN_S
        while still_open and time.monotonic() < deadline:
            for index in list(still_open):
                try:
                    heads[index].send(b"a")
                except OSError:
                    pass
                if closed_by_server(heads[index]):
                    still_open.discard(index)
                    closed_after[index] = time.monotonic() - opened_at
            if len(normal) < 3:  # the units and the dashboard are answered meanwhile
                started = time.monotonic()
                assert httpx.get(f"{centre.url}/healthz", timeout=NORMAL_TIMEOUT_S).status_code == 200
                answer = httpx.post(centre.url + upload, json=unit.batch(unit.record_many(1)),
                                    headers=unit.auth(), timeout=NORMAL_TIMEOUT_S)
                assert answer.status_code == 200, answer.text
                normal.append(time.monotonic() - started)
            time.sleep(1)
        body_answers = [read_answer(sock, timeout_s=CLOSE_MARGIN_S) for sock in bodies]
        after = memory_kb(centre.proc.pid)
        for sock in heads + bodies + [endless]:
            sock.close()

    assert not still_open, f"{len(still_open)} of {SLOW_HEADS} slow heads still open"
    assert min(closed_after.values()) >= HEAD_TIMEOUT_S - 1  # closed by the deadline, not at once
    assert all(answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
               for answer in body_answers), body_answers
    assert endless_answer.startswith(b"HTTP/1.1 431"), endless_answer[:200]
    assert endless_sent < ENDLESS_BYTES
    assert len(normal) == 3
    record(request.node.nodeid, f"{SLOW_HEADS} slowloris heads (a byte a second), {SLOW_BODIES} "
           "stalled bodies, one endless header",
           {"slow heads closed after (s)": f"{min(closed_after.values()):.1f}–{max(closed_after.values()):.1f}",
            "stalled bodies": "408", "endless header": f"431 after {endless_sent // 1024} KB",
            "normal requests meanwhile (s)": ", ".join(f"{t:.2f}" for t in normal),
            "RSS growth (KB)": after["VmRSS"] - before["VmRSS"]})


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_connections_beyond_an_addresss_cap_are_closed_as_they_open(tmp_path, request):
    with CentreProcess(f"sqlite:///{tmp_path / 'centre.db'}") as centre:
        held = [connect(centre.port, "127.0.0.2") for _ in range(MAX_CONNECTIONS_PER_CLIENT + OVER_THE_CAP)]
        time.sleep(1)  # the server has accepted (or refused) them all
        refused = [sock for sock in held if closed_by_server(sock)]
        # Another address is not crowded out.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as other:
            assert other.get(f"{centre.url}/healthz", timeout=NORMAL_TIMEOUT_S).status_code == 200
        for sock in held:
            sock.close()
        # Once they are gone, the address connects again.
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as again:
            assert again.get(f"{centre.url}/healthz", timeout=NORMAL_TIMEOUT_S).status_code == 200
    assert len(refused) == OVER_THE_CAP, len(refused)
    record(request.node.nodeid, f"{MAX_CONNECTIONS_PER_CLIENT + OVER_THE_CAP} idle connections from one address",
           {"closed as they opened": len(refused), "cap per address": MAX_CONNECTIONS_PER_CLIENT,
            "another address meanwhile": 200})

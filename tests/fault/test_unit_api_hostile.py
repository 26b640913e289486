"""The unit's local API under hostile requests (issue 15): JSON built to break the parser, bodies
far over the limit, wrong tokens in a row, and connections that never finish their headers.
Every answer is a 4xx in the error shape (never a 500), memory and connections stay bounded, and
the unit keeps taking ratings."""
from __future__ import annotations

import pytest

from tests.fault.results import record
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

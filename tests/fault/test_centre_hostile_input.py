"""Bodies built to break the centre (issue 15.4): JSON nested past Python's recursion limit, times
UTC cannot hold, numbers no BIGINT holds, NUL characters PostgreSQL cannot store. Each was a 500,
which a unit takes for a passing fault and retries with the same batch forever; each must be
PROTOCOL.md's `422 invalid` naming the field, with nothing stored, on SQLite and PostgreSQL,
through a real uvicorn on 127.0.0.1. The same classes of input go to enrolment and the admin API."""
from __future__ import annotations

import json
import re
from typing import Any, Callable

import pytest

from centre.web.bodies import MAX_JSON_DEPTH
from tests.fault.results import record
from tests.support.centre.fixtures import centre, served_centre  # noqa: F401  (fixtures)
from tests.support.centre.testkit import LiveCentre, SimulatedUnit, seal

EARLIEST = "0001-01-01T00:00:00+08:00"   # the year 0 in UTC: astimezone overflowed
LATEST = "9999-12-31T23:59:59-08:00"     # the year 10000 in UTC
TOO_BIG = 2**70
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def nested(depth: int) -> Any:
    return json.loads("[" * depth + "]" * depth)


def changed(unit: SimulatedUnit, change: Callable[[dict], None]) -> Callable[[], dict]:
    """A batch of one event of `unit`'s, altered by `change` and sealed again (its hash fits, so
    only the shape is wrong); the unit's chain is left as it was."""
    def build() -> dict:
        seq, head = unit.seq, unit.head_hash
        event = unit.record()
        unit.seq, unit.head_hash = seq, head
        change(event)
        event = seal(event)
        return unit.batch([event])
    return build


def with_health(unit: SimulatedUnit, **health: Any) -> Callable[[], dict]:
    return lambda: unit.batch([], health={"backlog": 0, "paper": "ok", **health})


def as_text(unit: SimulatedUnit, edit: Callable[[str], str]) -> Callable[[], str]:
    return lambda: edit(json.dumps(unit.batch([])))


def upload_attacks(unit: SimulatedUnit) -> dict[str, tuple[Callable[[], Any], str]]:
    """name → (the body, the field its 422 must name)."""
    def set_data(name, value):
        return changed(unit, lambda event: event["data"].__setitem__(name, value))

    def set_field(name, value):
        return changed(unit, lambda event: event.__setitem__(name, value))

    return {
        "100,000 nested [": (lambda: "[" * 100_000, "body"),
        "3,000 levels inside events": (as_text(unit, lambda text: text.replace(
            '"events": []', '"events": [' + "[" * 3000 + "]" * 3000 + "]")), "body"),
        f"{MAX_JSON_DEPTH + 1} levels inside an event's data": (
            set_data("nested", nested(MAX_JSON_DEPTH)), "events[0].data.nested"),
        f"wall_time {EARLIEST}": (set_field("wall_time", EARLIEST), "events[0].wall_time"),
        f"wall_time {LATEST}": (set_field("wall_time", LATEST), "events[0].wall_time"),
        f"sent_at {EARLIEST}": (lambda: {**unit.batch([]), "sent_at": EARLIEST}, "sent_at"),
        "seq 2**70": (set_field("seq", TOO_BIG), "events[0].seq"),
        "mono_ns 2**70": (set_field("mono_ns", TOO_BIG), "events[0].mono_ns"),
        "health.backlog 2**70": (with_health(unit, backlog=TOO_BIG), "health.backlog"),
        "health.disk_free_mb 1e300": (with_health(unit, disk_free_mb=1e300), "health.disk_free_mb"),
        "health.uptime_s 1e300": (with_health(unit, uptime_s=1e300), "health.uptime_s"),
        "a NUL in data.staff_id": (set_data("staff_id", "10\x0001"), "events[0].data.staff_id"),
        "a NUL in type": (set_field("type", "rating.submitted\x00"), "events[0].type"),
        "a NUL in health.paper": (with_health(unit, paper="o\x00k"), "health.paper"),
        "a 500-character transaction_id": (set_data("transaction_id", "t" * 500),
                                           "events[0].data.transaction_id"),
    }


def error_of(answer) -> dict:
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]


def test_hostile_uploads_are_422_invalid_naming_the_field_and_nothing_is_stored(centre: LiveCentre, request):
    unit = centre.new_unit()
    assert centre.upload(unit, unit.batch(unit.record_many(2))).status_code == 200
    fields = {}
    for name, (body, field) in upload_attacks(unit).items():
        answer = centre.upload(unit, body())
        assert answer.status_code == 422, (name, answer.status_code, answer.text[:300])
        error = error_of(answer)
        assert error["code"] == "invalid" and error["field"].startswith(field), (name, error)
        fields[name] = field
    assert centre.stored_count() == 2
    # The unit's next real batch is taken as if nothing had happened.
    answer = centre.upload(unit, unit.batch(unit.record_many(3)))
    assert answer.status_code == 200 and answer.json()["acked_through"] == 5
    assert centre.fleet(unit.unit_id)["backlog"] == 0
    record(request.node.nodeid, f"{len(fields)} hostile upload bodies, {request.node.callspec.id}",
           {"answers": "422 invalid each", "fields": ", ".join(sorted(set(fields.values()))), "500s": 0})


def test_the_same_classes_of_input_elsewhere_are_4xx_never_500(centre: LiveCentre, request):
    unit = centre.new_unit()
    admin = {**centre.admin(), "Content-Type": "application/json"}
    json_headers = {"Content-Type": "application/json"}
    bundle = {"reasons": [{"code": "R1", "label": "态度"}], "staff": [{"staff_id": "1001", "name": "张三"}],
              "service_items": [{"code": "TQ01", "name": "提取", "category": "A", "time_limit": "1",
                                 "materials": ["身份证"]}], "complaint_phone": "12329"}
    requests = {
        "enrol: 100,000 nested [": ("POST", "/api/v1/enrol", json_headers, "[" * 100_000, "body"),
        "enrol: a NUL in the token": ("POST", "/api/v1/enrol", json_headers, json.dumps(
            {"token": "t\x00", "unit_id": "counter-09", "public_key": unit.public_key}), "token"),
        "bundle: 3,000 nested {": ("PUT", "/api/v1/bundle", admin,
                                   '{"a":' * 3000 + "1" + "}" * 3000, "body"),
        "bundle: a NUL in its version": ("PUT", "/api/v1/bundle", admin,
                                         json.dumps({**bundle, "version": "v\x001"}), "version"),
        "holidays: a NUL in a name": ("PUT", "/api/v1/holidays", admin, json.dumps(
            [{"date": "2026-10-01", "kind": "off", "name": "国庆\x00"}]), "[0].name"),
        "audit trail: after_seq 2**70": ("GET", f"/api/v1/units/{unit.unit_id}/events?after_seq={TOO_BIG}",
                                         admin, None, "query.after_seq"),
        "audit trail: a NUL in stream_id": ("GET", f"/api/v1/units/{unit.unit_id}/events?stream_id=a%00b",
                                            admin, None, None),
        "audit trail: a NUL in the unit id": ("GET", "/api/v1/units/a%00b/events", admin, None, None),
    }
    statuses = {}
    for name, (method, path, headers, content, field) in requests.items():
        answer = centre.client.request(method, path, headers=headers, content=content)
        statuses[name] = answer.status_code
        assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text[:300])
        if field is not None:
            assert answer.status_code == 422 and error_of(answer)["field"] == field, (name, answer.text)
    # A NUL in a login form, past its CSRF check: refused.
    token = CSRF_FIELD.search(centre.client.get("/dashboard/login").text).group(1)
    answer = centre.client.post("/dashboard/login", data={"name": "a\x00b", "password": "x" * 8,
                                                          "csrf_token": token})
    statuses["dashboard login: a NUL in the name"] = answer.status_code
    assert 400 <= answer.status_code < 500, answer.status_code
    record(request.node.nodeid, f"{len(statuses)} requests, {request.node.callspec.id}",
           {"statuses": ", ".join(f"{name}: {status}" for name, status in statuses.items()), "500s": 0})

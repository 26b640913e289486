"""Admin endpoints: the admin token, fleet health and the audit trail."""
from __future__ import annotations

import pytest

from tests.support.centre.testkit import serve_in_thread

pytestmark = pytest.mark.timeout(60)


def test_admin_calls_need_the_admin_token(centre):
    unit = centre.new_unit()
    for path in ("/api/v1/units", f"/api/v1/units/{unit.unit_id}/events",
                 f"/api/v1/units/{unit.unit_id}/streams", "/api/v1/bundle"):
        for headers in ({}, unit.auth(), {"Authorization": "Bearer wrong"}):
            response = centre.client.get(path, headers=headers)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"
    # Query parameters are not even looked at without the token.
    assert centre.client.get(f"/api/v1/units/{unit.unit_id}/events?limit=x").status_code == 401
    assert centre.client.put("/api/v1/bundle", content=b"{}", headers=unit.auth()).status_code == 401


def test_without_an_admin_token_admin_calls_are_disabled(db_url):
    with serve_in_thread(db_url, admin_token=None) as centre:
        for method, path in (("GET", "/api/v1/units"), ("PUT", "/api/v1/bundle"),
                             ("GET", "/api/v1/units/u/events"), ("PUT", "/api/v1/staff/1001/photo")):
            response = centre.client.request(method, path, headers={"Authorization": "Bearer anything"})
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "admin_disabled"


def test_fleet_health_has_protocols_fields(centre):
    unit = centre.new_unit()
    centre.issue_token("dispenser-1", role="dispenser", counter=None)
    assert centre.upload(unit, unit.batch(unit.record_many(2))).status_code == 200
    units = centre.client.get("/api/v1/units", headers=centre.admin()).json()["units"]
    assert [u["unit_id"] for u in units] == ["counter-03", "dispenser-1"]
    counter = units[0]
    for field in ("unit_id", "role", "counter_id", "last_seen", "acked_through", "backlog", "paper",
                  "clock_offset_ms", "version", "stream_stopped"):
        assert field in counter
    assert (counter["role"], counter["counter_id"], counter["acked_through"], counter["paper"]) \
        == ("counter", "3", 2, "ok")
    assert (units[1]["enrolled"], units[1]["last_seen"], units[1]["acked_through"]) == (False, None, 0)


def test_the_audit_trail_pages_in_seq_order(centre):
    unit = centre.new_unit()
    events = unit.record_many(7)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    path = f"/api/v1/units/{unit.unit_id}/events"
    first = centre.client.get(path, headers=centre.admin(), params={"limit": 3}).json()
    assert first["stream_id"] == unit.stream_id
    assert first["events"] == events[:3]
    rest = centre.client.get(path, headers=centre.admin(), params={"after_seq": 3, "limit": 100}).json()
    assert rest["events"] == events[3:]
    assert centre.client.get(path, headers=centre.admin(), params={"limit": 0}).status_code == 422
    unknown = centre.client.get(path, headers=centre.admin(), params={"stream_id": "nope"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_stream")
    nobody = centre.client.get("/api/v1/units/nobody/events", headers=centre.admin())
    assert (nobody.status_code, nobody.json()["error"]["code"]) == (404, "unknown_unit")

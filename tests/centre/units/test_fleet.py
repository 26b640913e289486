"""Fleet health (centre/units/fleet.py) as uploads leave it, through the upload route, the admin
API and the dashboard's fleet page. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from protocol.signing import generate_private_key

pytestmark = pytest.mark.timeout(60)

STOPPED = "数据流已停止"


def health(backlog: int) -> dict:
    return {"backlog": backlog, "paper": "ok", "disk_free_mb": 800, "version": "0.1.0", "uptime_s": 60}


def streams_of(centre, unit_id: str) -> list[dict]:
    return centre.client.get(f"/api/v1/units/{unit_id}/streams", headers=centre.admin()).json()["streams"]


def test_a_batch_accepted_after_a_refusal_ends_the_stop_and_the_refusal_stays_on_record(centre):
    unit = centre.new_unit()
    assert centre.upload(unit, unit.batch(unit.record_many(2), health=health(2))).status_code == 200
    # One batch arrives with a bad signature (say, damaged on the way); the stream is stopped …
    events = unit.record_many(3)
    refused = centre.upload(unit, unit.batch(events, key=generate_private_key(), health=health(3)))
    assert refused.json()["error"]["code"] == "bad_signature"
    assert centre.fleet(unit.unit_id)["stream_stopped"] is True
    assert STOPPED in centre.dashboard_page("/dashboard/fleet")
    # … and the same events, sent again properly, are accepted: the stream flows again.
    accepted = centre.upload(unit, unit.batch(events, health=health(3)))
    assert accepted.json() == {"acked_through": 5, "stored": 3, "duplicates": 0}
    fleet = centre.fleet(unit.unit_id)
    assert (fleet["stream_stopped"], fleet["stream_stopped_reason"], fleet["stream_stopped_at"]) == (False, None, None)
    assert "bad_signature" in fleet["last_refusal"] and fleet["last_refusal_at"] is not None
    [stream] = streams_of(centre, unit.unit_id)
    assert (stream["stopped"], stream["stopped_reason"]) == (False, None)
    assert "bad_signature" in stream["last_refusal"]
    page = centre.dashboard_page("/dashboard/fleet")
    assert STOPPED not in page and "上次拒收" in page and "全部 1 台设备正常" in page


def test_a_refusal_after_an_accepted_batch_stops_the_stream_again(centre):
    unit = centre.new_unit()
    assert centre.upload(unit, unit.batch(unit.record_many(1))).status_code == 200
    second = unit.record_many(1)
    assert centre.upload(unit, unit.batch(second, key=generate_private_key())).status_code == 422
    assert centre.upload(unit, unit.batch(second)).status_code == 200
    assert centre.upload(unit, unit.batch(unit.record_many(1), key=generate_private_key())).status_code == 422
    fleet = centre.fleet(unit.unit_id)
    assert fleet["stream_stopped"] is True and fleet["stream_stopped_at"] == fleet["last_refusal_at"]
    # A heartbeat is not a batch of the stream: it does not end the stop.
    assert centre.upload(unit, unit.batch([], health=health(1))).status_code == 200
    assert centre.fleet(unit.unit_id)["stream_stopped"] is True


def test_backlog_is_what_the_unit_has_left_after_the_batch(centre):
    unit = centre.new_unit()
    # The unit holds 7 unsent events and sends them all: nothing is left.
    assert centre.upload(unit, unit.batch(unit.record_many(7), health=health(7))).status_code == 200
    assert centre.fleet(unit.unit_id)["backlog"] == 0
    assert "<td class=\"num\">0</td>" in centre.dashboard_page("/dashboard/fleet")
    # It holds 10 and sends 4 of them: 6 are left.
    events = unit.record_many(10)
    assert centre.upload(unit, unit.batch(events[:4], health=health(10))).status_code == 200
    assert centre.fleet(unit.unit_id)["backlog"] == 6
    # It resends 2 the centre holds (their acknowledgement was lost) and 1 more, with 8 to send
    # from the first of them: 5 are left.
    assert centre.upload(unit, unit.batch(events[2:5], health=health(8))).json()["duplicates"] == 2
    assert centre.fleet(unit.unit_id)["backlog"] == 5
    # A heartbeat says what the unit has now, as it is.
    assert centre.upload(unit, unit.batch([], health=health(5))).status_code == 200
    assert centre.fleet(unit.unit_id)["backlog"] == 5

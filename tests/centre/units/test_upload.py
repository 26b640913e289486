"""Uploading events (PROTOCOL.md): what is stored, every refusal with its code and nothing wrong
stored, and many uploads of one stream at once. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from centre.web.bodies import raw_array_items
from protocol import MAX_BATCH
from protocol.signing import generate_private_key
from tests.support.centre.testkit import SimulatedUnit, now_utc, seal

pytestmark = pytest.mark.timeout(60)


def error_of(response) -> dict:
    return response.json()["error"]


def test_a_batch_is_stored_whole_and_acknowledged(centre):
    unit = centre.new_unit()
    events = unit.record_many(3)
    response = centre.upload(unit, unit.batch(events))
    assert response.status_code == 200, response.text
    assert response.json() == {"acked_through": 3, "stored": 3, "duplicates": 0}
    assert [json.loads(raw) for raw in centre.stored_raw(unit.stream_id)] == events


def test_events_are_kept_exactly_as_sent(centre):
    """The audit trail gives back each event's text byte for byte, whatever its formatting."""
    unit = centre.new_unit()
    events = unit.record_many(2)
    texts = [json.dumps(events[0], indent=1, ensure_ascii=True),
             json.dumps(events[1], ensure_ascii=False, separators=(" ,", " : "))]
    batch = unit.batch(events)
    body = ('{"stream_id": %s, "events": [ %s ,\n %s ], "head_sig": %s, "sent_at": %s}'
            % (json.dumps(batch["stream_id"]), texts[0], texts[1], json.dumps(batch["head_sig"]),
               json.dumps(batch["sent_at"])))
    assert centre.upload(unit, body).status_code == 200
    assert centre.stored_raw(unit.stream_id) == texts
    audit = centre.client.get(f"/api/v1/units/{unit.unit_id}/events", headers=centre.admin())
    assert audit.status_code == 200
    assert raw_array_items(audit.text, "events") == texts


def test_a_resent_batch_counts_duplicates_and_stores_nothing_twice(centre):
    unit = centre.new_unit()
    events = unit.record_many(4)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    again = centre.upload(unit, unit.batch(events))
    assert again.status_code == 200
    assert again.json() == {"acked_through": 4, "stored": 0, "duplicates": 4}
    more = events[2:] + unit.record_many(2)
    overlap = centre.upload(unit, unit.batch(more))
    assert overlap.json() == {"acked_through": 6, "stored": 2, "duplicates": 2}
    assert centre.stored_count(unit.unit_id) == 6


def test_a_gap_is_refused_with_the_seq_to_resend_from(centre):
    unit = centre.new_unit()
    events = unit.record_many(6)
    assert centre.upload(unit, unit.batch(events[:2])).status_code == 200
    response = centre.upload(unit, unit.batch(events[4:]))
    assert response.status_code == 409
    assert error_of(response)["code"] == "gap"
    assert error_of(response)["expected_seq"] == 3
    assert centre.stored_count(unit.unit_id) == 2
    assert centre.fleet(unit.unit_id)["stream_stopped"] is False  # a gap is resent, not stopped
    assert centre.upload(unit, unit.batch(events[2:])).json()["acked_through"] == 6


def test_a_first_batch_not_starting_at_seq_1_is_a_gap(centre):
    unit = centre.new_unit()
    events = unit.record_many(3)
    response = centre.upload(unit, unit.batch(events[1:]))
    error = error_of(response)
    assert (response.status_code, error["code"], error["expected_seq"]) == (409, "gap", 1)
    assert centre.stored_count() == 0


def test_a_different_event_at_a_held_seq_is_a_conflict_and_stops_the_stream(centre):
    unit = centre.new_unit()
    events = unit.record_many(3)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    # Another history of the same stream: validly hashed, chained and signed, but not what is held.
    rival = SimulatedUnit(unit.unit_id, stream_id=unit.stream_id)
    rival.key = unit.key
    rival_events = rival.record_many(3)
    response = centre.upload(unit, unit.batch(rival_events))
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert [json.loads(raw) for raw in centre.stored_raw(unit.stream_id)] == events
    health = centre.fleet(unit.unit_id)
    assert health["stream_stopped"] is True
    assert "conflict" in health["stream_stopped_reason"]
    streams = centre.client.get(f"/api/v1/units/{unit.unit_id}/streams", headers=centre.admin()).json()
    assert streams["streams"][0]["stopped"] is True


def test_the_right_seq_that_does_not_chain_onto_the_held_event_is_a_conflict(centre):
    unit = centre.new_unit()
    events = unit.record_many(2)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    unit.head_hash = "0" * 64  # the next event links to something the centre never held
    orphan = unit.record()
    response = centre.upload(unit, unit.batch([orphan]))
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert centre.stored_count(unit.unit_id) == 2


@pytest.mark.parametrize("tamper", ["forged_head", "reordered", "altered", "altered_and_rehashed",
                                    "dropped_from_middle", "unsigned"])
def test_a_batch_that_does_not_verify_is_bad_signature_and_nothing_is_stored(centre, tamper):
    unit = centre.new_unit()
    events = unit.record_many(4)
    batch = unit.batch(events)
    if tamper == "forged_head":
        batch = unit.batch(events, key=generate_private_key())
    elif tamper == "reordered":
        batch = unit.batch([events[0], events[2], events[1], events[3]])
    elif tamper == "altered":
        batch["events"][1] = {**events[1], "data": {**events[1]["data"], "level": 1}}
    elif tamper == "altered_and_rehashed":
        # Its own hash is right again, but the next event's prev_hash no longer matches it.
        batch["events"][1] = seal({**events[1], "data": {**events[1]["data"], "level": 1}})
    elif tamper == "dropped_from_middle":
        batch = unit.batch([events[0], events[1], events[3]])
    elif tamper == "unsigned":
        batch["head_sig"] = ""
    response = centre.upload(unit, batch)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "bad_signature"
    assert centre.stored_count() == 0
    health = centre.fleet(unit.unit_id)
    assert health["stream_stopped"] is True
    assert "bad_signature" in health["stream_stopped_reason"]


def test_a_wrong_token_is_unauthorized_before_anything_else(centre):
    unit = centre.new_unit()
    batch = unit.batch(unit.record_many(1))
    for headers in ({"Authorization": "Bearer not-a-token"}, {}, {"Authorization": unit.token}):
        response = centre.upload(unit, batch, headers=headers)
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthorized"
    # Token first: a malformed body with a wrong token is still 401, not 422.
    assert centre.upload(unit, "{not json", headers={"Authorization": "Bearer x"}).status_code == 401
    assert centre.stored_count() == 0


def test_another_units_id_is_forbidden(centre):
    mine = centre.new_unit("counter-01")
    theirs = centre.new_unit("counter-02")
    response = centre.upload(mine, mine.batch(mine.record_many(2)), unit_id=theirs.unit_id)
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
    assert centre.stored_count() == 0
    assert centre.fleet(theirs.unit_id)["last_seen"] is None


def test_another_units_stream_is_forbidden(centre):
    first = centre.new_unit("counter-01")
    assert centre.upload(first, first.batch(first.record_many(1))).status_code == 200
    second = centre.new_unit("counter-02")
    second.stream_id = first.stream_id
    response = centre.upload(second, second.batch(second.record_many(2)))
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
    assert centre.stored_count(second.unit_id) == 0
    assert centre.stored_count(first.unit_id) == 1


def test_a_revoked_unit_is_refused_and_its_events_stay(centre):
    unit = centre.new_unit()
    events = unit.record_many(2)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    from centre.units.fleet import revoke_unit
    with centre.db.transaction() as session:
        revoke_unit(session, unit.unit_id, now_utc())
    response = centre.upload(unit, unit.batch(unit.record_many(1)))
    assert response.status_code == 403
    assert error_of(response)["code"] == "revoked"
    assert [json.loads(raw) for raw in centre.stored_raw(unit.stream_id)] == events
    assert centre.client.get(f"/api/v1/units/{unit.unit_id}/bundle", headers=unit.auth()).status_code == 403
    # Nor may it fetch what all units share (a staff photo; none is stored, but the token is checked first).
    photo = centre.client.get("/api/v1/staff/1001/photo", headers=unit.auth())
    assert (photo.status_code, error_of(photo)["code"]) == (403, "revoked")


@pytest.mark.parametrize("case, field", [
    ("missing_stream_id", "stream_id"),
    ("seq_as_text", "events[1].seq"),
    ("level_out_of_range", "events[0].data.level"),
    ("wall_time_without_offset", "events[0].wall_time"),
    ("event_of_another_stream", "events[1].stream_id"),
    ("staff_id_object", "events[0].data.staff_id"),
    ("too_many_events", "events"),
    ("heartbeat_with_signature", "head_sig"),
    ("sent_at_garbage", "sent_at"),
    ("not_json", "body"),
    ("array", "body"),
])
def test_a_malformed_batch_is_invalid_naming_the_field(centre, case, field):
    unit = centre.new_unit()
    events = unit.record_many(2)
    batch = unit.batch(events)
    body: object = batch
    if case == "missing_stream_id":
        del batch["stream_id"]
    elif case == "seq_as_text":
        batch["events"][1] = {**events[1], "seq": "2"}
    elif case == "level_out_of_range":
        batch["events"][0] = seal({**events[0], "data": {**events[0]["data"], "level": 9}})
    elif case == "wall_time_without_offset":
        batch["events"][0] = {**events[0], "wall_time": "2026-11-23T09:14:03"}
    elif case == "event_of_another_stream":
        batch["events"][1] = {**events[1], "stream_id": "another-stream"}
    elif case == "staff_id_object":
        batch["events"][0] = {**events[0], "data": {**events[0]["data"], "staff_id": {"id": 1}}}
    elif case == "too_many_events":
        batch = unit.batch(events + unit.record_many(MAX_BATCH - 1))
        body = batch
    elif case == "heartbeat_with_signature":
        batch["events"], batch["head_sig"] = [], "c2lnbmF0dXJl"
    elif case == "sent_at_garbage":
        batch["sent_at"] = "yesterday"
    elif case == "not_json":
        body = '{"stream_id": '
    elif case == "array":
        body = [batch]
    response = centre.upload(unit, body if isinstance(body, str) else json.dumps(body))
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "invalid"
    assert error_of(response)["field"] == field
    assert centre.stored_count() == 0
    # A refused batch of events stops its stream (the unit stops it too); a refused heartbeat or
    # a body that is not even a batch carried no events, so nothing is stopped.
    stopped = case not in ("heartbeat_with_signature", "not_json", "array")
    assert centre.fleet(unit.unit_id)["stream_stopped"] is stopped


def test_a_full_batch_of_500_fits_and_an_oversized_body_is_refused(centre):
    unit = centre.new_unit()
    events = unit.record_many(MAX_BATCH)
    response = centre.upload(unit, unit.batch(events))
    assert response.json() == {"acked_through": MAX_BATCH, "stored": MAX_BATCH, "duplicates": 0}
    huge = unit.batch([unit.record("unit.started", {"version": "x" * (5 * 1024 * 1024)})])
    refused = centre.upload(unit, huge)
    assert refused.status_code == 413
    assert error_of(refused)["code"] == "too_large"
    assert centre.stored_count() == MAX_BATCH


def test_a_heartbeat_updates_health_and_clock_offset_only(centre):
    unit = centre.new_unit()
    health = {"backlog": 17, "paper": "near_end", "disk_free_mb": 640.5, "version": "0.2.0",
              "uptime_s": 7200, "stream_stopped": None}
    response = centre.upload(unit, unit.batch([], sent_at=now_utc() - timedelta(seconds=5), health=health))
    assert response.json() == {"acked_through": 0, "stored": 0, "duplicates": 0}
    fleet = centre.fleet(unit.unit_id)
    assert 4000 <= fleet["clock_offset_ms"] <= 8000  # the unit's clock is 5 s behind
    assert (fleet["backlog"], fleet["paper"], fleet["disk_free_mb"], fleet["version"], fleet["uptime_s"]) \
        == (17, "near_end", 640, "0.2.0", 7200)
    assert fleet["last_seen"] is not None
    # Unsigned, so it does not make the stream known: only a signed batch does.
    assert (fleet["stream_id"], fleet["acked_through"]) == (None, 0)
    assert centre.stored_count() == 0
    assert centre.upload(unit, unit.batch(unit.record_many(2))).status_code == 200
    beat = centre.upload(unit, unit.batch([], health={"backlog": 0}))
    assert beat.json() == {"acked_through": 2, "stored": 0, "duplicates": 0}
    assert centre.fleet(unit.unit_id)["paper"] is None  # the latest health object replaces the last


def test_a_heartbeat_for_another_units_stream_is_forbidden(centre):
    first = centre.new_unit("counter-01")
    assert centre.upload(first, first.batch(first.record_many(1))).status_code == 200
    second = centre.new_unit("counter-02")
    response = centre.upload(second, second.batch([], stream_id=first.stream_id))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


def test_a_new_stream_starts_at_seq_1_and_becomes_current(centre):
    unit = centre.new_unit()
    old_stream = unit.stream_id
    assert centre.upload(unit, unit.batch(unit.record_many(3))).status_code == 200
    bad = centre.upload(unit, unit.batch(unit.record_many(1), key=generate_private_key()))
    assert error_of(bad)["code"] == "bad_signature"
    assert centre.fleet(unit.unit_id)["stream_stopped"] is True
    unit.new_stream()  # the unit's database was made afresh
    response = centre.upload(unit, unit.batch(unit.record_many(2)))
    assert response.json() == {"acked_through": 2, "stored": 2, "duplicates": 0}
    fleet = centre.fleet(unit.unit_id)
    assert (fleet["stream_id"], fleet["acked_through"], fleet["stream_stopped"]) == (unit.stream_id, 2, False)
    streams = centre.client.get(f"/api/v1/units/{unit.unit_id}/streams", headers=centre.admin()).json()
    summary = {s["stream_id"]: (s["acked_through"], s["current"], s["stopped"]) for s in streams["streams"]}
    assert summary == {old_stream: (3, False, True), unit.stream_id: (2, True, False)}
    old = centre.client.get(f"/api/v1/units/{unit.unit_id}/events", headers=centre.admin(),
                            params={"stream_id": old_stream}).json()
    assert [e["seq"] for e in old["events"]] == [1, 2, 3]


@pytest.mark.timeout(120)
def test_concurrent_uploads_of_one_stream_store_each_event_once(centre):
    """Overlapping batches of a new stream, all sent at once: none stored twice, none skipped."""
    unit = centre.new_unit()
    events = unit.record_many(200)
    slices = [(0, 50), (0, 100), (50, 150), (100, 200), (0, 200), (25, 75), (150, 200), (0, 10)] * 2
    start = threading.Barrier(len(slices))

    def send(bounds: tuple[int, int]) -> tuple[int, dict]:
        with httpx.Client(base_url=centre.base_url, timeout=60) as client:
            body = json.dumps(unit.batch(events[bounds[0]:bounds[1]]))
            start.wait(timeout=30)
            response = client.post(f"/api/v1/units/{unit.unit_id}/events", content=body,
                                   headers={**unit.auth(), "Content-Type": "application/json"})
            return response.status_code, response.json()

    with ThreadPoolExecutor(len(slices)) as pool:
        results = list(pool.map(send, slices))
    stored_total = 0
    for (low, high), (status, body) in zip(slices, results):
        if status == 200:
            assert body["stored"] + body["duplicates"] == high - low
            stored_total += body["stored"]
        else:  # sent before the events it follows were stored: the unit would resend
            assert (status, body["error"]["code"]) == (409, "gap"), body
    acked = centre.fleet(unit.unit_id)["acked_through"]
    if acked < 200:
        response = centre.upload(unit, unit.batch(events[acked:]))
        stored_total += response.json()["stored"]
    assert stored_total == 200
    assert [json.loads(raw) for raw in centre.stored_raw(unit.stream_id)] == events

"""Enrolment (PROTOCOL.md): one-time tokens, one answer for every refusal, refusals use nothing up."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from centre.storage.models import EnrolmentToken, Unit
from centre.web.tokens import token_digest
from tests.support.centre.testkit import SimulatedUnit, now_utc

pytestmark = pytest.mark.timeout(60)


def enrol(centre, token: str, unit: SimulatedUnit, public_key: str | None = None):
    return centre.client.post("/api/v1/enrol", json={"token": token, "unit_id": unit.unit_id,
                                                     "public_key": public_key or unit.public_key})


def test_enrolment_gives_a_unit_token_that_is_stored_only_hashed(centre):
    unit = SimulatedUnit("counter-03")
    token = centre.issue_token(unit.unit_id)
    response = enrol(centre, token, unit)
    assert response.status_code == 201
    unit_token = response.json()["unit_token"]
    assert len(unit_token) >= 40
    with centre.db.transaction() as session:
        row = session.get(Unit, unit.unit_id)
        assert (row.public_key, row.token_hash) == (unit.public_key, token_digest(unit_token))
        assert session.scalars(select(EnrolmentToken.used_at)).one() is not None
    unit.token = unit_token
    assert centre.upload(unit, unit.batch(unit.record_many(1))).status_code == 200


def test_used_expired_unknown_and_wrong_unit_tokens_get_one_and_the_same_401(centre):
    unit = SimulatedUnit("counter-03")
    used = centre.issue_token(unit.unit_id)
    assert enrol(centre, used, unit).status_code == 201

    late = SimulatedUnit("counter-04")
    expired = centre.issue_token(late.unit_id, now=now_utc() - timedelta(hours=24, seconds=1))
    other = SimulatedUnit("counter-05")
    other_token = centre.issue_token(other.unit_id)

    answers = [
        enrol(centre, used, unit),  # reused
        enrol(centre, expired, late),  # expired
        enrol(centre, "no-such-token", late),  # unknown
        enrol(centre, other_token, SimulatedUnit("counter-04")),  # a token of another unit
        enrol(centre, other_token, SimulatedUnit("counter-99")),  # a unit that does not exist
    ]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1
    assert answers[0].json()["error"]["code"] == "unauthorized"
    # The refused attempt with counter-05's token did not use it up.
    assert enrol(centre, other_token, other).status_code == 201


def test_a_refused_attempt_leaves_the_token_usable(centre):
    unit = SimulatedUnit("counter-03")
    token = centre.issue_token(unit.unit_id)
    bad_key = enrol(centre, token, unit, public_key="bm90IGEga2V5")
    assert (bad_key.status_code, bad_key.json()["error"]["field"]) == (422, "public_key")
    assert enrol(centre, token, SimulatedUnit("counter-04")).status_code == 401
    assert enrol(centre, token, unit).status_code == 201
    assert enrol(centre, token, unit).status_code == 401


def test_a_revoked_or_already_enrolled_unit_cannot_enrol_again(centre):
    unit = centre.new_unit("counter-03")
    assert centre.client.post("/api/v1/enrol", json={
        "token": "whatever", "unit_id": unit.unit_id, "public_key": unit.public_key}).status_code == 401
    from centre.units.enrolment import UnitError, add_unit
    with pytest.raises(UnitError, match="already enrolled"):
        with centre.db.transaction() as session:
            add_unit(session, unit.unit_id, "counter", "3", now_utc())


def test_a_second_token_for_a_unit_not_yet_enrolled_also_works(centre):
    unit = SimulatedUnit("counter-03")
    first = centre.issue_token(unit.unit_id)
    second = centre.issue_token(unit.unit_id)
    assert enrol(centre, second, unit).status_code == 201
    assert enrol(centre, first, unit).status_code == 401  # the unit is enrolled now


def test_a_malformed_enrolment_is_invalid(centre):
    response = centre.client.post("/api/v1/enrol", json={"token": "t", "unit_id": "bad id!",
                                                         "public_key": "x"})
    assert (response.status_code, response.json()["error"]["field"]) == (422, "unit_id")


def test_the_enrolment_answer_carries_the_role_and_counter_recorded_at_the_centre(centre):
    counter = SimulatedUnit("counter-03")
    dispenser = SimulatedUnit("dispenser-1")
    counter_token = centre.issue_token(counter.unit_id, role="counter", counter="3")
    dispenser_token = centre.issue_token(dispenser.unit_id, role="dispenser", counter=None)
    answer = enrol(centre, counter_token, counter)
    assert answer.status_code == 201
    assert {key: value for key, value in answer.json().items() if key != "unit_token"} == {
        "role": "counter", "counter_id": "3"}
    answer = enrol(centre, dispenser_token, dispenser)
    assert (answer.status_code, answer.json()["role"], answer.json()["counter_id"]) == (201, "dispenser", None)


def confirm(centre, token: str, unit: SimulatedUnit, **told):
    return centre.client.post("/api/v1/enrol", json={"token": token, "unit_id": unit.unit_id,
                                                     "public_key": unit.public_key, **told})


@pytest.mark.parametrize("told", [{"role": "both"}, {"counter_id": "4"}, {"role": "counter", "counter_id": "03"}])
def test_a_role_or_counter_the_centre_did_not_record_is_refused_and_uses_nothing_up(centre, told):
    unit = SimulatedUnit("counter-03")
    token = centre.issue_token(unit.unit_id, role="counter", counter="3")
    refused = confirm(centre, token, unit, **told)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["role"], error["counter_id"]) == ("identity_mismatch", "counter", "3")
    assert "token is still valid" in error["message"]
    with centre.db.transaction() as session:
        assert session.scalars(select(EnrolmentToken.used_at)).one() is None
        assert session.get(Unit, unit.unit_id).enrolled_at is None
    # The record is told only to a holder of a good token: a wrong token is the usual 401.
    assert confirm(centre, "no-such-token", unit, **told).status_code == 401
    agreeing = confirm(centre, token, unit, role="counter", counter_id="3")
    assert agreeing.status_code == 201 and agreeing.json()["counter_id"] == "3"


def test_a_counter_a_unit_could_not_take_is_refused_at_unit_add(centre):
    from centre.units.enrolment import UnitError, add_unit
    for counter in ("3 号", "x" * 17, "3\n"):
        with pytest.raises(UnitError, match="1-16 characters"):
            with centre.db.transaction() as session:
                add_unit(session, "counter-03", "counter", counter, now_utc())

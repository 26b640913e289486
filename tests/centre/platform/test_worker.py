"""Forwarding to the 好差评 platform through the real path: units upload over HTTP, the outbox is
filled as the events are stored, and the worker sends it to a fake platform (a real HTTP server
on 127.0.0.1) that refuses, times out and answers twice at random."""
from __future__ import annotations

import random
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from centre.platform.mapping import PlatformConfig
from centre.platform.outbox import outbox_status, resend
from centre.platform.worker import Forwarder
from centre.storage.db import Database
from centre.storage.models import PlatformOutbox
from protocol.events import EventType
from tests.support.centre.fake_platform import fake_platform
from tests.support.centre.fixtures import centre, served_centre  # noqa: F401 (fixtures)
from tests.support.centre.testkit import now_utc

pytestmark = pytest.mark.timeout(120)
ROUNDS = 400  # a bound on the worker's rounds: the test ends whatever happens


def config_for(platform, **changes) -> PlatformConfig:
    settings = dict(url=platform.url, area_code="440100", auth="hmac", secret=platform.secret,
                    timeout_s=0.25, reason_wait_s=0, backoff_base_s=0.005, backoff_max_s=0.05)
    return PlatformConfig(**{**settings, **changes})


def rating(unit, level: int, *, service_item: str = "TQ01"):
    data = {"transaction_id": str(uuid.uuid4()), "level": level, "staff_id": "1001", "counter_id": "3",
            "service_item": service_item, "ticket": f"A{unit.seq + 1:03d}"}
    return unit.record(EventType.RATING_SUBMITTED, data)


def reason(unit, rated, code: str):
    return unit.record(EventType.RATING_REASON, {"transaction_id": rated["data"]["transaction_id"],
                                                 "reason_code": code, "reason_label": code})


def drain(db: Database, config: PlatformConfig, rounds: int = ROUNDS) -> None:
    """Run the worker until nothing is pending (at most `rounds` rounds)."""
    forwarder = Forwarder(db, config, rng=random.Random(1))
    with httpx.Client() as client:
        for _ in range(rounds):
            forwarder.send_due(client)
            with db.connection() as connection:
                if outbox_status(connection)["counts"]["pending"] == 0:
                    return
            time.sleep(0.01)
    raise AssertionError("the outbox did not drain")


def statuses(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return dict(session.execute(select(PlatformOutbox.key, PlatformOutbox.status)).all())


@pytest.mark.slow
def test_every_counted_rating_arrives_once_in_rating_order_through_refusals_timeouts_and_restarts(centre):
    unit = centre.new_unit(counter="3")
    expected = []  # (event_id, reason codes) in the order rated
    for batch_number in range(6):
        events = []
        for i in range(5):
            level = (batch_number + i) % 5 + 1
            rated = rating(unit, level)
            events.append(rated)
            codes = []
            if level <= 2:
                codes = ["R01", "R03"]
                events += [reason(unit, rated, code) for code in codes]
            expected.append((rated["event_id"], ",".join(codes)))
        assert centre.upload(unit, unit.batch(events)).status_code == 200
    # A rating voided in the same batch and one voided in a later one: neither is forwarded.
    void = {"why": "burst", "staff_id": "1001", "counter_id": "3"}
    voided_now = rating(unit, 1)
    void_now = unit.record(EventType.RATING_VOIDED, {**void, "transaction_id": voided_now["data"]["transaction_id"]})
    voided_later = rating(unit, 2)
    assert centre.upload(unit, unit.batch([voided_now, void_now, voided_later])).status_code == 200
    assert centre.upload(unit, unit.batch([unit.record(EventType.RATING_VOIDED, {
        **void, "transaction_id": voided_later["data"]["transaction_id"]})])).status_code == 200

    with fake_platform(misbehave=0.5, late_s=0.4) as platform:
        config = config_for(platform)
        # A worker that stops after a few records (a restart), then another on a new connection pool.
        first = Database(centre.db.url)
        try:
            with httpx.Client() as client:
                Forwarder(first, config, rng=random.Random(2)).send_due(client, limit=6)
        finally:
            first.dispose()
        second = Database(centre.db.url)
        try:
            drain(second, config)
            with second.connection() as connection:
                counts = outbox_status(connection)["counts"]
        finally:
            second.dispose()
    assert [(record["evaluationId"], record["evalDetail"]) for record in platform.accepted] == expected
    assert len(platform.keys) == len(expected) and platform.bad_auth == 0
    assert all(platform.misbehaved[kind] > 0 for kind in platform.misbehaved), platform.misbehaved
    assert platform.again > 0  # a kept record came again, and was taken once
    assert counts == {"pending": 0, "sent": 30, "merged": 24, "withheld": 1, "dead": 0}
    assert statuses(centre.db)[voided_later["event_id"]] == "withheld"
    assert voided_now["event_id"] not in statuses(centre.db)


def test_the_record_carries_the_mapped_fields_and_a_late_reason_goes_on_its_own(centre):
    unit = centre.new_unit(counter="3")
    rated = rating(unit, 1, service_item="GJJ-0107")
    assert centre.upload(unit, unit.batch([rated])).status_code == 200
    with fake_platform(auth="token") as platform:
        config = config_for(platform, auth="token", fields={"itemCode": "service_item", "grade": "level",
                                                              "reasons": "reason_codes", "channel": "channel",
                                                              "id": "key", "kind": "kind"})
        drain(centre.db, config)
        assert centre.upload(unit, unit.batch([reason(unit, rated, "R07")])).status_code == 200
        drain(centre.db, config)
    first, late = platform.accepted
    assert first == {"itemCode": "GJJ-0107", "grade": 1, "reasons": "", "channel": "5",
                     "id": rated["event_id"], "kind": "rating"}
    assert late == {"itemCode": "", "grade": "", "reasons": "R07", "channel": "5",
                    "id": late["id"], "kind": "reason"}


def test_a_refused_record_is_dead_at_once_the_rest_go_and_it_can_be_resent(centre):
    unit = centre.new_unit(counter="3")
    events = [rating(unit, 5), rating(unit, 4), rating(unit, 3)]
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    poisoned = events[1]["event_id"]
    with fake_platform(refuse_keys=frozenset({poisoned})) as platform:
        drain(centre.db, config_for(platform))
        assert statuses(centre.db)[poisoned] == "dead"
        assert [r["evaluationId"] for r in platform.accepted] == [events[0]["event_id"], events[2]["event_id"]]
    with centre.db.connection() as connection, connection.begin():
        troubled = outbox_status(connection)["troubled"]
        assert troubled[0]["key"] == poisoned and "HTTP 400" in troubled[0]["last_error"]
        assert resend(connection, now_utc(), keys=[poisoned]) == 1
    with fake_platform() as platform:
        drain(centre.db, config_for(platform))
        assert [r["evaluationId"] for r in platform.accepted] == [poisoned]


def test_records_not_taken_within_the_days_set_are_dead_letters(centre):
    unit = centre.new_unit(counter="3")
    assert centre.upload(unit, unit.batch([rating(unit, 5)])).status_code == 200
    with fake_platform(misbehave=1.0, seed=3) as platform:
        config = config_for(platform, dead_after_days=0)
        forwarder = Forwarder(centre.db, config)
        with httpx.Client() as client:
            assert forwarder.send_due(client) == (0, 0)
    assert list(statuses(centre.db).values()) == ["dead"]

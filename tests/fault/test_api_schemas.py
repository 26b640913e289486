"""Schemathesis against the centre's API and the unit's local API (tests/fault/api_fuzz.py): no 5xx,
every error in PROTOCOL.md's shape, every answer as the OpenAPI document says.

The centre's document comes from `app.openapi()`: the centre does not serve it (it faces the units'
network, and its contract is PROTOCOL.md). The unit's comes from GET /v1/openapi.json of a running
`kiosk run --sim`, and a test here keeps it listing exactly the app's routes.
"""
from __future__ import annotations

import os
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from centre.dashboard.accounts import add_user, session_user, start_session
from centre.dashboard.session import SESSION_COOKIE
from kiosk.api.server import create_api
from kiosk.api.openapi import OPENAPI_PATH, build_document, openapi_path
from tests.support.centre.testkit import ADMIN_TOKEN, LiveCentre, serve_in_thread
from tests.fault.api_fuzz import Fixed, FuzzTally, error_shape_problem, fuzz_api
from tests.fault.results import record
from tests.support.sim_unit import SimUnit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
# Generated requests per operation and per kind (fitting the document, and not); API_FUZZ_EXAMPLES=N
# runs more by hand.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "8"))
TIME_LIMIT_S = 90.0
FUZZED_UNIT = "fuzz-unit"
# What only the unit named in the path may call, with its own token.
UNIT_OPERATIONS = {("POST", "/api/v1/units/{unit_id}/events"), ("GET", "/api/v1/units/{unit_id}/bundle")}


def assert_clean(tally: FuzzTally) -> None:
    # An operation without parameters has one request to send; every other gets EXAMPLES of each kind.
    assert tally.requests >= tally.operations, "the fuzzer skipped operations"
    assert not tally.problems, f"{sum(map(len, tally.problems.values()))} problems:\n{tally.report()}"


def seed_centre(centre: LiveCentre) -> tuple[str, str, str]:
    """A unit with a stream (two 差评 among its ratings), the sample bundle and a dashboard admin
    logged in: the fuzzer then meets real rows. Returns (unit token, session token, CSRF token)."""
    unit = centre.new_unit(FUZZED_UNIT)
    assert centre.upload(unit, unit.batch(unit.record_many(5))).status_code == 200
    bundle = tomllib.loads((REPO / "config" / "bundle.toml").read_text(encoding="utf-8"))
    assert centre.client.put("/api/v1/bundle", json=bundle, headers=centre.admin()).status_code == 200
    now = datetime.now(timezone.utc)
    with centre.db.transaction() as session:
        user = add_user(session, "fuzz-admin", "admin", "fuzz-pass-1", now)
        session_token = start_session(session, user, now)
        csrf = session_user(session, session_token, now).csrf_token
    return unit.token, session_token, csrf


def test_the_centre_answers_every_generated_request_as_documented(tmp_path, request):
    with serve_in_thread(f"sqlite:///{tmp_path / 'centre.db'}") as centre:
        unit_token, session_token, csrf = seed_centre(centre)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

        def fixed_for(method: str, path: str) -> Fixed:
            if path.startswith("/dashboard"):
                # Logging out would end the session the other pages are fuzzed in: its form gets no token.
                form = {} if path == "/dashboard/logout" else {"csrf_token": csrf}
                return Fixed(cookies={SESSION_COOKIE: session_token}, form_fields=form)
            if path in ("/healthz", "/api/v1/enrol"):
                return Fixed()  # no token: a wrong one would count towards the bad-token limit
            if (method, path) in UNIT_OPERATIONS:
                return Fixed(path_parameters={"unit_id": FUZZED_UNIT},
                             headers={"Authorization": f"Bearer {unit_token}"})
            return Fixed(headers=admin)

        tally = fuzz_api(centre.app.openapi(), centre.base_url, examples=EXAMPLES, fixed_for=fixed_for,
                         time_limit_s=TIME_LIMIT_S)
    record(request.node.nodeid, f"{tally.operations} operations × {EXAMPLES} fitting + {EXAMPLES} unfitting "
           "requests (schemathesis)", tally.figures())
    assert_clean(tally)


def test_the_units_api_answers_every_generated_request_as_documented(tmp_path, request):
    unit = SimUnit(tmp_path / "state").start()
    try:
        served = unit.get(OPENAPI_PATH)
        assert served.status_code == 200
        assert unit.get(OPENAPI_PATH, headers={}).status_code == 401  # behind the token like the rest
        token = {"Authorization": f"Bearer {unit.token}"}

        def fixed_for(method: str, path: str) -> Fixed:
            return Fixed() if path == "/healthz" else Fixed(headers=token)

        tally = fuzz_api(served.json(), unit.url, examples=EXAMPLES, fixed_for=fixed_for,
                         time_limit_s=TIME_LIMIT_S)
        assert unit.get("/healthz", headers={}).status_code == 200  # and the unit still works
    finally:
        unit.kill()
    record(request.node.nodeid, f"{tally.operations} operations × {EXAMPLES} fitting + {EXAMPLES} unfitting "
           "requests (schemathesis) to a `kiosk run --sim`", tally.figures())
    assert_clean(tally)


@pytest.mark.parametrize("sim", [True, False], ids=["sim", "device"])
def test_the_units_document_lists_exactly_the_apps_routes(sim):
    # create_api only reads these attributes while it builds the routes.
    kiosk_app = SimpleNamespace(settings=SimpleNamespace(api=SimpleNamespace(token="t")), sim=sim,
                                queue=None, devices=SimpleNamespace(printer=None))
    app_routes = create_api(kiosk_app).routes
    routes = {(method, openapi_path(route.path)) for route in app_routes
              for method in route.methods if method != "HEAD"}
    documented = {(method.upper(), path) for path, operations in build_document(app_routes)["paths"].items()
                  for method in operations}
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "the document lists routes the app does not have"
    assert all(route.summary for route in app_routes), "every route says what it does"
    assert any("/v1/sim/" in path for _, path in routes) == sim


@pytest.mark.parametrize("body", [{"detail": [{"msg": "field required"}]}, {"error": "invalid"},
                                  {"error": {"code": "invalid"}}, {"error": {"code": "", "message": "m"}},
                                  {"error": {"code": 422, "message": "m"}}, [], None])
def test_the_error_shape_verdict_refuses_any_other_shape(body):
    assert error_shape_problem(body) is not None


def test_the_error_shape_verdict_accepts_protocols_errors_with_their_extra_fields():
    assert error_shape_problem({"error": {"code": "gap", "message": "resend", "expected_seq": 7}}) is None

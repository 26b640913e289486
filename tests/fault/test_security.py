"""Security promises of issue 8, through a real centre on 127.0.0.1 (and the unit's defaults).

Already proved elsewhere and not repeated here: forged, altered and reordered batches are
bad_signature with nothing stored (tests/centre/test_centre_upload.py::
test_a_batch_that_does_not_verify_is_bad_signature_and_nothing_is_stored), another unit's id or
stream is forbidden and a revoked unit is refused (same file, on SQLite and PostgreSQL; the
checks here run on SQLite only, as authentication reads the same rows on both); key and token
files are 0600 after `kiosk provision` (tests/sync/test_sync_provision.py). This file adds: the bad-token limit, a whole
signed batch replayed under another unit, wrong tokens of the right length, the unit API's
loopback default, and no secret in any log of a unit syncing to a centre.
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from centre.units.fleet import revoke_unit
from centre.web.ratelimit import DEFAULT_MAX_FAILURES, DEFAULT_WINDOW_S, FailureLimiter
from tests.support.centre.testkit import ADMIN_TOKEN, now_utc, serve_in_thread
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
    for _ in range(DEFAULT_MAX_FAILURES + 5):
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
    record(request.node.nodeid, f"{DEFAULT_MAX_FAILURES + 5} good + {DEFAULT_MAX_FAILURES + 1} bad "
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


def test_a_signed_batch_replayed_under_another_unit_is_refused_and_nothing_stored(sqlite_centre, request):
    centre = sqlite_centre
    unit_a = centre.new_unit("counter-01")
    unit_b = centre.new_unit("counter-02")
    batch_a = unit_a.batch(unit_a.record_many(3))
    # A's batch with B's token to A's address: the token is B's → 403 forbidden.
    response = centre.upload(unit_a, batch_a, headers=unit_b.auth())
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    # A's batch as B's own upload (B's token, B's address): A's signature is checked against B's
    # key first, so it is bad_signature.
    response = centre.upload(unit_b, batch_a)
    assert response.status_code == 422 and error_of(response)["code"] == "bad_signature"
    assert centre.stored_count() == 0
    # Once A's stream is at the centre, A's next batch replayed by B is refused too.
    assert centre.upload(unit_a, batch_a).status_code == 200
    response = centre.upload(unit_b, unit_a.batch(unit_a.record_many(1)))
    assert response.status_code in (403, 422) and error_of(response)["code"] in ("forbidden", "bad_signature")
    assert centre.stored_count() == 3 and centre.stored_count(unit_b.unit_id) == 0
    record(request.node.nodeid, "unit A's signed batch posted with B's token, as B's upload, and A's "
           "next batch as B's", {"accepted": 0, "stored from the replays": 0})


def test_a_revoked_units_valid_signed_batch_stores_nothing(sqlite_centre):
    centre = sqlite_centre
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
    for admin_token in (flip_last_char(ADMIN_TOKEN), ADMIN_TOKEN.upper(), ADMIN_TOKEN[:-1] + "_"):
        response = centre.client.get("/api/v1/units", headers={"Authorization": f"Bearer {admin_token}"})
        assert response.status_code == 401, admin_token
    assert centre.client.get("/api/v1/units", headers=centre.admin()).status_code == 200
    assert centre.stored_count() == 0


def test_the_compare_is_constant_time_by_construction():
    # Behaviour is tested above; this pins the implementation the promise rests on.
    import inspect

    from centre.web import auth, tokens
    assert "hmac.compare_digest" in inspect.getsource(tokens.same_secret)
    assert "same_secret(" in inspect.getsource(auth.authenticate_unit)
    assert "same_secret(" in inspect.getsource(auth.is_admin)


def test_the_unit_api_defaults_to_loopback(tmp_path):
    from kiosk.config import ApiSettings, builtin_sim_settings, parse_listen
    assert parse_listen(ApiSettings(token="t").listen)[0] == "127.0.0.1"
    assert parse_listen(builtin_sim_settings(tmp_path).api.listen)[0] == "127.0.0.1"


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets process `pid` listens on (from /proc, IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    addresses = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                host_hex = local.split(":")[0]
                raw = bytes.fromhex(host_hex)
                # /proc prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, width // 2, 4))
                family = socket.AF_INET if table == "tcp" else socket.AF_INET6
                addresses.add(socket.inet_ntop(family, words))
    return addresses


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_no_secret_appears_in_any_log_of_a_unit_syncing_to_a_centre(tmp_path, request):
    from cryptography.hazmat.primitives import serialization

    from sync.provision import load_provisioning
    from tests.fault.harness import drain, kiosk_command, start_centre
    from tests.support.centre.process import add_unit
    from tests.support.sim_unit import SimUnit

    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    state_dir = tmp_path / "unit"
    centre = start_centre(db_url)
    unit = None
    captured: list[str] = []
    try:
        enrolment_token = add_unit(db_url, "counter-sec", role="both", counter="1")
        # Provisioning handles every secret, so it runs with debug logging (-v).
        provisioned = kiosk_command("-v", "provision", "--sim", "--state-dir", str(state_dir), "--centre",
                                    centre.url, "--unit-id", "counter-sec", f"--token={enrolment_token}")
        assert provisioned.returncode == 0, provisioned.stderr
        captured += [provisioned.stdout, provisioned.stderr]
        unit = SimUnit(state_dir).start()
        assert listening_addresses(unit.proc.pid) == {"127.0.0.1"}
        for key in (1, 2, 3):
            unit.press(key, after_s=0.3)
        drain(unit)
        # A wrong token at the unit's own API and at the centre: refusals must not echo it back.
        assert unit.get("/v1/state", headers={"Authorization": "Bearer wrong-local"}).status_code == 401
        provisioning = load_provisioning(state_dir)
        unit.stop()
        captured.append("\n".join(unit.output))
        unit = None
    finally:
        if unit is not None:
            unit.kill()
        centre.__exit__(None, None, None)
    captured.append(centre.output())
    pem = provisioning.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode()
    pem_body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    raw_key = provisioning.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                     serialization.NoEncryption())
    secrets = {"unit token": provisioning.unit_token, "enrolment token": enrolment_token,
               "private key PEM body": pem_body, "private key PEM line": pem.splitlines()[1],
               "raw private key hex": raw_key.hex()}
    everything = "\n".join(captured)
    assert "counter-sec" in everything and len(everything) > 200  # the logs were really captured
    leaked = [name for name, secret in secrets.items() if secret in everything]
    assert leaked == [], f"secrets in the logs: {leaked}"
    record(request.node.nodeid, "provision (-v) + run + 3 ratings + drain",
           {"log bytes searched": len(everything.encode()), "secrets checked": len(secrets), "found": 0})

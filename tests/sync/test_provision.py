"""`kiosk provision`: key, enrolment, files and their modes, and every way it can fail."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from kiosk.paths import EVENTS_DB_NAME, events_db
from protocol.signing import load_public_key_b64, public_key_b64, sign_head, verify_head
from sync import files, paths
from sync.provision import (Identity, ProvisionError, ProvisioningBroken, check_centre_url, load_identity,
                            load_provisioning, provision_unit)
from tests.support.sync.fake_centre import FakeCentre, make_test_ca
from tests.support.sync.helpers import UNIT_ID, run_async, store_with

pytestmark = pytest.mark.timeout(60)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_provision_writes_key_token_and_centre_record(centre: FakeCentre, state_dir: Path):
    result = provision_unit(state_dir, centre.url + "/", UNIT_ID, centre.issue_token(UNIT_ID))

    assert result.centre_url == centre.url  # trailing slash dropped
    for path in (result.key_path, result.token_path, result.centre_path):
        assert path.parent == state_dir and path.is_file()
        assert mode_of(path) == 0o600, path
    assert result.key_path.name == paths.UNIT_KEY_NAME
    assert result.token_path.read_text() == centre.units[UNIT_ID].unit_token
    record = json.loads(result.centre_path.read_text())
    assert record["centre_url"] == centre.url and record["unit_id"] == UNIT_ID
    assert record["public_key"] == centre.units[UNIT_ID].public_key == result.public_key
    # No temporary files left behind.
    assert sorted(p.name for p in state_dir.iterdir()) == sorted(
        [paths.UNIT_KEY_NAME, paths.UNIT_TOKEN_NAME, paths.CENTRE_FILE_NAME])

    loaded = load_provisioning(state_dir)
    assert loaded.centre_url == centre.url and loaded.unit_id == UNIT_ID
    assert loaded.unit_token == centre.units[UNIT_ID].unit_token
    assert loaded.ca_file is None
    # The stored private key is the one the centre knows: its signatures verify there.
    signature = sign_head(loaded.private_key, "s", 1, "h")
    assert verify_head(load_public_key_b64(centre.units[UNIT_ID].public_key), signature, "s", 1, "h")
    assert loaded.unit_token not in repr(loaded)  # secrets stay out of logs


def test_secrets_are_created_0600_from_the_start(centre: FakeCentre, state_dir: Path, monkeypatch):
    created: list[tuple[str, int, int]] = []
    real_open = os.open

    def recording_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            created.append((str(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    old_umask = os.umask(0)  # the most permissive umask: the mode must not depend on it
    try:
        provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID))
    finally:
        os.umask(old_umask)
    secrets_created = [c for c in created if c[0].endswith(".tmp")]
    assert len(secrets_created) == 3  # key, token, centre.json
    for path, flags, mode in secrets_created:
        assert mode == 0o600 and flags & os.O_EXCL, path
    for name in (paths.UNIT_KEY_NAME, paths.UNIT_TOKEN_NAME, paths.CENTRE_FILE_NAME):
        assert mode_of(state_dir / name) == 0o600


def test_reprovision_keeps_the_event_store_untouched(centre: FakeCentre, state_dir: Path):
    provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID))
    db = events_db(state_dir)

    async def record() -> None:
        store = await store_with(db, 25)
        await store.close()

    run_async(record())
    before = {p.name: digest(p) for p in state_dir.iterdir() if p.name.startswith(EVENTS_DB_NAME)}
    old = load_provisioning(state_dir)

    provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID))

    after = {p.name: digest(p) for p in state_dir.iterdir() if p.name.startswith(EVENTS_DB_NAME)}
    assert after == before and EVENTS_DB_NAME in after
    # (That `kiosk provision` says it kept the store: tests/kiosk/commands/test_provision.py.)
    new = load_provisioning(state_dir)
    assert new.unit_token != old.unit_token
    assert new.public_key != old.public_key == public_key_b64(old.private_key)
    assert centre.units[UNIT_ID].public_key == new.public_key


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_centre_is_named_and_nothing_is_written(state_dir: Path):
    with pytest.raises(ProvisionError, match="connection refused"):
        provision_unit(state_dir, f"http://127.0.0.1:{closed_port()}", UNIT_ID, "tok", timeout_s=2)
    assert not paths.centre_file(state_dir).exists() and not paths.unit_key(state_dir).exists()


def test_silent_centre_times_out(state_dir: Path):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        with pytest.raises(ProvisionError, match="did not answer within 0.5 s"):
            provision_unit(state_dir, f"http://127.0.0.1:{port}", UNIT_ID, "tok", timeout_s=0.5)


@pytest.mark.parametrize("case", ["unknown", "used", "other_unit"])
def test_refused_token_explains_401_and_keeps_old_provisioning(centre: FakeCentre, state_dir: Path, case: str):
    provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID))
    before = {p.name: digest(p) for p in state_dir.iterdir()}
    if case == "unknown":
        token = "not-a-token"
    elif case == "used":
        token = centre.issue_token(UNIT_ID)
        provision_unit(state_dir / "other", centre.url, UNIT_ID, token)
        before = {p.name: digest(p) for p in state_dir.iterdir() if p.is_file()}
    else:
        token = centre.issue_token("another-unit")
    with pytest.raises(ProvisionError) as caught:
        provision_unit(state_dir, centre.url, UNIT_ID, token)
    message = str(caught.value)
    assert "401" in message and "already used" in message and "expired" in message and UNIT_ID in message
    assert {p.name: digest(p) for p in state_dir.iterdir() if p.is_file()} == before


def test_other_http_errors_carry_the_centres_code(centre: FakeCentre, state_dir: Path, monkeypatch):
    monkeypatch.setattr(centre, "_enrol", lambda body: (503, {"error": {"code": "maintenance",
                                                                       "message": "back at 10:00"}}, {}))
    with pytest.raises(ProvisionError, match=r"HTTP 503\): maintenance: back at 10:00"):
        provision_unit(state_dir, centre.url, UNIT_ID, "tok")


def test_tls_failure_says_so_and_a_ca_file_fixes_it(tmp_path: Path, state_dir: Path):
    ca = make_test_ca()
    centre = FakeCentre(tls=ca.server_context(tmp_path))
    try:
        assert centre.url.startswith("https://127.0.0.1:")
        with pytest.raises(ProvisionError) as caught:
            provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID), timeout_s=5)
        assert "certificate verify failed" in str(caught.value) and "--ca-file" in str(caught.value)
        assert not paths.centre_file(state_dir).exists()

        ca_file = tmp_path / "centre-ca.pem"
        ca_file.write_bytes(ca.ca_pem)
        result = provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID), ca_file=ca_file)
        assert result.ca_path == paths.centre_ca(state_dir) and result.ca_path.read_bytes() == ca.ca_pem
        assert load_provisioning(state_dir).ca_file == paths.centre_ca(state_dir)
    finally:
        centre.close()


@pytest.mark.parametrize("url", ["http://192.0.2.10:8000", "ftp://centre", "centre.example", "https://"])
def test_centre_url_must_be_https_except_on_loopback(url: str):
    with pytest.raises(ProvisionError):
        check_centre_url(url)


def test_loopback_http_is_allowed():
    assert check_centre_url("http://localhost:8000/") == "http://localhost:8000"
    assert check_centre_url("https://centre.example/") == "https://centre.example"


def test_unprovisioned_state_dir_gives_none(state_dir: Path):
    assert load_provisioning(state_dir) is None


def test_mismatched_key_and_record_are_refused(centre: FakeCentre, state_dir: Path):
    provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID))
    files.write_atomic(paths.unit_token(state_dir), b"some-other-token")
    with pytest.raises(ProvisioningBroken, match="does not match"):
        load_provisioning(state_dir)


def test_the_centres_role_and_counter_are_kept_with_the_provisioning(centre: FakeCentre, state_dir: Path):
    result = provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID, "counter", "3"))
    assert result.identity == Identity(UNIT_ID, "counter", "3")
    record = json.loads(result.centre_path.read_text())
    assert (record["role"], record["counter_id"]) == ("counter", "3")
    assert load_identity(state_dir) == Identity(UNIT_ID, "counter", "3")
    loaded = load_provisioning(state_dir)
    assert (loaded.role, loaded.counter_id) == ("counter", "3")
    # The identity is read without the secrets: a user that may not read the key still learns it.
    paths.unit_key(state_dir).chmod(0)
    if os.geteuid() != 0:  # root reads a mode-0 file anyway
        assert load_identity(state_dir) == Identity(UNIT_ID, "counter", "3")
    paths.unit_key(state_dir).chmod(0o600)


def test_a_disagreeing_confirmation_enrols_nothing_and_keeps_the_token(centre: FakeCentre, state_dir: Path):
    token = centre.issue_token(UNIT_ID, "dispenser", None)
    with pytest.raises(ProvisionError) as caught:
        provision_unit(state_dir, centre.url, UNIT_ID, token, role="counter", counter_id="3")
    message = str(caught.value)
    assert "role dispenser, no counter" in message and "--role counter, --counter 3" in message
    assert "Nothing was enrolled and the token is still good" in message
    assert token in centre.enrolment_tokens and not paths.centre_file(state_dir).exists()
    assert provision_unit(state_dir, centre.url, UNIT_ID, token, role="dispenser").identity == Identity(
        UNIT_ID, "dispenser", None)


def test_a_centre_that_does_not_say_the_role_leaves_the_config_to_decide(centre: FakeCentre, state_dir: Path,
                                                                        monkeypatch):
    enrol = centre._enrol

    def older_centre(body):
        status, answer, headers = enrol({key: value for key, value in body.items()
                                         if key not in ("role", "counter_id")})
        return status, {"unit_token": answer["unit_token"]}, headers

    monkeypatch.setattr(centre, "_enrol", older_centre)
    assert provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID)).identity == Identity(UNIT_ID)
    assert load_identity(state_dir) == Identity(UNIT_ID)  # neither role nor counter: the config's stand
    given = provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID), role="counter",
                           counter_id="5")
    assert given.identity == Identity(UNIT_ID, "counter", "5")  # what the technician said, then


def test_an_older_record_without_role_still_loads(centre: FakeCentre, state_dir: Path):
    provision_unit(state_dir, centre.url, UNIT_ID, centre.issue_token(UNIT_ID))
    record = json.loads(paths.centre_file(state_dir).read_text())
    del record["role"], record["counter_id"]
    files.write_atomic(paths.centre_file(state_dir), json.dumps(record).encode(), files.SECRET_MODE)
    assert load_identity(state_dir) == Identity(UNIT_ID) and load_provisioning(state_dir).role is None

"""`centre staff set-pin`: a staff member's PIN for the units' staff console, read from standard
input or a terminal, kept only as a scrypt hash, and carried to the units in the bundle, where the
console signs them in with it."""
from __future__ import annotations

import io
import subprocess
import tomllib
from pathlib import Path

import pytest

from centre.storage.models import StaffPin
from protocol.pins import verify_pin
from sync.bundle import BundleCache
from sync.client import CentreClient
from sync.settings import SyncSettings
from tests.centre.commands.test_user import centre_process, on_a_terminal
from tests.kiosk.console.console_unit import ConsoleUnit, Page
from tests.support.centre.testkit import cli
from tests.support.sync.helpers import run_async

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[3]
SAMPLE_BUNDLE = REPO / "config" / "bundle.toml"


def set_pin(capsys, monkeypatch, db_url: str, staff_id: str, pin: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(pin + "\n"))
    return cli(capsys, "staff", "set-pin", staff_id, "--pin-stdin", "--db", db_url)


def load_sample_bundle(capsys, db_url: str) -> None:
    code, _, err = cli(capsys, "bundle", "load", str(SAMPLE_BUNDLE), "--db", db_url)
    assert code == 0, err


def test_set_pin_keeps_only_a_scrypt_hash_and_refuses_a_weak_pin(db_url, capsys, monkeypatch):
    load_sample_bundle(capsys, db_url)
    code, out, err = set_pin(capsys, monkeypatch, db_url, "1001", "135790")
    assert code == 0 and "PIN set for staff 1001" in out and "warning" not in err
    from centre.storage.db import Database

    db = Database(db_url)
    try:
        with db.transaction() as session:
            stored = session.get(StaffPin, "1001").pin_hash
        assert stored.startswith("$scrypt$") and "135790" not in stored and verify_pin("135790", stored)
        code, out, _ = set_pin(capsys, monkeypatch, db_url, "1001", "246802")
        assert code == 0 and "PIN replaced for staff 1001" in out
        with db.transaction() as session:
            assert verify_pin("246802", session.get(StaffPin, "1001").pin_hash)
    finally:
        db.dispose()
    for pin in ("123456", "000000", "12345", "abcdef", ""):
        code, _, err = set_pin(capsys, monkeypatch, db_url, "1001", pin)
        assert code == 1 and "6 to 12 digits" in err, pin
    code, _, err = set_pin(capsys, monkeypatch, db_url, "no spaces allowed", "135790")
    assert code == 1 and "staff id" in err


def test_set_pin_warns_when_the_bundle_does_not_list_the_staff_member(db_url, capsys, monkeypatch):
    code, _, err = set_pin(capsys, monkeypatch, db_url, "1001", "135790")
    assert code == 0 and "there is no bundle yet" in err
    load_sample_bundle(capsys, db_url)
    code, _, err = set_pin(capsys, monkeypatch, db_url, "4711", "135790")
    assert code == 0 and "not in the current bundle" in err


def test_set_pin_without_a_terminal_points_to_pin_stdin(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    done = centre_process(db_url, "staff", "set-pin", "1001", stdin=subprocess.DEVNULL, start_new_session=True)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "EOFError" not in done.stderr
    assert "no terminal" in done.stderr and "--pin-stdin" in done.stderr and "6 to 12 digits" in done.stderr


def test_set_pin_on_a_terminal_says_the_rule_first_and_asks_twice(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    code, shown = on_a_terminal(db_url, "staff", "set-pin", "1001", typed=["123456"])
    assert code == 1
    assert shown.index("6 to 12 digits") < shown.index("PIN:") and "again:" not in shown
    code, shown = on_a_terminal(db_url, "staff", "set-pin", "1001", typed=["135790", "135791"])
    assert code == 1 and "the PINs differ" in shown
    code, shown = on_a_terminal(db_url, "staff", "set-pin", "1001", typed=["135790", "135790"])
    assert code == 0 and "PIN set for staff 1001" in shown, shown


def test_the_pin_reaches_the_unit_in_the_bundle_and_signs_in_on_its_console(centre, capsys, monkeypatch,
                                                                           tmp_path):
    db_url = centre.db.engine.url.render_as_string(hide_password=False)
    bundle = tomllib.loads(SAMPLE_BUNDLE.read_text(encoding="utf-8"))
    assert centre.client.put("/api/v1/bundle", json=bundle, headers=centre.admin()).status_code == 200
    unit = centre.new_unit("counter-01", counter="1")
    path = f"/api/v1/units/{unit.unit_id}/bundle"
    before = centre.client.get(path, headers=unit.auth())
    assert all("pin_hash" not in member for member in before.json()["staff"])

    assert set_pin(capsys, monkeypatch, db_url, "1001", "135790")[0] == 0
    after = centre.client.get(path, headers={**unit.auth(), "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    first = after.json()["staff"][0]
    assert first["staff_id"] == "1001" and verify_pin("135790", first["pin_hash"])
    # A bundle file loaded again (or put back as fetched, hashes and all) keeps the PIN, and
    # cannot set one: only set-pin does.
    fetched = centre.client.get("/api/v1/bundle", headers=centre.admin()).json()
    fetched["staff"][1]["pin_hash"] = first["pin_hash"]
    assert centre.client.put("/api/v1/bundle", json=fetched, headers=centre.admin()).status_code == 200
    again = centre.client.get(path, headers=unit.auth()).json()["staff"]
    assert again[0]["pin_hash"] == first["pin_hash"] and "pin_hash" not in again[1]

    # The unit downloads it (as its sync link does), and its console signs 1001 in with it.
    state_dir = tmp_path / "unit"
    client = CentreClient(centre.base_url, unit_id=unit.unit_id, unit_token=unit.token, timeout_s=5)
    cache = BundleCache(state_dir, None, SyncSettings(timeout_s=5), client=client)
    try:
        assert run_async(cache.refresh()) is True
    finally:
        cache.close()
    console_unit = ConsoleUnit(state_dir).start()
    try:
        page = Page(console_unit)
        assert page.sign_in("1001", "123456").json()["error"]["code"] == "wrong_pin"   # the sim config's
        signed = page.sign_in("1001", "135790")
        assert signed.status_code == 200 and signed.json()["events"] == ["staff.signed_in"]
        assert Page(console_unit).sign_in("1002", "135790").json()["error"]["code"] == "no_pin"
    finally:
        console_unit.stop()

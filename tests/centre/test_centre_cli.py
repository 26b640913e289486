"""The `centre` command (run in-process; test_centre_serve.py runs it as a real process)."""
from __future__ import annotations

import gc
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from centre.cli import main
from centre.db import Database, resolve_db_url
from centre.migrate import head_revision
from centre.models import BundleVersion, EnrolmentToken, Unit
from centre.tokens import token_digest

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]


def centre(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_unit_add_prints_a_one_time_token_valid_24_hours(db_url, capsys):
    code, out, _ = centre(capsys, "unit", "add", "counter-03", "--role", "counter", "--counter", "3",
                          "--db", db_url)
    assert code == 0
    token = re.search(r"^token: (\S+)$", out, re.MULTILINE).group(1)
    expires = datetime.fromisoformat(re.search(r"^expires: (\S+)$", out, re.MULTILINE).group(1))
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(timezone.utc) <= timedelta(hours=24)
    db = Database(db_url)
    try:
        with db.transaction() as session:
            unit = session.get(Unit, "counter-03")
            assert (unit.role, unit.counter_id, unit.enrolled_at) == ("counter", "3", None)
            stored = session.scalars(select(EnrolmentToken.token_hash)).one()
            assert stored == token_digest(token) and token not in stored
    finally:
        db.dispose()


def test_unit_list_and_revoke(db_url, capsys):
    assert centre(capsys, "unit", "add", "hall-1", "--role", "both", "--counter", "1", "--db", db_url)[0] == 0
    assert centre(capsys, "unit", "add", "dispenser-1", "--role", "dispenser", "--db", db_url)[0] == 0
    code, out, _ = centre(capsys, "unit", "list", "--db", db_url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["unit_id", "role", "counter_id"]
    assert [line.split()[0] for line in lines[1:]] == ["dispenser-1", "hall-1"]
    assert "awaiting-enrolment" in lines[1]
    assert centre(capsys, "unit", "revoke", "hall-1", "--db", db_url)[:2] == (0, "revoked hall-1\n")
    assert centre(capsys, "unit", "revoke", "hall-1", "--db", db_url)[:2] == (0, "hall-1 was already revoked\n")
    assert "revoked" in centre(capsys, "unit", "list", "--db", db_url)[1].splitlines()[2]


@pytest.mark.parametrize("args, message", [
    (["unit", "revoke", "nobody"], "no unit nobody"),
    (["unit", "add", "counter-9", "--role", "counter"], "needs its counter"),
    (["unit", "add", "no spaces", "--role", "dispenser"], "a unit id is"),
    (["bundle", "load", "missing.toml"], "cannot read"),
])
def test_unit_and_bundle_errors_exit_non_zero_with_a_clear_message(db_url, capsys, args, message):
    code, _, err = centre(capsys, *args, "--db", db_url)
    assert code == 1
    assert err.startswith("centre: error: ") and message in err


def test_a_unit_cannot_be_added_twice_once_enrolled(db_url, capsys):
    assert centre(capsys, "unit", "add", "c1", "--role", "counter", "--counter", "1", "--db", db_url)[0] == 0
    db = Database(db_url)
    try:
        with db.transaction() as session:
            session.get(Unit, "c1").enrolled_at = datetime.now(timezone.utc)
    finally:
        db.dispose()
    code, _, err = centre(capsys, "unit", "add", "c1", "--role", "counter", "--counter", "1", "--db", db_url)
    assert code == 1 and "already enrolled" in err


def test_bundle_load_stores_the_sample_once(db_url, capsys):
    sample = str(REPO / "config" / "bundle.toml")
    code, out, _ = centre(capsys, "bundle", "load", sample, "--db", db_url)
    assert code == 0 and "loaded (6 reasons, 6 staff, 19 service items)" in out
    code, out, _ = centre(capsys, "bundle", "load", sample, "--db", db_url)
    assert code == 0 and "unchanged" in out
    db = Database(db_url)
    try:
        with db.transaction() as session:
            assert len(session.scalars(select(BundleVersion)).all()) == 1
    finally:
        db.dispose()


def test_bundle_load_reports_every_problem_of_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "bundle.json"
    bad.write_text('{"reasons": [], "staff": [{"staff_id": 1001, "nam": "王"}], '
                   '"complaint_phone": "12329"}', encoding="utf-8")
    code, _, err = centre(capsys, "bundle", "load", str(bad), "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert code == 1
    for problem in ("reasons:", "staff[0].name:", "staff[0].nam:", "service_items:"):
        assert problem in err
    wrong_kind = tmp_path / "bundle.yaml"
    wrong_kind.write_text("reasons: []", encoding="utf-8")
    assert "ends in .toml or .json" in centre(capsys, "bundle", "load", str(wrong_kind))[2]


def test_migrate_is_idempotent(db_url, capsys):
    first = centre(capsys, "migrate", "--db", db_url)
    second = centre(capsys, "migrate", "--db", db_url)
    assert first[0] == second[0] == 0
    assert f"schema at revision {head_revision()}" in second[1]


def test_the_database_comes_from_db_then_centre_db_then_the_current_folder(monkeypatch):
    monkeypatch.delenv("CENTRE_DB", raising=False)
    assert resolve_db_url(None) == "sqlite:///centre.db"
    monkeypatch.setenv("CENTRE_DB", "sqlite:///from-env.db")
    assert resolve_db_url(None) == "sqlite:///from-env.db"
    assert resolve_db_url("sqlite:///given.db") == "sqlite:///given.db"


def test_bad_database_urls_and_listen_addresses_are_clear_errors(capsys, tmp_path):
    assert "unsupported database" in centre(capsys, "migrate", "--db", "mysql://h/db")[2]
    assert "must be a file" in centre(capsys, "migrate", "--db", "sqlite://")[2]
    code, _, err = centre(capsys, "serve", "--listen", "8800", "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert code == 1 and "HOST:PORT" in err
    code, _, err = centre(capsys, "serve", "--tls-cert", "x.pem", "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert code == 1 and "go together" in err


def test_serve_runs_uvicorn_on_its_c_parser_and_loop_with_start_up_frozen(monkeypatch, tmp_path):
    import uvicorn
    served: dict = {}

    def run(app, **options) -> None:
        served.update(options, app=app, frozen=gc.get_freeze_count())

    monkeypatch.setattr(uvicorn, "run", run)
    try:
        assert main(["serve", "--db", f"sqlite:///{tmp_path / 'c.db'}"]) == 0
    finally:
        gc.unfreeze()
        if "app" in served:
            served["app"].state.db.dispose()
    assert (served["http"], served["loop"]) == ("httptools", "uvloop")
    assert served["frozen"] > 10_000  # the garbage collector's full passes leave start-up's objects alone

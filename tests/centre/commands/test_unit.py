"""`centre unit add | list | revoke` (run in-process; test_serve.py runs the command as a process)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from centre.storage.db import Database
from centre.storage.models import EnrolmentToken, Unit
from centre.web.tokens import token_digest
from tests.support.centre.testkit import cli

pytestmark = pytest.mark.timeout(60)


def test_unit_add_prints_a_one_time_token_valid_24_hours(db_url, capsys):
    code, out, _ = cli(capsys, "unit", "add", "counter-03", "--role", "counter", "--counter", "3",
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
    assert cli(capsys, "unit", "add", "hall-1", "--role", "both", "--counter", "1", "--db", db_url)[0] == 0
    assert cli(capsys, "unit", "add", "dispenser-1", "--role", "dispenser", "--db", db_url)[0] == 0
    code, out, _ = cli(capsys, "unit", "list", "--db", db_url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["unit_id", "role", "counter_id"]
    assert [line.split()[0] for line in lines[1:]] == ["dispenser-1", "hall-1"]
    assert "awaiting-enrolment" in lines[1]
    assert cli(capsys, "unit", "revoke", "hall-1", "--db", db_url)[:2] == (0, "revoked hall-1\n")
    assert cli(capsys, "unit", "revoke", "hall-1", "--db", db_url)[:2] == (0, "hall-1 was already revoked\n")
    assert "revoked" in cli(capsys, "unit", "list", "--db", db_url)[1].splitlines()[2]


def test_a_unit_cannot_be_added_twice_once_enrolled(db_url, capsys):
    assert cli(capsys, "unit", "add", "c1", "--role", "counter", "--counter", "1", "--db", db_url)[0] == 0
    db = Database(db_url)
    try:
        with db.transaction() as session:
            session.get(Unit, "c1").enrolled_at = datetime.now(timezone.utc)
    finally:
        db.dispose()
    code, _, err = cli(capsys, "unit", "add", "c1", "--role", "counter", "--counter", "1", "--db", db_url)
    assert code == 1 and "already enrolled" in err


def test_unit_add_says_where_its_database_is_and_the_whole_command_for_the_unit(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CENTRE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "unit", "add", "hall1-c3", "--role", "counter", "--counter", "3")
    assert code == 0
    token = re.search(r"^token: (\S+)$", out, re.MULTILINE).group(1)
    assert f"database: {tmp_path / 'centre.db'} (SQLite)" in out and (tmp_path / "centre.db").is_file()
    assert f"kiosk provision --centre URL --unit-id hall1-c3 --token={token}" in out
    assert "role counter, counter 3" in out

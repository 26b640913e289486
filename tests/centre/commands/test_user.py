"""`centre user add`: a dashboard account from the command line, its password read from standard
input and stored only as an argon2id hash."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from centre.storage.db import Database
from centre.storage.models import DashboardUser
from tests.support.centre.testkit import cli

pytestmark = pytest.mark.timeout(120)


def test_user_add_reads_the_password_from_stdin_and_stores_only_a_hash(db_url, capsys, monkeypatch):
    monkeypatch.setenv("CENTRE_DB", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-enough\n"))
    code, out, _ = cli(capsys, "user", "add", "新主管", "--role", "manager", "--password-stdin")
    assert code == 0 and "新主管" in out
    db = Database(db_url)
    try:
        with db.transaction() as session:
            stored = session.scalars(select(DashboardUser).where(DashboardUser.name == "新主管")).one()
            assert stored.role == "manager" and stored.password_hash.startswith("$argon2id$")
            assert "s3cret-enough" not in stored.password_hash
    finally:
        db.dispose()
    for args, stdin, message in ((["新主管", "--role", "viewer"], "another-pass\n", "exists already"),
                                 (["短", "--role", "viewer"], "short\n", "at least 8")):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code, _, err = cli(capsys, "user", "add", *args, "--password-stdin")
        assert code == 1 and message in err

"""The `centre` command's errors: a clear `centre: error: …` line and exit status 1."""
from __future__ import annotations

import pytest

from tests.support.centre.testkit import cli

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("args, message", [
    (["unit", "revoke", "nobody"], "no unit nobody"),
    (["unit", "add", "counter-9", "--role", "counter"], "needs its counter"),
    (["unit", "add", "no spaces", "--role", "dispenser"], "a unit id is"),
    (["bundle", "load", "missing.toml"], "cannot read"),
])
def test_unit_and_bundle_errors_exit_non_zero_with_a_clear_message(db_url, capsys, args, message):
    code, _, err = cli(capsys, *args, "--db", db_url)
    assert code == 1
    assert err.startswith("centre: error: ") and message in err


def test_bad_database_urls_and_listen_addresses_are_clear_errors(capsys, tmp_path):
    assert "unsupported database" in cli(capsys, "migrate", "--db", "mysql://h/db")[2]
    assert "must be a file" in cli(capsys, "migrate", "--db", "sqlite://")[2]
    code, _, err = cli(capsys, "serve", "--listen", "8800", "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert code == 1 and "HOST:PORT" in err
    code, _, err = cli(capsys, "serve", "--tls-cert", "x.pem", "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert code == 1 and "go together" in err

"""`centre migrate`."""
from __future__ import annotations

import pytest

from centre.storage.migrate import head_revision
from tests.support.centre.testkit import cli

pytestmark = pytest.mark.timeout(60)


def test_migrate_is_idempotent(db_url, capsys):
    first = cli(capsys, "migrate", "--db", db_url)
    second = cli(capsys, "migrate", "--db", db_url)
    assert first[0] == second[0] == 0
    assert f"schema at revision {head_revision()}" in second[1]

"""`centre bundle load FILE`."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from centre.storage.db import Database
from centre.storage.models import BundleVersion
from tests.support.centre.testkit import cli

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[3]


def test_bundle_load_stores_the_sample_once(db_url, capsys):
    sample = str(REPO / "config" / "bundle.toml")
    code, out, _ = cli(capsys, "bundle", "load", sample, "--db", db_url)
    assert code == 0 and "loaded (6 reasons, 6 staff, 19 service items)" in out
    code, out, _ = cli(capsys, "bundle", "load", sample, "--db", db_url)
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
    code, _, err = cli(capsys, "bundle", "load", str(bad), "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert code == 1
    for problem in ("reasons:", "staff[0].name:", "staff[0].nam:", "service_items:"):
        assert problem in err
    wrong_kind = tmp_path / "bundle.yaml"
    wrong_kind.write_text("reasons: []", encoding="utf-8")
    assert "ends in .toml or .json" in cli(capsys, "bundle", "load", str(wrong_kind))[2]

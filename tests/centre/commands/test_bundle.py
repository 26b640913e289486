"""`centre bundle load FILE`: stored once, every problem of a bad file, and a warning when units
cannot offer all its 差评 reasons."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from centre.storage.db import Database
from centre.storage.models import BundleVersion
from centre.units.bundle import read_bundle_file
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


def bundle_with_reasons(tmp_path, count: int, other: bool = True) -> Path:
    """The sample bundle as JSON with `count` 差评 reasons (and 其他 last, if `other`)."""
    bundle = read_bundle_file(REPO / "config" / "bundle.toml")
    bundle["reasons"] = [{"code": str(600 + n), "label": f"原因{n}"} for n in range(1, count + 1)]
    if other:
        bundle["reasons"].append({"code": "599", "label": "其他"})
    path = tmp_path / f"bundle-{count}.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    return path


def test_bundle_load_warns_of_reasons_no_unit_offers_and_keeps_them(tmp_path, capsys):
    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    code, out, err = cli(capsys, "bundle", "load", str(bundle_with_reasons(tmp_path, 10)), "--db", db_url)
    assert code == 0 and "loaded (11 reasons" in out
    assert err.startswith("centre: warning: ") and "10 差评 reasons besides 其他" in err
    assert "the other 2 are kept in the bundle but no citizen can choose them (609 原因9、610 原因10)" in err
    assert "chooses 其他" in err
    db = Database(db_url)
    try:
        with db.transaction() as session:
            stored = json.loads(session.scalars(select(BundleVersion.body_json)).one())
        assert len(stored["reasons"]) == 11  # kept as given: units take the first eight
    finally:
        db.dispose()
    for fits in (bundle_with_reasons(tmp_path, 8), bundle_with_reasons(tmp_path, 8, other=False)):
        code, _, err = cli(capsys, "bundle", "load", str(fits), "--db", db_url)
        assert code == 0 and "warning" not in err

"""`centre holidays load | list` (the ledger's commands run through the report test's CLI story in
tests/centre/reports/test_scoring.py)."""
from __future__ import annotations

import pytest

from centre.cli import main

pytestmark = pytest.mark.timeout(60)


def test_holiday_calendar_loads_from_a_file_through_the_cli(db_url, tmp_path, capsys):
    calendar = tmp_path / "holidays-2026.toml"
    calendar.write_text('[[day]]\ndate = "2026-10-01"\nkind = "off"\nname = "国庆节"\n'
                        '[[day]]\ndate = "2026-10-10"\nkind = "work"\nname = "国庆调休"\n', encoding="utf-8")
    assert main(["holidays", "load", "--db", db_url, str(calendar)]) == 0
    assert "2 days loaded" in capsys.readouterr().out
    assert main(["holidays", "list", "--db", db_url]) == 0
    assert '"kind": "work"' in capsys.readouterr().out
    calendar.write_text('[[day]]\ndate = "2026-10-01"\nkind = "holiday"\n', encoding="utf-8")
    assert main(["holidays", "load", "--db", db_url, str(calendar)]) == 1
    assert "day[0].kind" in capsys.readouterr().err

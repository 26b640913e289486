"""The monthly report on three windows whose scores are worked out by hand below, through the
CLI, on SQLite and PostgreSQL. The scoring rules are in centre/REPORTS.md."""
from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from centre.cli import main
from centre.reports.scoring import COUNTER_COLUMNS
from centre.storage.db import Database
from centre.storage.migrate import upgrade_to_head
from tests.support.centre.event_writer import EventWriter

pytestmark = pytest.mark.timeout(120)


def _transaction(writer: EventWriter, unit: str, counter: str, staff: str, number: int, day: int,
                 level: int | None) -> str:
    tx = f"{unit}-tx{number}"
    at = f"2026-11-{day:02d}T10:{number:02d}:00+08:00"
    writer.add(unit, "transaction.completed", at, {"transaction_id": tx, "staff_id": staff, "counter_id": counter})
    later = f"2026-11-{day:02d}T10:{number:02d}:10+08:00"
    if level is None:
        writer.add(unit, "rating.missed", later, {"transaction_id": tx, "staff_id": staff, "counter_id": counter})
    else:
        writer.add(unit, "rating.submitted", later,
                   {"transaction_id": tx, "level": level, "staff_id": staff, "counter_id": counter})
    return tx


@pytest.fixture
def three_windows(db_url):
    """Window 1: 10 done, 6×非常满意 2×满意 1×不满意 1 missed.  Window 2: 5 done, 5×非常满意.
    Window 3: 4 done, 2×非常满意 1×基本满意 1×非常不满意 (appealed, upheld), 2 misuse presses."""
    writer = EventWriter()
    for number, level in enumerate([5] * 6 + [4, 4, 2, None], start=1):
        _transaction(writer, "u1", "1", "1001", number, 3, level)
    for number in range(1, 6):
        _transaction(writer, "u2", "2", "1002", number, 4, 5)
    for number, level in enumerate([5, 5, 3], start=1):
        _transaction(writer, "u3", "3", "1003", number, 5, level)
    appealed = _transaction(writer, "u3", "3", "1003", 4, 5, 1)
    for second in ("01", "02"):
        writer.add("u3", "rating.misuse", f"2026-11-05T11:00:{second}+08:00",
                   {"key": 1, "why": "no_window", "counter_id": "3"})
    db = Database(db_url)
    upgrade_to_head(db.engine)
    writer.store(db)
    db.dispose()
    return db_url, appealed


def _cli(capsys, *args: str) -> str:
    assert main(list(args)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_three_windows_scored_by_hand(three_windows, capsys, tmp_path):
    db_url, appealed = three_windows
    for counter, score in (("1", "17"), ("1", "18"), ("2", "15"), ("3", "20")):  # window 1 corrected
        _cli(capsys, "supervision", "set", "--db", db_url, "--month", "2026-11", "--counter", counter,
             "--score", score, "--by", "王科长")
    listing = json.loads(_cli(capsys, "ledger", "list", "--db", db_url))["entries"]
    assert sorted((e["counter_id"], e["level"]) for e in listing) == [("1", 2), ("3", 1)]
    entry = next(e for e in listing if e["transaction_id"] == appealed)
    _cli(capsys, "ledger", "appeal", "--db", db_url, str(entry["id"]), "--evidence", "监控录像：儿童连按", "--by", "张三")
    shown = json.loads(_cli(capsys, "ledger", "show", "--db", db_url, str(entry["id"])))
    _cli(capsys, "ledger", "review", "--db", db_url, str(shown["appeals"][0]["id"]), "--decision", "upheld",
         "--by", "王科长")

    rows = list(csv.DictReader(io.StringIO(_cli(capsys, "report", "--db", db_url, "--month", "2026-11"))))
    assert list(rows[0])[:len(COUNTER_COLUMNS)] == list(COUNTER_COLUMNS)  # the pinned ones first (then indicators)
    by_window = {row["counter_id"]: row for row in rows}
    # Window 1: points 6 − 2 = 4 over 9 counted; quality (4/9 + 4)/5 = 8/9; busiest, so ×1.
    # rating 80 × 8/9 = 71.11; total 71.11 + 18 (the newer entry) = 89.11.
    # Window 2: quality 1; workload 5/10 → ×0.9; rating 72.00; total 87.00.
    # Window 3: the upheld 非常不满意 leaves levels and points: 2×(+1) over 3; quality (2/3+4)/5
    # = 14/15; workload 4/10 → ×0.88; rating 80 × 14/15 × 0.88 = 65.7066… → 65.71; total 85.71.
    expected = {
        "1": dict(staff_ids="1001", completed="10", rated="9", missed="1", misuse="0", appeals_upheld="0",
                  level_5="6", level_4="2", level_3="0", level_2="1", level_1="0", points="4",
                  rating_score="71.11", supervision_score="18.00", total="89.11", rank="1",
                  star="服务明星", interview=""),
        "2": dict(staff_ids="1002", completed="5", rated="5", missed="0", misuse="0", appeals_upheld="0",
                  level_5="5", level_4="0", level_3="0", level_2="0", level_1="0", points="5",
                  rating_score="72.00", supervision_score="15.00", total="87.00", rank="2", star="",
                  interview=""),
        "3": dict(staff_ids="1003", completed="4", rated="4", missed="0", misuse="2", appeals_upheld="1",
                  level_5="2", level_4="0", level_3="1", level_2="0", level_1="0", points="2",
                  rating_score="65.71", supervision_score="20.00", total="85.71", rank="3", star="",
                  interview=""),
    }
    for counter, values in expected.items():
        assert {k: by_window[counter][k] for k in values} == values, counter
    assert [row["counter_id"] for row in rows] == ["1", "2", "3"]

    document = json.loads(_cli(capsys, "report", "--db", db_url, "--month", "2026-11", "--format", "json",
                               "--by", "staff"))
    assert document["columns"][:2] == ["staff_id", "counter_ids"]
    assert {row["staff_id"]: row["total"] for row in document["rows"]} == {"1001": 89.11, "1002": 87.0, "1003": 85.71}
    assert "rating_score = 80 × quality × (0.8 + 0.2 × workload)" in document["scoring"]

    out = tmp_path / "report.xlsx"
    _cli(capsys, "report", "--db", db_url, "--month", "2026-11", "--format", "xlsx", "--out", str(out))
    sheet = load_workbook(out).worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:4] == ["窗口", "工作人员", "办结笔数", "评价笔数"] and "服务明星" in headers
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 6 and sheet.column_dimensions["B"].width >= 10
    assert [sheet.cell(row=r, column=headers.index("总分") + 1).value for r in (2, 3, 4)] == [89.11, 87.0, 85.71]
    assert "80 × quality" in " ".join(str(c.value) for c in load_workbook(out)["评分说明"]["B"])

    assert main(["report", "--db", db_url, "--month", "2026-13"]) == 1
    assert "YYYY-MM" in capsys.readouterr().err

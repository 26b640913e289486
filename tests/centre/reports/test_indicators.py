"""The indicators beside the monthly report (issue 19, item 2), through the real path: a unit's
events uploaded over HTTP, the ledger worked, `centre report` in CSV, JSON and XLSX."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from centre.ledger.entries import record_callback, rectify, sync_ledger
from centre.reports.indicators import INDICATOR_COLUMNS
from centre.reports.scoring import CHANNEL_COLUMNS, COUNTER_COLUMNS
from centre.storage.models import LedgerEntry
from protocol.events import EventType
from tests.support.centre.fixtures import centre, served_centre  # noqa: F401 (fixtures)
from tests.support.centre.testkit import CHINA, cli, now_utc

pytestmark = pytest.mark.timeout(120)
# A working morning of this month, whatever day the test runs (the report's month is the event's).
START = datetime.now(CHINA).replace(day=1, hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)


def serve(unit, ticket: str, at: datetime, *, wait_s: int, handle_s: int, level: int | None, counter: str = "3",
          staff: str = "1001") -> list[dict]:
    """One citizen: the ticket issued, called after wait_s, the transaction completed handle_s later,
    then rated `level` (None: not rated)."""
    tx = f"tx-{ticket}"
    called = at + timedelta(seconds=wait_s)
    done = called + timedelta(seconds=handle_s)
    events = [
        unit.record(EventType.TICKET_ISSUED, {"ticket": ticket, "category": "A", "priority": False,
                                              "waiting_ahead": 0}, wall_time=at),
        unit.record(EventType.TICKET_CALLED, {"ticket": ticket, "counter_id": counter, "staff_id": staff},
                    wall_time=called),
        unit.record(EventType.TRANSACTION_COMPLETED, {"transaction_id": tx, "staff_id": staff, "counter_id": counter,
                                                      "ticket": ticket}, wall_time=done),
    ]
    after = done + timedelta(seconds=5)
    if level is None:
        events.append(unit.record(EventType.RATING_MISSED, {"transaction_id": tx, "staff_id": staff,
                                                            "counter_id": counter}, wall_time=after))
    else:
        events.append(unit.record(EventType.RATING_SUBMITTED, {"transaction_id": tx, "level": level, "staff_id": staff,
                                                               "counter_id": counter}, wall_time=after))
    return events


def test_the_report_carries_the_indicators_after_the_pinned_columns(centre, capsys, tmp_path):
    unit = centre.new_unit("hall-both", role="both", counter="3")
    events = []
    plan = [(20, 300, 5), (25, 500, 4), (40, 700, 1), (90, 200, 2), (10, 100, None)]  # wait, handle, level
    for number, (wait_s, handle_s, level) in enumerate(plan):
        events += serve(unit, f"A{number:03d}", START + timedelta(minutes=20 * number), wait_s=wait_s,
                        handle_s=handle_s, level=level)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    with centre.db.transaction() as session:
        sync_ledger(session, now_utc())
        first, second = session.query(LedgerEntry.id).order_by(LedgerEntry.id).all()
        rectify(session, first.id, "已整改", "主管", now_utc())
        record_callback(session, first.id, "已回访", "主管", now_utc())
        record_callback(session, second.id, "已回访", "主管", now_utc())

    month = START.strftime("%Y-%m")
    report = centre.report(capsys, month)
    assert report["columns"] == list(COUNTER_COLUMNS) + list(INDICATOR_COLUMNS) + list(CHANNEL_COLUMNS)
    row = report["rows"][0]
    assert list(row)[:len(COUNTER_COLUMNS)] == list(COUNTER_COLUMNS)
    assert {name: row[name] for name in INDICATOR_COLUMNS} == {
        "good_rate": 0.5,                   # 5 and 4 of four ratings
        "unrated_rate": 0.2,                # one missed of five completed
        "rectification_rate": 0.5,          # one of the two 差评 rectified
        "callback_rate": 1.0,
        "callback_satisfaction_rate": None,  # the ledger's callback records no satisfaction yet
        "wait_avg_s": 37.0, "wait_within_target": 0.6,          # 20, 25, 10 within 30 s
        "handling_avg_s": 360.0, "handling_within_target": 0.8,  # all but 700 s within 600 s
    }
    assert report["hall"]["good_rate"] == 0.5 and report["hall"]["wait_target_s"] == 30.0

    code, out, err = cli(capsys, "report", "--month", month, "--db", centre.db.url)
    header, line = list(csv.reader(io.StringIO(out)))[:2]
    assert code == 0 and header == list(COUNTER_COLUMNS) + list(INDICATOR_COLUMNS) + list(CHANNEL_COLUMNS)
    assert line[len(COUNTER_COLUMNS):-len(CHANNEL_COLUMNS)] == ["0.50", "0.20", "0.50", "1.00", "", "37.00", "0.60", "360.00", "0.80"]

    by_staff = centre.report(capsys, month, "--by", "staff")
    assert by_staff["rows"][0]["staff_id"] == "1001" and by_staff["rows"][0]["wait_avg_s"] == 37.0

    path = tmp_path / "report.xlsx"
    assert cli(capsys, "report", "--month", month, "--format", "xlsx", "--out", str(path), "--db", centre.db.url)[0] == 0
    book = load_workbook(path)
    headers = [cell.value for cell in next(book.worksheets[0].iter_rows(max_row=1))]
    assert headers[len(COUNTER_COLUMNS):len(COUNTER_COLUMNS) + 9] == [
        "好评率", "未评率", "差评整改率", "回访率", "回访满意率", "平均等候（秒）", "等候达标率", "平均办理（秒）", "办理达标率"]
    hall = {row[0].value: row[1].value for row in book["全厅指标"].iter_rows(min_row=2)}
    assert hall["好评率"] == 0.5 and hall["等候目标（秒）"] == 30


def test_the_targets_come_from_the_environment(centre, capsys, monkeypatch):
    unit = centre.new_unit("hall-both", role="both", counter="3")
    assert centre.upload(unit, unit.batch(serve(unit, "B001", START, wait_s=50, handle_s=100, level=5))).status_code == 200
    monkeypatch.setenv("CENTRE_WAIT_TARGET_S", "60")
    row = centre.report(capsys, START.strftime("%Y-%m"))["rows"][0]
    assert row["wait_within_target"] == 1.0 and row["rectification_rate"] is None


def test_the_dashboards_report_page_shows_the_indicators(centre):
    unit = centre.new_unit("hall-both", role="both", counter="3")
    events = serve(unit, "C001", START, wait_s=20, handle_s=100, level=5) + \
        serve(unit, "C002", START + timedelta(minutes=5), wait_s=60, handle_s=100, level=None)
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    page = centre.dashboard_page(f"/dashboard/report?month={START.strftime('%Y-%m')}")
    section = page.split('aria-label="服务指标"')[1].split("</section>")[0]
    assert "全厅：好评率 100.0%，未评率 50.0%" in section
    assert "平均等候 40.0 秒（30 秒内 50.0%）" in section

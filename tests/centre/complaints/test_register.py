"""The complaints register through `centre complaint …` on each backend: classes and their
deadlines in working days (holidays counted), overdue, reply → callback → close, the trail with
who and when, 无效 kept but not held against staff, and the yearly summary."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.support.centre.fixtures import db_url  # noqa: F401 (fixture)
from tests.support.centre.testkit import CHINA, cli

pytestmark = pytest.mark.timeout(60)


def run(capsys, db_url, *args: str) -> dict:
    code, out, err = cli(capsys, "complaint", *args, "--db", db_url)
    assert code == 0, err
    return json.loads(out)


def test_a_complaint_goes_from_received_to_closed_with_its_trail(db_url, capsys):
    added = run(capsys, db_url, "add", "--channel", "12329", "--class", "major", "--summary", "窗口推诿",
                "--department", "归集科", "--cause", "服务态度", "--handler", "李主任", "--counter", "3",
                "--staff", "1001", "--received", "2026-12-01T09:00+08:00", "--by", "王科长")
    assert added["status"] in ("open", "overdue") and added["class"] == "major"
    assert added["deadline"] == "2026-12-15"  # 10 working days after Tuesday 1 December
    assert (added["first_handler"], added["counter_id"], added["staff_id"]) == ("李主任", "3", "1001")
    number = str(added["id"])
    code, _, err = cli(capsys, "complaint", "close", number, "--by", "王科长", "--db", db_url)
    assert code == 1 and "reply first" in err
    run(capsys, db_url, "reply", number, "--text", "已核实并答复", "--by", "李主任")
    shown = run(capsys, db_url, "callback", number, "--note", "电话回访", "--satisfaction", "satisfied", "--by", "张三")
    assert shown["status"] == "replied" and shown["satisfaction"] == "satisfied"
    closed = run(capsys, db_url, "close", number, "--by", "王科长")
    assert closed["status"] == "closed"
    assert [(step["action"], step["actor"]) for step in closed["trail"]] == [
        ("received", "王科长"), ("replied", "李主任"), ("callback", "张三"), ("closed", "王科长")]
    assert all(step["at"] for step in closed["trail"])


def test_overdue_is_flagged_and_working_days_follow_the_holiday_calendar(db_url, capsys, tmp_path, monkeypatch):
    calendar = tmp_path / "holidays.toml"
    calendar.write_text('[[day]]\ndate = "2026-10-01"\nkind = "off"\nname = "国庆"\n', encoding="utf-8")
    assert cli(capsys, "holidays", "load", str(calendar), "--db", db_url)[0] == 0
    monkeypatch.setenv("CENTRE_COMPLAINT_GENERAL_DAYS", "3")
    late = run(capsys, db_url, "add", "--channel", "letter", "--class", "general", "--summary", "材料丢失",
               "--received", "2026-09-29T10:00+08:00", "--by", "王科长")
    assert late["deadline"] == "2026-10-05"  # 30 Sep, (1 Oct off), 2 Oct, 5 Oct
    fresh = run(capsys, db_url, "add", "--channel", "web", "--class", "general", "--summary", "网上咨询无人回复",
                "--received", (datetime.now(CHINA) - timedelta(hours=1)).isoformat(), "--by", "王科长")
    overdue = run(capsys, db_url, "list", "--overdue")["complaints"]
    assert [c["id"] for c in overdue] == [late["id"]] and overdue[0]["status"] == "overdue"
    assert fresh["status"] == "open"
    monkeypatch.setenv("CENTRE_COMPLAINT_GENERAL_DAYS", "9")
    code, _, err = cli(capsys, "complaint", "add", "--channel", "web", "--class", "general", "--summary", "x",
                       "--by", "王科长", "--db", db_url)
    assert code == 1 and "from 3 to 5" in err


def test_an_invalid_complaint_is_kept_never_overdue_and_not_held_against_staff(db_url, capsys):
    code, _, err = cli(capsys, "complaint", "add", "--channel", "visit", "--class", "invalid", "--summary", "x",
                       "--by", "王科长", "--db", db_url)
    assert code == 1 and "an invalid complaint's reason is one of malicious, untrue, unfounded" in err
    invalid = run(capsys, db_url, "add", "--channel", "visit", "--class", "invalid", "--invalid-reason", "malicious",
                  "--summary", "恶意投诉", "--staff", "1001", "--received", "2026-01-05T09:00+08:00", "--by", "王科长")
    assert invalid["deadline"] is None and invalid["counts_against_staff"] is False and not invalid["overdue"]
    assert run(capsys, db_url, "close", str(invalid["id"]), "--by", "王科长")["status"] == "closed"


def test_the_yearly_summary_counts_by_department_and_cause(db_url, capsys):
    for department, cause, kind in (("归集科", "服务态度", "major"), ("归集科", "办事效率", "general"),
                                    ("贷款科", "服务态度", "general")):
        run(capsys, db_url, "add", "--channel", "12329", "--class", kind, "--summary", "投诉", "--department", department,
            "--cause", cause, "--received", "2025-03-03T09:00+08:00", "--by", "王科长")
    run(capsys, db_url, "add", "--channel", "12329", "--class", "general", "--summary", "明年的", "--department", "归集科",
        "--received", "2026-03-03T09:00+08:00", "--by", "王科长")
    summary = run(capsys, db_url, "summary", "--year", "2025")
    assert summary["total"] == 3
    assert summary["by_department"]["归集科"] == {"total": 2, "major": 1, "general": 1, "invalid": 0, "overdue": 2,
                                                "satisfied": 0}
    assert summary["by_cause"]["服务态度"]["total"] == 2 and summary["by_cause"]["办事效率"]["general"] == 1


def test_an_unknown_complaint_is_a_clear_error(db_url, capsys):
    code, _, err = cli(capsys, "complaint", "reply", "99", "--text", "x", "--by", "a", "--db", db_url)
    assert code == 1 and "no complaint 99" in err

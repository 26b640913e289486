"""The 差评 ledger: entries made once per 差评, deadlines in working days over the centre's holiday
calendar, the open → rectified → closed workflow, overdue, appeals and the audit trail."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from centre.dates.holidays import store_calendar
from centre.ledger.appeals import review_appeal, submit_appeal, upheld_transaction_ids
from centre.ledger.entries import (
    LedgerError, close, ledger_entry, ledger_listing, record_callback, rectify, sync_ledger,
)
from centre.storage.db import Database
from centre.storage.migrate import upgrade_to_head
from centre.storage.models import LedgerAction, LedgerEntry
from tests.support.centre.calendars import GOLDEN_WEEK
from tests.support.centre.event_writer import EventWriter

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def ledger_db(db_url):
    writer = EventWriter()
    for n, (level, day) in enumerate([(1, "09-30"), (2, "10-12"), (5, "10-12"), (2, "10-13")], start=1):
        at = f"2026-{day}T15:00:0{n}+08:00"
        data = {"transaction_id": f"tx{n}", "staff_id": "1001", "counter_id": "4"}
        writer.add("u4", "transaction.completed", at, data)
        writer.add("u4", "rating.submitted", at, {**data, "level": level})
    writer.add("u4", "rating.reason", "2026-09-30T15:00:09+08:00",
               {"transaction_id": "tx1", "reason_code": "510", "reason_label": "等待时间长"})
    db = Database(db_url)
    upgrade_to_head(db.engine)
    writer.store(db)
    try:
        yield db, writer
    finally:
        db.dispose()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_every_bad_rating_becomes_one_entry_with_its_reasons_and_deadline(ledger_db):
    db, writer = ledger_db
    with db.transaction() as session:
        store_calendar(session, GOLDEN_WEEK, at("2026-09-01T09:00:00+08:00"))
        assert sync_ledger(session, at("2026-10-14T09:00:00+08:00")) == 3
        assert sync_ledger(session, at("2026-10-14T09:00:00+08:00")) == 0  # idempotent
        entries = {e["transaction_id"]: e for e in ledger_listing(session, at("2026-10-14T09:00:00+08:00"))}
    assert set(entries) == {"tx1", "tx2", "tx4"}
    assert entries["tx1"]["reasons"] == ["等待时间长"] and entries["tx2"]["reasons"] == []
    # Rated Wed 09-30; five working days: 10-08, 10-09, 10-10 (Saturday, worked), 10-12, 10-13.
    assert entries["tx1"]["deadline"] == "2026-10-13"
    assert entries["tx1"]["status"] == "overdue" and entries["tx2"]["status"] == "open"

    # A reason that arrives in a later upload is picked up by the next sync.
    writer.add("u4", "rating.reason", "2026-10-12T15:00:20+08:00",
               {"transaction_id": "tx2", "reason_code": "520", "reason_label": "态度不好"})
    writer.store(db)
    with db.transaction() as session:
        sync_ledger(session, at("2026-10-14T09:00:00+08:00"))
        listed = ledger_listing(session, at("2026-10-14T09:00:00+08:00"), status="open")
    assert [(e["transaction_id"], e["reasons"]) for e in listed] == [("tx4", []), ("tx2", ["态度不好"])]


def test_deadline_days_are_five_or_fifteen(ledger_db, monkeypatch):
    db, _ = ledger_db
    monkeypatch.setenv("CENTRE_LEDGER_DEADLINE_DAYS", "15")
    with db.transaction() as session:
        store_calendar(session, GOLDEN_WEEK, at("2026-09-01T09:00:00+08:00"))
        sync_ledger(session, at("2026-10-14T09:00:00+08:00"))
        tx1 = next(e for e in ledger_listing(session, at("2026-10-14T09:00:00+08:00"))
                   if e["transaction_id"] == "tx1")
    assert tx1["deadline"] == "2026-10-27" and tx1["deadline_days"] == 15
    with pytest.raises(LedgerError, match="5 or 15"):
        with db.transaction() as session:
            sync_ledger(session, at("2026-10-14T09:00:00+08:00"), deadline_days=10)


def test_workflow_appeals_and_audit_trail_and_nothing_deleted(ledger_db):
    db, _ = ledger_db
    now = at("2026-10-14T09:00:00+08:00")
    with db.transaction() as session:
        sync_ledger(session, now)
        ids = {e.transaction_id: e.id for e in session.query(LedgerEntry)}
    with db.transaction() as session:
        with pytest.raises(LedgerError, match="only a rectified entry"):
            close(session, ids["tx2"], "王科长", now)
    with db.transaction() as session:
        rectify(session, ids["tx2"], "已与窗口人员谈话，调整叫号", "组长", now)
        record_callback(session, ids["tx2"], "市民认可整改", "李四", now)
        close(session, ids["tx2"], "王科长", now)
    with db.transaction() as session:
        with pytest.raises(LedgerError, match="only an open entry"):
            rectify(session, ids["tx2"], "again", "组长", now)

    with db.transaction() as session:
        appeal = submit_appeal(session, ids["tx1"], "监控显示市民误按", "组长", now)
        with pytest.raises(LedgerError, match="waiting for review"):
            submit_appeal(session, ids["tx1"], "more", "组长", now)
    with db.transaction() as session:
        with pytest.raises(LedgerError, match="someone other"):
            review_appeal(session, appeal.id, "upheld", "组长", now)
    with db.transaction() as session:
        review_appeal(session, appeal.id, "upheld", "王科长", now, "证据充分")
        assert upheld_transaction_ids(session) == frozenset({"tx1"})
        shown = ledger_entry(session, ids["tx1"], now)
        trail = ledger_entry(session, ids["tx2"], now)["actions"]
        total_entries = session.query(LedgerEntry).count()
        total_actions = session.query(LedgerAction).count()
    assert shown["status"] == "closed" and shown["appeals"][0]["decided_by"] == "王科长"
    assert [(a["action"], a["actor"]) for a in shown["actions"]] == [
        ("created", "system"), ("appeal_submitted", "组长"), ("appeal_upheld", "王科长")]
    assert [a["action"] for a in trail] == ["created", "rectified", "callback", "closed"]
    assert total_entries == 3 and total_actions == 3 + 3 + 2

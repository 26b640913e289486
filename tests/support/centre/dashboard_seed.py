"""A centre database as a manager finds it on a working day: this month and last month of ratings
at 30 windows in two buildings (with tickets, so waiting times), 差评 in the ledger, units in
every state fleet health can warn about, and one account per role. Used by the dashboard tests."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from centre.dashboard.accounts import add_user
from centre.dates.months import Month, centre_time_zone
from centre.ledger.entries import close, ledger_listing, rectify, record_callback, sync_ledger
from centre.reports.supervision import set_supervision
from centre.storage.db import Database
from centre.storage.migrate import upgrade_to_head
from centre.storage.models import Unit
from tests.support.centre.event_writer import EventWriter

PASSWORDS = {"admin": "admin-pass-1", "manager": "manager-pass-1", "viewer": "viewer-pass-1"}
USERS = {"admin": "王管理", "manager": "李主管", "viewer": "张查看"}
WINDOWS = [str(n) for n in range(1, 31)]
LEVEL_WEIGHTS = {5: 150, 4: 34, 3: 11, 2: 3, 1: 2}


@dataclass
class Seeded:
    month: Month
    bad_ratings: int


def unit_of(window: str) -> str:
    return f"{'a' if int(window) <= 15 else 'b'}-{int(window):02d}"  # building A: 1-15, B: 16-30


def _serve_day(writer: EventWriter, rng: random.Random, day_start: datetime, now: datetime, label: str) -> int:
    """One day at every window: busy windows serve up to 3x as many citizens as quiet ones."""
    bad = 0
    for window in WINDOWS:
        served = rng.randint(4, 8) * (1 + int(window) % 3)
        for number in range(served):
            at = day_start + timedelta(hours=9, minutes=number * 20 // (1 + int(window) % 3) + int(window))
            if at > now:
                break
            tx = f"{label}-w{window}-{number}"
            ticket = f"{'A' if int(window) <= 15 else 'B'}{int(window) * 100 + number:04d}"
            unit, wall = unit_of(window), at.isoformat()
            waited = timedelta(minutes=rng.randint(3, 25))
            writer.add(unit, "ticket.issued", (at - waited).isoformat(), {"ticket": ticket, "estimated_wait_min": 10})
            writer.add(unit, "ticket.called", (at - timedelta(minutes=1)).isoformat(), {"ticket": ticket, "category": ticket[0]})
            data = {"transaction_id": tx, "staff_id": f"{1000 + int(window)}", "counter_id": window,
                    "service_item": "TQ01", "ticket": ticket}
            writer.add(unit, "transaction.completed", wall, data)
            level = rng.choices(list(LEVEL_WEIGHTS), weights=list(LEVEL_WEIGHTS.values()))[0]
            if window == "13" and rng.random() < 0.25:  # a window with a cluster of 差评
                level = 1
            if rng.random() < 0.08:
                writer.add(unit, "rating.missed", wall, data)
                continue
            writer.add(unit, "rating.submitted", wall, {**data, "level": level})
            if level <= 2:
                bad += 1
                writer.add(unit, "rating.reason", wall, {"transaction_id": tx, "reason_code": "510",
                                                         "reason_label": rng.choice(["等待时间长", "态度不好", "一次性告知不清"])})
    return bad


def _fleet(db: Database, now: datetime) -> None:
    states = {
        "a-01": dict(last_seen=now - timedelta(minutes=37), backlog=14),    # stale
        "a-02": dict(paper="near_end"),
        "a-03": dict(paper="out"),
        "b-16": dict(clock_offset_ms=95_000),
        "b-17": dict(stream_stopped_reason="422 bad_signature: events[0] hash does not match",
                     stream_stopped_at=now - timedelta(hours=2)),
    }
    with db.transaction() as session:
        for unit in session.query(Unit).all():
            unit.enrolled_at = now - timedelta(days=40)
            unit.counter_id = str(int(unit.unit_id.split("-")[1]))
            unit.last_seen, unit.paper, unit.clock_offset_ms = now - timedelta(seconds=40), "ok", 800
            unit.backlog, unit.version = 0, "1.4.2" if unit.unit_id != "b-30" else "1.3.9"
            for name, value in states.get(unit.unit_id, {}).items():
                setattr(unit, name, value)


def _work_off_ledger(session, rng: random.Random, now: datetime) -> None:
    """Most 差评 older than a week were rectified and closed; some old ones were let slip."""
    manager = USERS["manager"]
    for entry in ledger_listing(session, now):
        age = now - datetime.fromisoformat(entry["wall_time"])
        if age < timedelta(days=7) or rng.random() < 0.06:
            continue
        rectify(session, entry["id"], "已约谈当事人，完善告知材料", manager, now)
        record_callback(session, entry["id"], "群众表示认可", manager, now)
        if rng.random() < 0.8:
            close(session, entry["id"], manager, now)


def seed_dashboard(db_url: str, now: datetime | None = None) -> Seeded:
    """Fill the database at `db_url` (migrated first) and return what the tests need to know."""
    now = now or datetime.now(timezone.utc)
    zone = centre_time_zone()
    month = Month.containing(now, zone)
    rng = random.Random(7)
    db = Database(db_url)
    try:
        upgrade_to_head(db.engine)
        writer, bad = EventWriter(), 0
        for which in (month.previous(), month):
            day = datetime(which.year, which.month, 1, tzinfo=zone)
            while Month(day.year, day.month) == which and day <= now:
                if day.weekday() < 5:
                    bad += _serve_day(writer, rng, day, now, f"{which}-{day.day:02d}")
                day += timedelta(days=1)
        writer.store(db)
        _fleet(db, now)
        with db.transaction() as session:
            sync_ledger(session, now)
            _work_off_ledger(session, rng, now)
            for which in (month.previous(), month):
                for window in WINDOWS:
                    set_supervision(session, which, window, rng.choice([20, 19.5, 19, 18.5, 18, 16]),
                                    USERS["manager"], now)
            for role, name in USERS.items():
                add_user(session, name, role, PASSWORDS[role], now)
    finally:
        db.dispose()
    return Seeded(month, bad)

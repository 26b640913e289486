"""The migrations build exactly the models' schema, a second upgrade has nothing to do, and the
data migrations bring older rows to what the code now stores."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from centre.ledger.entries import ledger_entry, ledger_listing, sync_ledger
from centre.storage.db import Database
from centre.storage.migrate import alembic_config, head_revision, upgrade_to_head
from centre.storage.models import Base

pytestmark = pytest.mark.timeout(60)


def test_migrations_create_the_models_schema(db_url):
    db = Database(db_url)
    try:
        assert upgrade_to_head(db.engine) == head_revision()
        assert upgrade_to_head(db.engine) == head_revision()  # nothing to do the second time
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


@contextmanager
def older_database(db_url: str, revision: str) -> Iterator[Database]:
    """The database with the schema as it was at `revision` (what the next upgrade finds)."""
    db = Database(db_url)
    try:
        config = alembic_config()
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        yield db
    finally:
        db.dispose()


NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def old_unit(connection, unit_id: str = "u5", counter: str | None = "5", enrolled_at: datetime | None = None) -> None:
    """A unit and its stream as an older centre stored them."""
    connection.execute(text("INSERT INTO units (unit_id, role, counter_id, created_at, enrolled_at) "
                            "VALUES (:unit, 'counter', :counter, :now, :enrolled)"),
                       {"unit": unit_id, "counter": counter, "now": NOW, "enrolled": enrolled_at})
    connection.execute(text("INSERT INTO streams (stream_id, unit_id, acked_through, head_hash, first_seen, "
                            "last_seen) VALUES (:unit, :unit, 0, '', :now, :now)"), {"unit": unit_id, "now": NOW})


def old_event(connection, seq: int, type_: str, counter: str | None = None, *, level: int | None = None,
              at: datetime = NOW, transaction: str | None = None, unit_id: str = "u5") -> None:
    """An event as an older centre stored it (its stream is named after its unit)."""
    connection.execute(text(
        "INSERT INTO events (unit_id, stream_id, seq, event_id, type, wall_time, wall_time_utc, received_at, "
        "hash, level, counter_id, transaction_id, raw_json) VALUES (:unit, :unit, :seq, :id, :type, :wall, :at, "
        ":now, '', :level, :counter, :tx, '{}')"),
        {"unit": unit_id, "seq": seq, "id": f"e{seq}", "type": type_, "wall": at.isoformat(), "at": at,
         "now": NOW, "level": level, "counter": counter, "tx": transaction})


def test_misuse_stored_without_a_counter_gets_the_units_counter_on_upgrade(db_url):
    with older_database(db_url, "0005") as db:
        with db.engine.begin() as connection:
            old_unit(connection)
            old_event(connection, 1, "rating.misuse")
            old_event(connection, 2, "rating.misuse", "7")
        upgrade_to_head(db.engine)
        with db.engine.connect() as connection:
            counters = connection.execute(text("SELECT counter_id FROM events ORDER BY seq")).scalars().all()
        assert counters == ["5", "7"]  # its own counter, where it named one, stays


def test_events_stored_before_the_checks_are_held_to_them_on_upgrade_and_leave_the_ledger(db_url):
    with older_database(db_url, "0006") as db:
        with db.engine.begin() as connection:
            old_unit(connection, enrolled_at=NOW - timedelta(days=10))
            old_event(connection, 1, "rating.submitted", "5", level=2, transaction="fine")
            old_event(connection, 2, "rating.submitted", "99", level=1, transaction="elsewhere")
            old_event(connection, 3, "transaction.completed", "5", at=NOW + timedelta(days=1, minutes=1))
            old_event(connection, 4, "rating.submitted", "5", level=1, transaction="long-ago",
                      at=NOW - timedelta(days=11, minutes=1))
            old_event(connection, 5, "evil.type", "99")
            old_event(connection, 6, "ticket.called", "99")                 # not scored at a window
            old_event(connection, 7, "transaction.completed", "5", at=NOW + timedelta(hours=23))
            for transaction in ("fine", "elsewhere", "long-ago"):          # an older centre's ledger
                connection.execute(text(
                    "INSERT INTO ledger_entries (transaction_id, counter_id, level, reasons_json, wall_time, "
                    "rated_at, deadline_days, status, created_at) VALUES (:tx, '5', 1, '[]', '', :now, 5, "
                    "'open', :now)"), {"tx": transaction, "now": NOW})
        upgrade_to_head(db.engine)
        with db.engine.connect() as connection:
            reasons = connection.execute(text("SELECT set_aside FROM events ORDER BY seq")).scalars().all()
        assert reasons == [None, "other_counter", "future", "before_enrolment", "unknown_type", None, None]
        with db.transaction() as session:
            sync_ledger(session, NOW)
            sync_ledger(session, NOW)  # once is enough: nothing more happens
        with db.transaction() as session:
            entries = {entry["transaction_id"]: entry for entry in ledger_listing(session, NOW)}
            trail = ledger_entry(session, entries["elsewhere"]["id"], NOW)["actions"]
        assert {tx: entry["status"] for tx, entry in entries.items()} == \
            {"fine": "open", "elsewhere": "closed", "long-ago": "closed"}
        assert [(action["action"], action["actor"]) for action in trail] == [("withdrawn", "system")]
        assert "不是设备登记的窗口" in trail[0]["detail"]


def test_voided_ratings_and_bursts_stored_before_are_counted_as_misuse_on_upgrade(db_url):
    with older_database(db_url, "0007") as db:
        with db.engine.begin() as connection:
            old_unit(connection, enrolled_at=NOW - timedelta(days=1))
            old_event(connection, 1, "rating.submitted", "5", level=2, transaction="hammered")
            old_event(connection, 2, "rating.reason", transaction="hammered")
            old_event(connection, 3, "rating.voided", "5", transaction="hammered")
            old_event(connection, 4, "rating.misuse", "5")
            connection.execute(text("UPDATE events SET raw_json = :raw WHERE seq = 4"),
                               {"raw": '{"data": {"key": 4, "why": "burst", "dropped": 7}}'})
            old_event(connection, 5, "rating.misuse", "5")
        upgrade_to_head(db.engine)
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT set_aside, presses FROM events ORDER BY seq")).all()
        assert [tuple(row) for row in rows] == [("voided", None), ("voided", None), (None, 2), (None, 7), (None, 1)]

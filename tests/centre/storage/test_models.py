"""The tables: times come back as aware UTC datetimes on both backends, and event types go in and
come out as their plain wire strings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import json

import pytest
from sqlalchemy import func, select, text

from centre.storage.db import Database
from centre.storage.migrate import upgrade_to_head
from centre.storage.models import Event, Unit
from protocol.events import EventType
from tests.support.centre.event_writer import EventWriter

pytestmark = pytest.mark.timeout(60)


def test_times_are_stored_and_read_back_as_utc(db_url):
    db = Database(db_url)
    try:
        upgrade_to_head(db.engine)
        in_beijing = datetime(2026, 11, 23, 9, 14, 3, 512000, tzinfo=timezone(timedelta(hours=8)))
        with db.transaction() as session:
            session.add(Unit(unit_id="u1", role="counter", counter_id="1", created_at=in_beijing))
        with db.transaction() as session:
            created = session.get(Unit, "u1").created_at
        assert created == in_beijing and created.tzinfo == timezone.utc
        with pytest.raises(Exception, match="naive"):
            with db.transaction() as session:
                session.add(Unit(unit_id="u2", role="counter", created_at=datetime(2026, 1, 1)))
    finally:
        db.dispose()


def test_event_types_go_in_and_come_out_as_their_wire_strings(db_url):
    """The centre queries by EventType members (a StrEnum): a member binds as its plain string, so
    rows written with members or with strings are found alike and read back as plain text."""
    db = Database(db_url)
    try:
        upgrade_to_head(db.engine)
        writer = EventWriter()
        writer.add("u1", EventType.RATING_SUBMITTED, "2026-11-23T09:14:03+08:00",
                   {"transaction_id": "t1", "level": 5, "counter_id": "3"})
        writer.add("u1", "ticket.issued", "2026-11-23T09:15:00+08:00", {"ticket": "A001"})
        writer.store(db)
        with db.engine.connect() as connection:
            stored = connection.execute(text("SELECT type, raw_json FROM events ORDER BY seq")).all()
        assert [row.type for row in stored] == ["rating.submitted", "ticket.issued"]
        assert all(type(row.type) is str for row in stored)
        assert [json.loads(row.raw_json)["type"] for row in stored] == ["rating.submitted", "ticket.issued"]
        with db.transaction() as session:
            rated = select(func.count()).select_from(Event).where(Event.type == EventType.RATING_SUBMITTED)
            assert session.scalar(rated) == 1
            issued = select(Event.type).where(Event.type.in_((EventType.TICKET_ISSUED, EventType.TICKET_CALLED)))
            assert session.scalars(issued).all() == ["ticket.issued"]
            assert session.scalar(select(Event.level).where(Event.type == "rating.submitted")) == 5
    finally:
        db.dispose()

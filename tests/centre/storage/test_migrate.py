"""The migrations build exactly the models' schema, a second upgrade has nothing to do, and the
data migrations bring older rows to what the code now stores."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

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


def upgrade_to(engine, revision: str) -> None:
    """The schema as it was at `revision` (an older database the next upgrade finds)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_misuse_stored_without_a_counter_gets_the_units_counter_on_upgrade(db_url):
    db = Database(db_url)
    try:
        upgrade_to(db.engine, "0005")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO units (unit_id, role, counter_id, created_at) VALUES ('u5', 'counter', '5', :now)"),
                {"now": datetime.now(timezone.utc)})
            connection.execute(text(
                "INSERT INTO streams (stream_id, unit_id, acked_through, head_hash, first_seen, last_seen) "
                "VALUES ('s1', 'u5', 2, '', :now, :now)"), {"now": datetime.now(timezone.utc)})
            for seq, counter in ((1, None), (2, "7")):
                connection.execute(text(
                    "INSERT INTO events (unit_id, stream_id, seq, event_id, type, wall_time, wall_time_utc, "
                    "received_at, hash, counter_id, raw_json) VALUES ('u5', 's1', :seq, :id, 'rating.misuse', "
                    "'', :now, :now, '', :counter, '{}')"),
                    {"seq": seq, "id": f"e{seq}", "now": datetime.now(timezone.utc), "counter": counter})
        upgrade_to_head(db.engine)
        with db.engine.connect() as connection:
            counters = connection.execute(text("SELECT counter_id FROM events ORDER BY seq")).scalars().all()
        assert counters == ["5", "7"]  # its own counter, where it named one, stays
    finally:
        db.dispose()

"""The migrations build exactly the models' schema, and a second upgrade has nothing to do."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from centre.storage.db import Database
from centre.storage.migrate import head_revision, upgrade_to_head
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

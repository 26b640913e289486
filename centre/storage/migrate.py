"""Applying the centre's Alembic migrations from code: no alembic.ini, the scripts ship in the package.

A developer adds a revision after changing centre/storage/models.py with
    python -c "from centre.storage.migrate import autogenerate_revision as new; new('sqlite:///dev.db', 'why')"
on a database already at head, then reads and edits the generated file.
"""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from centre.storage.db import make_engine

# Any constant: all centre processes take this PostgreSQL advisory lock while migrating, so two
# that start together do not both try to create the tables.
_MIGRATION_LOCK_KEY = 0x63656E747265


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "centre.storage:migrations")
    return config


def upgrade_to_head(engine: Engine) -> str:
    """Bring the schema to the newest revision (nothing to do when it is there) and return it."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def autogenerate_revision(db_url: str, message: str) -> None:
    engine = make_engine(db_url)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True)
    finally:
        engine.dispose()

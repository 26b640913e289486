"""Helpers shared by the `centre` subcommands."""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from typing import Iterator

from centre.db import DB_ENV, Database, resolve_db_url
from centre.migrate import upgrade_to_head


class CommandError(Exception):
    """A command that cannot do what was asked: printed as `centre: error: …`, exit status 1."""


def database_options() -> argparse.ArgumentParser:
    """The --db option every subcommand takes (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--db", metavar="URL",
                        help=f"database URL (default: ${DB_ENV}, else sqlite:///centre.db in the "
                             "current folder); PostgreSQL: postgresql+psycopg://USER:PASS@HOST/DB")
    return parent


@contextmanager
def open_database(args: argparse.Namespace) -> Iterator[Database]:
    """The command's database, migrated to the newest schema (as `centre serve` does at start)."""
    db = Database(resolve_db_url(args.db))
    try:
        upgrade_to_head(db.engine)
        yield db
    finally:
        db.dispose()


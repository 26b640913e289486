"""Helpers shared by the `centre` subcommands."""
from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy.orm import Session

from centre.dates.months import TIME_ZONE_ENV, Month, MonthError
from centre.storage.db import DB_ENV, Database, resolve_db_url
from centre.storage.migrate import upgrade_to_head

Result = TypeVar("Result")


class CommandError(Exception):
    """A command that cannot do what was asked: printed as `centre: error: …`, exit status 1."""


def database_options() -> argparse.ArgumentParser:
    """The --db option every subcommand takes (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--db", metavar="URL",
                        help=f"database URL (default: ${DB_ENV}, else sqlite:///centre.db in the "
                             "current folder); PostgreSQL: postgresql+psycopg://USER:PASS@HOST/DB")
    return parent


def time_zone_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-zone", metavar="ZONE",
                        help=f"the centre's time zone for months and deadlines (default: ${TIME_ZONE_ENV}, "
                             "else Asia/Shanghai)")


def parse_month(text: str) -> Month:
    try:
        return Month.parse(text)
    except MonthError as exc:
        raise CommandError(str(exc)) from exc


@contextmanager
def open_database(args: argparse.Namespace) -> Iterator[Database]:
    """The command's database, migrated to the newest schema (as `centre serve` does at start)."""
    db = Database(resolve_db_url(args.db))
    try:
        upgrade_to_head(db.engine)
        yield db
    finally:
        db.dispose()


def in_transaction(args: argparse.Namespace, work: Callable[[Session], Result],
                   refusals: tuple[type[Exception], ...] = ()) -> Result:
    """`work(session)` in one transaction on the command's database. A refusal of one of the
    `refusals` types (rolled back) becomes a CommandError with its message."""
    with open_database(args) as db:
        try:
            with db.transaction() as session:
                return work(session)
        except refusals as exc:
            raise CommandError(str(exc)) from exc


def print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2))

"""`centre migrate`: create the schema or bring it to the newest revision."""
from __future__ import annotations

import argparse

from centre.commands.common import database_options
from centre.storage.db import Database, display_url, resolve_db_url
from centre.storage.migrate import upgrade_to_head


def register(subcommands) -> None:
    parser = subcommands.add_parser("migrate", parents=[database_options()],
                                    help="create or upgrade the database schema")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    url = resolve_db_url(args.db)
    db = Database(url)
    try:
        revision = upgrade_to_head(db.engine)
    finally:
        db.dispose()
    print(f"{display_url(url)}: schema at revision {revision}")
    return 0

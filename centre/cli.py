"""The `centre` command: `centre serve | unit add/list/revoke | bundle load | migrate | report |
supervision | callbacks | ledger | holidays | user | platform | staff set-pin`.

Each subcommand lives in a module of centre/commands that registers its parser; adding one (for
example `report`) means adding a module there and naming it in COMMAND_MODULES.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from sqlalchemy.exc import SQLAlchemyError

from centre.commands import bundle, callbacks, ledger, migrate, report, serve, staff, supervision, unit, user
from centre.commands import complaint
from centre.commands import platform as platform_commands
from centre.commands.common import CommandError
from centre.dates.months import MonthError
from centre.storage.db import DatabaseUrlError

COMMAND_MODULES = (serve, unit, bundle, migrate, report, supervision, callbacks, ledger, user, platform_commands,
                   staff, complaint)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="centre", description="The head office's server for counter units.")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CommandError, DatabaseUrlError, MonthError) as exc:
        print(f"centre: error: {exc}", file=sys.stderr)
    except SQLAlchemyError as exc:
        print(f"centre: error: database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

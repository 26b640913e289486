"""`centre unit add | list | revoke`."""
from __future__ import annotations

import argparse
import re
from datetime import datetime, timezone

from centre.commands.common import CommandError, database_options, in_transaction
from centre.storage.db import display_url, normalise_url, resolve_db_url
from centre.units.enrolment import ROLES, UnitError, add_unit
from centre.units.fleet import fleet_health, revoke_unit
from centre.units.schemas import IDENTIFIER_PATTERN


def register(subcommands) -> None:
    parser = subcommands.add_parser("unit", help="add, list and revoke units")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", parents=[database_options()],
                             help="register a unit and print its one-time enrolment token")
    add.add_argument("unit_id", metavar="UNIT_ID")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--counter", metavar="N", help="the counter (window) the unit serves")
    add.set_defaults(run=run_add)

    listing = actions.add_parser("list", parents=[database_options()], help="list units and their health")
    listing.set_defaults(run=run_list)

    revoke = actions.add_parser("revoke", parents=[database_options()],
                                help="refuse a unit's uploads from now on (its events stay)")
    revoke.add_argument("unit_id", metavar="UNIT_ID")
    revoke.set_defaults(run=run_revoke)


def run_add(args: argparse.Namespace) -> int:
    if len(args.unit_id) > 64 or not re.match(IDENTIFIER_PATTERN, args.unit_id):
        raise CommandError("a unit id is 1-64 letters, digits and . _ : - (e.g. counter-03)")
    issued = in_transaction(args, lambda session: add_unit(
        session, args.unit_id, args.role, args.counter, datetime.now(timezone.utc)), refusals=(UnitError,))
    counter = f", counter {args.counter}" if args.counter else ""
    print(f"unit: {issued.unit_id} (role {args.role}{counter})")
    print(f"token: {issued.token}")
    print(f"expires: {issued.expires_at.astimezone().isoformat(timespec='seconds')}")
    print(f"database: {_where(args.db)}")
    # `=`: a token may begin with '-', which the unit's argument parser would take for an option.
    print(f"On the unit: kiosk provision --centre URL --unit-id {issued.unit_id} --token={issued.token}")
    print("  (the token works once, within 24 hours; the unit takes its role and counter from the centre)")
    return 0


def _where(db: str | None) -> str:
    """The database a technician should point `centre serve` at: an SQLite file by its path."""
    given = resolve_db_url(db)
    url = normalise_url(given)
    return f"{url.database} (SQLite)" if url.get_backend_name() == "sqlite" else display_url(given)


def run_list(args: argparse.Namespace) -> int:
    units = in_transaction(args, fleet_health)
    columns = ("unit_id", "role", "counter_id", "state", "last_seen", "acked_through", "backlog",
               "paper", "clock_offset_ms", "version", "stream_stopped_reason")
    rows = [[_state(u) if c == "state" else ("" if u[c] is None else str(u[c])) for c in columns]
            for u in units]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    for line in [list(columns)] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    return 0


def _state(unit: dict) -> str:
    if unit["revoked"]:
        return "revoked"
    return "enrolled" if unit["enrolled"] else "awaiting-enrolment"


def run_revoke(args: argparse.Namespace) -> int:
    changed = in_transaction(args, lambda session: revoke_unit(
        session, args.unit_id, datetime.now(timezone.utc)), refusals=(UnitError,))
    print(f"revoked {args.unit_id}" if changed else f"{args.unit_id} was already revoked")
    return 0

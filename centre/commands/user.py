"""`centre user add NAME --role admin|manager|viewer` and `centre user list`: dashboard accounts."""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone

from centre.commands.common import CommandError, database_options, in_transaction
from centre.dashboard.accounts import ROLES, AccountError, add_user, list_users


def register(subcommands) -> None:
    parser = subcommands.add_parser("user", help="manage dashboard accounts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[database_options()], help="add a dashboard account")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input (else: a prompt)")
    add.set_defaults(run=run_add)
    listing = actions.add_parser("list", parents=[database_options()], help="list dashboard accounts")
    listing.set_defaults(run=run_list)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the passwords differ")
    return first


def run_add(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    user = in_transaction(args, lambda session: add_user(
        session, args.name, args.role, password, datetime.now(timezone.utc)), refusals=(AccountError,))
    print(f"user {user.name} added ({user.role})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    for user in in_transaction(args, list_users):
        print(f"{user.name}\t{user.role}\t{user.created_at.isoformat()}")
    return 0

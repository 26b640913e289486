"""`centre user add NAME --role admin|manager|viewer` and `centre user list`: dashboard accounts."""
from __future__ import annotations

import argparse
import shlex
from datetime import datetime, timezone

from centre.commands.asking import Secret, read_secret
from centre.commands.common import database_options, in_transaction
from centre.dashboard.accounts import MIN_PASSWORD_LENGTH, ROLES, AccountError, add_user, list_users

PASSWORD_RULE = f"a password is at least {MIN_PASSWORD_LENGTH} characters"


def register(subcommands) -> None:
    parser = subcommands.add_parser("user", help="manage dashboard accounts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[database_options()], help="add a dashboard account")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input (else: asked on the "
                          f"terminal); {PASSWORD_RULE}")
    add.set_defaults(run=run_add)
    listing = actions.add_parser("list", parents=[database_options()], help="list dashboard accounts")
    listing.set_defaults(run=run_list)


def read_password(from_stdin: bool, name: str, role: str) -> str:
    example = f"printf '%s\\n' \"$PASSWORD\" | centre user add {shlex.quote(name)} --role {role} --password-stdin"
    secret = Secret("password", PASSWORD_RULE, "--password-stdin", example,
                    lambda typed: f"that password is too short: {PASSWORD_RULE}"
                    if len(typed) < MIN_PASSWORD_LENGTH else None, "nothing was added")
    return read_secret(secret, from_stdin=from_stdin, intro=f"password for {name}")


def run_add(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin, args.name, args.role)
    user = in_transaction(args, lambda session: add_user(
        session, args.name, args.role, password, datetime.now(timezone.utc)), refusals=(AccountError,))
    print(f"user {user.name} added ({user.role})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    for user in in_transaction(args, list_users):
        print(f"{user.name}\t{user.role}\t{user.created_at.isoformat()}")
    return 0

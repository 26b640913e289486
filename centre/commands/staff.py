"""`centre staff set-pin STAFF_ID [--pin-stdin]`: the PIN a staff member signs in with on the units'
staff console. Only a slow salted hash is kept, and units get only that, in the bundle."""
from __future__ import annotations

import argparse
import re
import shlex
import sys
from datetime import datetime, timezone

from centre.commands.asking import Secret, read_secret
from centre.commands.common import CommandError, database_options, in_transaction
from centre.units.pins import PinError, set_pin
from centre.units.schemas import IDENTIFIER_PATTERN
from protocol.pins import PIN_RULE, pin_problem


def register(subcommands) -> None:
    parser = subcommands.add_parser("staff", help="staff members' PINs for the units' staff console")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    set_pin_parser = actions.add_parser(
        "set-pin", parents=[database_options()],
        help="set (or replace) the PIN a staff member signs in with on the units' staff console")
    set_pin_parser.add_argument("staff_id", metavar="STAFF_ID")
    set_pin_parser.add_argument("--pin-stdin", action="store_true",
                                help="read the PIN from the first line of standard input (else: asked on the "
                                     f"terminal); {PIN_RULE}")
    set_pin_parser.set_defaults(run=run_set_pin)


def read_pin(from_stdin: bool, staff_id: str) -> str:
    example = f"printf '%s\\n' \"$PIN\" | centre staff set-pin {shlex.quote(staff_id)} --pin-stdin"
    secret = Secret("PIN", PIN_RULE, "--pin-stdin", example,
                    lambda typed: None if pin_problem(typed) is None else f"that PIN cannot be used: {PIN_RULE}",
                    "nothing was changed")
    return read_secret(secret, from_stdin=from_stdin, intro=f"PIN for staff {staff_id}")


def run_set_pin(args: argparse.Namespace) -> int:
    staff_id = args.staff_id
    if len(staff_id) > 32 or not re.match(IDENTIFIER_PATTERN, staff_id):
        raise CommandError("a staff id is 1-32 letters, digits and . _ : - (as in the bundle, e.g. 1001)")
    pin = read_pin(args.pin_stdin, staff_id)
    done = in_transaction(args, lambda session: set_pin(session, staff_id, pin, datetime.now(timezone.utc)),
                          refusals=(PinError,))
    print(f"PIN {'replaced' if done.replaced else 'set'} for staff {staff_id} (kept only as a scrypt hash)")
    if done.in_bundle is None:
        print(f"centre: warning: there is no bundle yet; staff {staff_id}'s PIN reaches the units with the "
              "first bundle that lists them (centre bundle load FILE)", file=sys.stderr)
    elif not done.in_bundle:
        print(f"centre: warning: staff {staff_id} is not in the current bundle; the PIN reaches the units "
              "once a bundle lists them", file=sys.stderr)
    else:
        print("units get it with their next bundle download (every 10 minutes, or at their start)")
    return 0

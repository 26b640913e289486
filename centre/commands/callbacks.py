"""`centre callbacks draw | list | result`: the month's random callback list."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from centre.commands.common import (
    CommandError, database_options, in_transaction, parse_month, print_json, time_zone_option,
)
from centre.reports.callbacks import (
    DEFAULT_CALLBACKS, CallbackError, callback_list, draw_callbacks, record_callback_result,
)


def register(subcommands) -> None:
    parser = subcommands.add_parser("callbacks", help="draw the month's callback list, record results")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    draw = actions.add_parser("draw", parents=[database_options()],
                              help="draw 5-10 of the month's transactions at random (once a month)")
    draw.add_argument("--month", required=True, metavar="YYYY-MM")
    draw.add_argument("--count", type=int, default=DEFAULT_CALLBACKS, help=f"5-10 (default {DEFAULT_CALLBACKS})")
    draw.add_argument("--seed", help="the seed to draw with (default: a random one, recorded)")
    draw.add_argument("--by", required=True, metavar="NAME", help="who draws the list")
    time_zone_option(draw)
    draw.set_defaults(run=run_draw)
    listing = actions.add_parser("list", parents=[database_options()], help="the month's list as JSON")
    listing.add_argument("--month", required=True, metavar="YYYY-MM")
    listing.set_defaults(run=run_list)
    result = actions.add_parser("result", parents=[database_options()], help="record a callback's result")
    result.add_argument("--month", required=True, metavar="YYYY-MM")
    result.add_argument("transaction_id", metavar="TRANSACTION_ID")
    result.add_argument("result", metavar="RESULT", help="what the citizen said")
    result.add_argument("--by", required=True, metavar="NAME", help="who made the call")
    result.set_defaults(run=run_result)


def run_draw(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    print_json(in_transaction(args, lambda session: draw_callbacks(
        session, month, args.by, datetime.now(timezone.utc), count=args.count, seed=args.seed,
        zone_name=args.time_zone), refusals=(CallbackError,)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    drawn = in_transaction(args, lambda session: callback_list(session, month))
    if drawn is None:
        raise CommandError(f"the callback list of {month} has not been drawn (centre callbacks draw)")
    print_json(drawn)
    return 0


def run_result(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    print_json(in_transaction(args, lambda session: record_callback_result(
        session, month, args.transaction_id, args.result, args.by, datetime.now(timezone.utc)),
        refusals=(CallbackError,)))
    return 0

"""`centre supervision set | list`: the supervision part (of 20) of a window's monthly score."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from centre.commands.common import database_options, in_transaction, parse_month
from centre.reports.supervision import SupervisionError, set_supervision, supervision_entries


def register(subcommands) -> None:
    parser = subcommands.add_parser("supervision", help="enter and list supervision scores")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    entering = actions.add_parser("set", parents=[database_options()],
                                  help="enter a window's supervision score (0-20) for a month")
    entering.add_argument("--month", required=True, metavar="YYYY-MM")
    entering.add_argument("--counter", required=True, metavar="N", help="the window")
    entering.add_argument("--score", required=True, type=float, help="0 to 20")
    entering.add_argument("--by", required=True, metavar="NAME", help="the manager entering it")
    entering.add_argument("--note", help="e.g. routine 9 + spot 5 + leaders 4")
    entering.set_defaults(run=run_set)
    listing = actions.add_parser("list", parents=[database_options()],
                                 help="every score entered for a month (the newest per window counts)")
    listing.add_argument("--month", required=True, metavar="YYYY-MM")
    listing.set_defaults(run=run_list)


def run_set(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    in_transaction(args, lambda session: set_supervision(
        session, month, args.counter, args.score, args.by, datetime.now(timezone.utc), args.note),
        refusals=(SupervisionError,))
    print(f"supervision {month} window {args.counter}: {args.score:g} (by {args.by})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    for entry in in_transaction(args, lambda session: supervision_entries(session, month)):
        mark = "*" if entry["current"] else " "
        print(f"{mark} {entry['counter_id']:>6}  {entry['score']:6.2f}  {entry['entered_by']}  "
              f"{entry['entered_at']}  {entry['note'] or ''}".rstrip())
    return 0

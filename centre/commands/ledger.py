"""`centre ledger sync | list | show | rectify | callback | close | appeal | review` and
`centre holidays load | list`: the 差评 ledger and the calendar its deadlines count on."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from centre.commands.common import (
    CommandError, database_options, in_transaction, parse_month, print_json, time_zone_option,
)
from centre.dates.holidays import CalendarError, calendar_listing, read_calendar_file, store_calendar
from centre.dates.months import centre_time_zone
from centre.ledger.appeals import DECISIONS, review_appeal, submit_appeal
from centre.ledger.entries import (
    DEADLINE_CHOICES, DEADLINE_DAYS_ENV, STATUSES, LedgerError, close, ledger_entry, read_ledger,
    record_callback, rectify, sync_ledger,
)

REFUSALS = (LedgerError, CalendarError)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def register(subcommands) -> None:
    parser = subcommands.add_parser("ledger", help="the 差评 ledger")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    db = [database_options()]

    sync = actions.add_parser("sync", parents=db, help="make entries for new 差评 (idempotent)")
    sync.add_argument("--deadline-days", type=int, choices=DEADLINE_CHOICES,
                      help=f"working days to rectify (default: ${DEADLINE_DAYS_ENV}, else 5)")
    sync.set_defaults(run=run_sync)

    listing = actions.add_parser("list", parents=db, help="entries as JSON (syncs first)")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--month", metavar="YYYY-MM", help="only 差评 given in this month")
    time_zone_option(listing)
    listing.set_defaults(run=run_list)

    show = actions.add_parser("show", parents=db, help="one entry with its appeals and audit trail")
    show.add_argument("entry_id", type=int)
    time_zone_option(show)
    show.set_defaults(run=run_show)

    for name, helptext in (("rectify", "record the rectification: open → rectified"),
                           ("callback", "record the callback to the citizen"),
                           ("close", "close a rectified entry")):
        change = actions.add_parser(name, parents=db, help=helptext)
        change.add_argument("entry_id", type=int)
        change.add_argument("--note", required=name != "close")
        change.add_argument("--by", required=True, metavar="NAME")
        change.set_defaults(run=run_change, change=name)

    appeal = actions.add_parser("appeal", parents=db, help="appeal a malicious 差评, with evidence")
    appeal.add_argument("entry_id", type=int)
    appeal.add_argument("--evidence", required=True)
    appeal.add_argument("--by", required=True, metavar="NAME")
    appeal.set_defaults(run=run_appeal)

    review = actions.add_parser("review", parents=db, help="a manager's decision on an appeal")
    review.add_argument("appeal_id", type=int)
    review.add_argument("--decision", required=True, choices=DECISIONS)
    review.add_argument("--note")
    review.add_argument("--by", required=True, metavar="NAME")
    review.set_defaults(run=run_review)

    holidays = subcommands.add_parser("holidays", help="the holiday calendar for ledger deadlines")
    holiday_actions = holidays.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = holiday_actions.add_parser("load", parents=db, help="load days off and worked weekend days")
    load.add_argument("file", type=Path, metavar="FILE", help=".toml or .json")
    load.set_defaults(run=run_holidays_load)
    holiday_list = holiday_actions.add_parser("list", parents=db, help="the loaded calendar")
    holiday_list.set_defaults(run=run_holidays_list)


def _in_transaction(args, work):
    return in_transaction(args, work, refusals=REFUSALS)


def run_sync(args: argparse.Namespace) -> int:
    made = _in_transaction(args, lambda session: sync_ledger(session, _now(), args.deadline_days))
    print(f"ledger: {made} new entries")
    return 0


def run_list(args: argparse.Namespace) -> int:
    bounds = None
    if args.month:
        bounds = parse_month(args.month).utc_bounds(centre_time_zone(args.time_zone))
    entries = _in_transaction(args, lambda session: read_ledger(
        session, _now(), status=args.status, month_bounds=bounds, zone_name=args.time_zone))
    print_json({"entries": entries})
    return 0


def run_show(args: argparse.Namespace) -> int:
    print_json(_in_transaction(args, lambda session: ledger_entry(session, args.entry_id, _now(), args.time_zone)))
    return 0


def run_change(args: argparse.Namespace) -> int:
    def work(session):
        if args.change == "rectify":
            rectify(session, args.entry_id, args.note, args.by, _now())
        elif args.change == "callback":
            record_callback(session, args.entry_id, args.note, args.by, _now())
        else:
            close(session, args.entry_id, args.by, _now(), args.note)
        return ledger_entry(session, args.entry_id, _now())

    print_json(_in_transaction(args, work))
    return 0


def run_appeal(args: argparse.Namespace) -> int:
    appeal = _in_transaction(args, lambda session: submit_appeal(session, args.entry_id, args.evidence,
                                                                 args.by, _now()).id)
    print(f"appeal {appeal} submitted for entry {args.entry_id}")
    return 0


def run_review(args: argparse.Namespace) -> int:
    _in_transaction(args, lambda session: review_appeal(session, args.appeal_id, args.decision, args.by,
                                                        _now(), args.note))
    print(f"appeal {args.appeal_id}: {args.decision}")
    return 0


def run_holidays_load(args: argparse.Namespace) -> int:
    try:
        days = read_calendar_file(args.file)
    except CalendarError as exc:
        raise CommandError(str(exc)) from exc
    count = _in_transaction(args, lambda session: store_calendar(session, days, _now()))
    print(f"holidays: {count} days loaded")
    return 0


def run_holidays_list(args: argparse.Namespace) -> int:
    print_json({"days": _in_transaction(args, calendar_listing)})
    return 0

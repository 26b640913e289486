"""`centre complaint add | list | show | reply | callback | close | summary`: the complaints
register (投诉; centre/complaints/register.py). Every change names who made it (--by)."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from centre.commands.common import CommandError, database_options, in_transaction, print_json, time_zone_option
from centre.complaints.register import (
    CHANNELS, CLASSES, INVALID_REASONS, SATISFACTION, ComplaintError, add_complaint, callback, close,
    complaint_with_trail, listing, reply, yearly_summary,
)

REFUSALS = (ComplaintError,)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _received(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--received wants a time with its offset, e.g. 2026-12-02T09:30+08:00; got {text!r}") from None
    if moment.tzinfo is None:
        raise CommandError("--received needs its offset, e.g. +08:00")
    return moment


def register(subcommands) -> None:
    parser = subcommands.add_parser("complaint", help="the complaints register (投诉)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    db = [database_options()]

    add = actions.add_parser("add", parents=db, help="register a complaint")
    add.add_argument("--channel", required=True, choices=CHANNELS)
    add.add_argument("--class", dest="kind", required=True, choices=CLASSES,
                     help="major (重大, 10 working days), general (一般, 3-5), invalid (无效: never held against staff)")
    add.add_argument("--invalid-reason", choices=INVALID_REASONS, help="for --class invalid: 恶意, 不实, 无法立案")
    add.add_argument("--summary", required=True)
    add.add_argument("--received", metavar="TIME", help="when it came in (default: now), with its offset")
    for name in ("department", "cause", "handler", "counter", "staff", "complainant"):
        add.add_argument(f"--{name}")
    add.add_argument("--by", required=True, help="who registers it")
    add.set_defaults(run=run_add)

    show_list = actions.add_parser("list", parents=db, help="complaints as JSON")
    show_list.add_argument("--year", type=int)
    show_list.add_argument("--overdue", action="store_true", help="only open ones past their deadline")
    time_zone_option(show_list)
    show_list.set_defaults(run=run_list)

    show = actions.add_parser("show", parents=db, help="one complaint with its trail")
    show.add_argument("complaint_id", type=int)
    time_zone_option(show)
    show.set_defaults(run=run_show)

    answer = actions.add_parser("reply", parents=db, help="record the reply: open → replied")
    answer.add_argument("complaint_id", type=int)
    answer.add_argument("--text", required=True)
    answer.add_argument("--by", required=True)
    answer.set_defaults(run=run_reply)

    called = actions.add_parser("callback", parents=db, help="record the callback and the complainant's satisfaction")
    called.add_argument("complaint_id", type=int)
    called.add_argument("--note", required=True)
    called.add_argument("--satisfaction", required=True, choices=SATISFACTION)
    called.add_argument("--by", required=True)
    called.set_defaults(run=run_callback)

    done = actions.add_parser("close", parents=db, help="close a replied (or an invalid) complaint")
    done.add_argument("complaint_id", type=int)
    done.add_argument("--by", required=True)
    done.set_defaults(run=run_close)

    summary = actions.add_parser("summary", parents=db, help="the year by department and cause (JSON)")
    summary.add_argument("--year", type=int, required=True)
    time_zone_option(summary)
    summary.set_defaults(run=run_summary)


def run_add(args: argparse.Namespace) -> int:
    received = _received(args.received)
    shown = in_transaction(args, lambda session: complaint_with_trail(session, add_complaint(
        session, channel=args.channel, kind=args.kind, summary=args.summary, actor=args.by, now=_now(),
        received_at=received, invalid_reason=args.invalid_reason, department=args.department, cause=args.cause,
        first_handler=args.handler, counter_id=args.counter, staff_id=args.staff,
        complainant=args.complainant).id, _now()), refusals=REFUSALS)
    print_json(shown)
    return 0


def run_list(args: argparse.Namespace) -> int:
    print_json({"complaints": in_transaction(args, lambda session: listing(
        session, _now(), year=args.year, overdue_only=args.overdue, zone_name=args.time_zone), refusals=REFUSALS)})
    return 0


def run_show(args: argparse.Namespace) -> int:
    print_json(in_transaction(args, lambda session: complaint_with_trail(session, args.complaint_id, _now(),
                                                                       args.time_zone), refusals=REFUSALS))
    return 0


def _change(args: argparse.Namespace, change) -> int:
    def work(session):
        change(session)
        return complaint_with_trail(session, args.complaint_id, _now())
    print_json(in_transaction(args, work, refusals=REFUSALS))
    return 0


def run_reply(args: argparse.Namespace) -> int:
    return _change(args, lambda session: reply(session, args.complaint_id, args.text, args.by, _now()))


def run_callback(args: argparse.Namespace) -> int:
    return _change(args, lambda session: callback(session, args.complaint_id, args.note, args.satisfaction,
                                                  args.by, _now()))


def run_close(args: argparse.Namespace) -> int:
    return _change(args, lambda session: close(session, args.complaint_id, args.by, _now()))


def run_summary(args: argparse.Namespace) -> int:
    print_json(in_transaction(args, lambda session: yearly_summary(session, args.year, _now(), args.time_zone),
                              refusals=REFUSALS))
    return 0

"""`centre report --month YYYY-MM [--format csv|json|xlsx] [--by staff] [--out FILE]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from centre.callbacks import callback_list
from centre.commands.common import CommandError, database_options, open_database
from centre.months import TIME_ZONE_ENV, Month, MonthError
from centre.report_formats import FORMATS, render_report
from centre.report_source import monthly_report


def time_zone_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-zone", metavar="ZONE",
                        help=f"the centre's time zone for months and deadlines (default: ${TIME_ZONE_ENV}, "
                             "else Asia/Shanghai)")


def parse_month(text: str) -> Month:
    try:
        return Month.parse(text)
    except MonthError as exc:
        raise CommandError(str(exc)) from exc


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "report", parents=[database_options()], help="the monthly window (or staff) report",
        description="One row per window (or staff member) for the month: counts, points, scores, "
                    "rank, 服务明星 and 约谈. Scoring rules: centre/REPORTS.md.")
    parser.add_argument("--month", required=True, metavar="YYYY-MM")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--by", choices=("counter", "staff"), default="counter",
                        help="one row per window (default) or per staff member")
    parser.add_argument("--out", metavar="FILE", type=Path,
                        help="write here (default: standard output; xlsx needs --out)")
    time_zone_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    if args.format == "xlsx" and args.out is None:
        raise CommandError("an xlsx report is written to a file: give --out FILE")
    with open_database(args) as db:
        with db.transaction() as session:
            try:
                report = monthly_report(session, month, args.by, args.time_zone)
            except MonthError as exc:
                raise CommandError(str(exc)) from exc
            callbacks = callback_list(session, month)
    body = render_report(report, args.format, callbacks)
    if args.out is None:
        sys.stdout.write(body.decode("utf-8"))
        return 0
    try:
        args.out.write_bytes(body)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror}") from exc
    print(f"report {month} ({args.by}, {len(report.rows)} rows) written to {args.out}", file=sys.stderr)
    return 0

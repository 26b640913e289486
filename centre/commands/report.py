"""`centre report --month YYYY-MM [--format csv|json|xlsx] [--by staff] [--out FILE]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from centre.commands.common import (
    CommandError, database_options, in_transaction, parse_month, time_zone_option,
)
from centre.dates.months import MonthError
from centre.reports.formats import FORMATS, render_report
from centre.reports.source import report_and_callbacks


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
    report, callbacks = in_transaction(args, lambda session: report_and_callbacks(
        session, month, args.by, args.time_zone), refusals=(MonthError,))
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

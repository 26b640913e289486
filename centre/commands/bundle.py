"""`centre bundle load FILE`: make a TOML or JSON file the bundle units download."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from centre.commands.common import CommandError, database_options, in_transaction
from centre.units.bundle import BundleFileError, bundle_warnings, read_bundle_file, store_bundle
from centre.units.schemas import Bundle
from centre.web.errors import field_path


def register(subcommands) -> None:
    parser = subcommands.add_parser("bundle", help="manage the unit bundle")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = actions.add_parser("load", parents=[database_options()],
                              help="load a bundle file (.toml or .json) as the current bundle")
    load.add_argument("file", metavar="FILE", type=Path)
    load.set_defaults(run=run_load)


def run_load(args: argparse.Namespace) -> int:
    try:
        bundle = Bundle.model_validate(read_bundle_file(args.file))
    except BundleFileError as exc:
        raise CommandError(str(exc)) from exc
    except ValidationError as exc:
        problems = "; ".join(f"{field_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CommandError(f"{args.file}: {problems}") from exc
    version, changed = in_transaction(args, lambda session: store_bundle(
        session, bundle, datetime.now(timezone.utc)))
    summary = (f"{len(bundle.reasons)} reasons, {len(bundle.staff)} staff, "
               f"{len(bundle.service_items)} service items")
    print(f"bundle {version} loaded ({summary})" if changed else f"bundle {version} unchanged ({summary})")
    for warning in bundle_warnings(bundle):
        print(f"centre: warning: {warning.message}", file=sys.stderr)
    return 0

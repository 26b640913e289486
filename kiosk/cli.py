"""The `kiosk` command: run, status, selftest, provision, sync, reset-store."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from kiosk.config import ConfigError, Settings, builtin_sim_settings, load_settings, with_overrides
from kiosk.identity import with_provisioned_identity
from kiosk.journald import syslog_priority, writes_to_journal
from kiosk.paths import state_dir_problem

DEFAULT_CONFIG = Path("/etc/kiosk/kiosk.toml")


class KeyValueFormatter(logging.Formatter):
    """One structured line per record on stdout: journald keeps it, grep and jq-less tools read it.
    With `priority_prefix` (stdout is the journal's stream) each line starts with its syslog
    priority, `<4>` for a warning, which journald stores as the entry's PRIORITY."""

    def __init__(self, priority_prefix: bool = False) -> None:
        super().__init__()
        self.priority_prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().replace("\n", " | ")
        line = f"level={record.levelname.lower()} logger={record.name} msg={json.dumps(message, ensure_ascii=False)}"
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info).replace("\n", " | "))
        if self.priority_prefix:
            line = f"<{syslog_priority(record.levelno)}>{line}"
        return line


def skip_optional_imports() -> None:
    """Keep pygame's optional extras out of the service process. pygame imports numpy (for
    surfarray) and pkg_resources (for its own data files) whenever they are installed; the kiosk
    uses neither, and together they cost about 25 MB of RSS and 0.2 s of start-up on a unit.
    pygame falls back cleanly when they are absent. Call before pygame is imported."""
    if "pygame" not in sys.modules:
        for optional in ("numpy", "pkg_resources"):
            sys.modules.setdefault(optional, None)  # type: ignore[arg-type]


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(KeyValueFormatter(priority_prefix=writes_to_journal(sys.stdout)))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help=f"unit configuration (default {DEFAULT_CONFIG})")
    parser.add_argument("--state-dir", type=Path, help="where the unit keeps its events, keys and caches")
    parser.add_argument("--sim", action="store_true", help="simulated devices (and the built-in sim config "
                        "when no --config is given)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Counter rating and queue unit.")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the unit")
    _common(run)
    run.add_argument("--listen", help="HOST:PORT for the local API (overrides the config)")

    status = commands.add_parser("status", help="what the unit is doing and whether its storage is healthy")
    _common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    selftest = commands.add_parser("selftest", help="check config, storage, display, font, keys and voice")
    _common(selftest)
    selftest.add_argument("--json", action="store_true", help="machine-readable output")

    provision = commands.add_parser(
        "provision", help="enrol this unit with the centre and write its config",
        description="Asks for whatever is not given as a flag (on a terminal only), checks each answer, "
                    "enrols the unit, then writes the config. The role and counter come from the centre "
                    "(`centre unit add` recorded them). The event store and its unsent events are kept.")
    _common(provision)
    provision.add_argument("--centre", help="the centre's URL, e.g. https://centre.example")
    provision.add_argument("--unit-id", help="the id given to `centre unit add`")
    provision.add_argument("--role", choices=["counter", "dispenser", "both"],
                           help="optional: confirms the centre's record (a disagreement enrols nothing)")
    provision.add_argument("--counter", help="optional: confirms the counter (window) the centre recorded")
    provision.add_argument("--token", help="one-time enrolment token from `centre unit add`")
    provision.add_argument("--ca-file", type=Path, help="CA bundle for the centre's TLS certificate")
    provision.add_argument("--config-out", type=Path,
                           help=f"where to write the config (default: --config, else {DEFAULT_CONFIG})")

    reset = commands.add_parser(
        "reset-store", help="start a new event stream when the store is broken (storage_corrupt)",
        description="For a unit whose event store is storage_corrupt: a database missing, emptied, older "
                    "than the unit had recorded, or whose hash chain breaks. Refuses while the service "
                    "runs and when the store is healthy. Sets the old files aside as "
                    "events.db.broken-<time> (nothing is deleted), creates a new store that records why "
                    "(in its meta, and in the log), and the unit then sends a new stream to the centre.")
    _common(reset)
    reset.add_argument("--yes", action="store_true", help="really do it (without: say what would be done)")
    reset.add_argument("--reason", help="why, in the technician's words (kept in the new store)")

    sync = commands.add_parser("sync", help="upload events to the centre")
    _common(sync)
    sync.add_argument("--once", action="store_true", required=True, help="one drain pass, then exit")
    return parser


def resolve_settings(args: argparse.Namespace, *, for_run: bool = False) -> Settings:
    """--config, else /etc/kiosk/kiosk.toml, else (with --sim or --state-dir) the built-in sim config;
    then the unit id, role and counter the centre enrolled the state dir's unit as (kiosk.identity)."""
    listen = getattr(args, "listen", None)
    if args.config is not None:
        settings = load_settings(args.config)
    elif not args.sim and DEFAULT_CONFIG.exists():
        settings = load_settings(DEFAULT_CONFIG)
    elif args.sim or args.state_dir is not None:
        state_dir = args.state_dir
        if state_dir is None:
            if not for_run:
                raise ConfigError("with the built-in sim config, say which unit: --state-dir DIR")
            state_dir = Path(tempfile.mkdtemp(prefix="kiosk-sim-"))
        settings = builtin_sim_settings(state_dir)
    else:
        raise ConfigError(f"{DEFAULT_CONFIG}: configuration file not found (use --config PATH, or "
                          "--sim --state-dir DIR for a sim unit)")
    settings = with_overrides(settings, state_dir=args.state_dir, listen=listen)
    if args.command == "provision":  # it is about to ask the centre who this unit is
        return settings
    settings, changed = with_provisioned_identity(settings)
    if changed and for_run:  # other commands print to stdout, where a log line would be in the way
        logging.getLogger("kiosk").info(changed)
    return settings


def _run(settings: Settings, *, sim: bool) -> int:
    skip_optional_imports()
    from kiosk.service.run import StartRefused, serve

    try:
        return asyncio.run(serve(settings, sim=sim))
    except StartRefused as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.command == "run":
        # Until serve() takes SIGTERM over, a stop during start-up unwinds like Ctrl-C: every
        # `finally` runs (the store closes, a sim run's temporary state dir is removed).
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.command == "provision" and not (args.sim and args.config is None and args.config_out is None):
        # Before resolve_settings: provisioning is how a unit gets its config in the first place.
        from kiosk.commands.provision import Answers, provision_interactive_command

        answers = Answers(centre_url=args.centre, unit_id=args.unit_id, role=args.role,
                          counter_id=args.counter, token=args.token, ca_file=args.ca_file)
        return provision_interactive_command(answers, config_in=args.config,
                                             config_out=args.config_out or args.config or DEFAULT_CONFIG,
                                             state_dir=args.state_dir)
    try:
        settings = resolve_settings(args, for_run=args.command == "run")
    except ConfigError as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return 2
    # (selftest reports it as its failed storage check, among the others)
    if args.command != "selftest" and (problem := state_dir_problem(settings.state_dir)) is not None:
        print(f"kiosk: {problem}", file=sys.stderr)
        return 2
    if args.sim:
        # Headless by default in sim mode; a developer can still set a real SDL driver.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if args.command == "run":
        # The built-in sim config's temporary state dir lives as long as this run.
        scratch = settings.state_dir if args.sim and args.config is None and args.state_dir is None else None
        try:
            return _run(settings, sim=args.sim)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
    if args.command == "provision":
        # A sim unit on the built-in config: enrol into its state dir only, no config file to write.
        from kiosk.commands.provision import provision_command

        if not args.token:
            print("kiosk provision: give the enrolment token with --token", file=sys.stderr)
            return 2
        return provision_command(settings, args.centre, args.unit_id, args.token, args.ca_file,
                                 role=args.role, counter_id=args.counter)
    if args.command == "status":
        from kiosk.commands.status import status_command

        return status_command(settings, as_json=args.json)
    if args.command == "selftest":
        from kiosk.commands.selftest import selftest_command

        return selftest_command(settings, sim=args.sim, as_json=args.json, config_path=args.config)
    if args.command == "reset-store":
        from kiosk.commands.reset_store import reset_store_command

        return reset_store_command(settings, yes=args.yes, reason=args.reason)
    if args.command == "sync":
        from kiosk.commands.sync import sync_once_command

        return sync_once_command(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())

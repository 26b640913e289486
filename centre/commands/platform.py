"""`centre platform send|status|resend`: the outbox for the 好差评 platform (centre/platform)."""
from __future__ import annotations

import argparse

from centre.commands.common import CommandError, database_options, open_database, print_json, time_zone_option
from centre.platform.mapping import CONFIG_ENV, PlatformConfig, PlatformConfigError, config_path, load_config
from centre.platform.outbox import outbox_status, resend
from centre.platform.worker import Forwarder, utcnow

STATUS_NAMES = {"pending": "待发送", "sent": "已发送", "merged": "随评价发送", "withheld": "不报送（已作废）",
                "dead": "发送失败"}


def config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform-config", metavar="FILE",
                        help=f"the 好差评 platform's settings (TOML; default: ${CONFIG_ENV}); "
                             "see centre/README.md")


def platform_config(given: str | None, *, required: bool) -> PlatformConfig | None:
    path = config_path(given)
    if path is None:
        if required:
            raise CommandError(f"no platform configuration: give --platform-config FILE or set ${CONFIG_ENV}")
        return None
    try:
        return load_config(path)
    except PlatformConfigError as exc:
        raise CommandError(f"platform configuration: {exc}") from exc


def register(subcommands) -> None:
    parser = subcommands.add_parser("platform", help="forwarding to the 好差评 platform",
                                    description="The outbox of ratings, reasons, rectifications and "
                                                "callbacks for the 好差评 platform.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    send = actions.add_parser("send", parents=[database_options()],
                              help="send what is due now, once (centre serve does it all the time)")
    config_option(send)
    time_zone_option(send)
    send.set_defaults(run=run_send)
    status = actions.add_parser("status", parents=[database_options()], help="pending, sent and failed records")
    status.add_argument("--json", action="store_true", help="as JSON")
    status.set_defaults(run=run_status)
    again = actions.add_parser("resend", parents=[database_options()],
                               help="send failed (or sent) records again, in their turn")
    again.add_argument("keys", nargs="*", metavar="KEY", help="records by key (the event_id)")
    again.add_argument("--dead", action="store_true", help="every failed (dead) record")
    again.set_defaults(run=run_resend)


def run_send(args: argparse.Namespace) -> int:
    import httpx

    config = platform_config(args.platform_config, required=True)
    with open_database(args) as db:
        with httpx.Client() as client:
            sent, failed = Forwarder(db, config, time_zone=args.time_zone).send_due(client)
        with db.connection() as connection:
            counts = outbox_status(connection)["counts"]
    print(f"sent {sent}, failed tries {failed}; pending {counts['pending']}, dead {counts['dead']}")
    return 0 if failed == 0 else 1


def run_status(args: argparse.Namespace) -> int:
    with open_database(args) as db, db.connection() as connection:
        status = outbox_status(connection)
    if args.json:
        print_json(status)
        return 0
    for name, count in status["counts"].items():
        print(f"{name:9} {count:8}  {STATUS_NAMES[name]}")
    if status["oldest_pending"]:
        print(f"oldest pending rated at {status['oldest_pending']}")
    for record in status["troubled"]:
        print(f"{record['status']:8} {record['key']} ({record['kind']}, {record['attempts']} tries): "
              f"{record['last_error']}")
    return 0


def run_resend(args: argparse.Namespace) -> int:
    if not args.keys and not args.dead:
        raise CommandError("name the records (KEY …) or give --dead")
    with open_database(args) as db, db.connection() as connection, connection.begin():
        count = resend(connection, utcnow(), keys=args.keys or None, dead=args.dead)
    print(f"{count} records to send again")
    return 0


def start_forwarder(db_url: str, given: str | None) -> Forwarder | None:
    """The worker `centre serve` runs on a thread of its own, when the platform is configured."""
    from centre.storage.db import Database

    config = platform_config(given, required=False)
    if config is None:
        print("centre: 好差评 platform forwarding off (no platform configuration; the outbox still fills)",
              flush=True)
        return None
    forwarder = Forwarder(Database(db_url), config)
    forwarder.start()
    print(f"centre: 好差评 platform forwarding to {config.url}", flush=True)
    return forwarder

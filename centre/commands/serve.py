"""`centre serve`: the HTTP server."""
from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os

from centre.commands.common import CommandError, database_options
from centre.commands.platform import config_option, start_forwarder
from centre.storage.db import DB_ENV, display_url, resolve_db_url

ADMIN_TOKEN_ENV = "CENTRE_ADMIN_TOKEN"
TRUSTED_PROXIES_ENV = "CENTRE_TRUSTED_PROXIES"
DEFAULT_LISTEN = "127.0.0.1:8800"
# uvicorn's C-accelerated HTTP parser and event loop (dependencies of the centre extra): with its
# pure-Python defaults (h11, asyncio) each upload cost the server ~1 ms more CPU. The parser's
# protocol is uvicorn's own with bounds on slow and endless request heads and on connections per
# client (centre.web.connections); idle connections close KEEP_ALIVE_S after an answer.
EVENT_LOOP = "uvloop"
KEEP_ALIVE_S = 5


def register(subcommands) -> None:
    parser = subcommands.add_parser("serve", parents=[database_options()], help="run the server",
                                    description="Run the centre's HTTP API (migrating the database first).")
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"address to listen on (default {DEFAULT_LISTEN})")
    parser.add_argument("--admin-token", metavar="TOKEN",
                        help=f"token for admin calls (default: ${ADMIN_TOKEN_ENV}); without one, "
                             "admin calls are refused")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument("--trusted-proxy", action="append", metavar="ADDRESS",
                        help="a reverse proxy's address or network (10.0.0.5, 10.0.0.0/24) whose "
                             "X-Forwarded-For and X-Forwarded-Proto are believed; repeatable "
                             f"(default: ${TRUSTED_PROXIES_ENV}, comma-separated). Without one "
                             "those headers are ignored, whoever sends them")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes (default 1). More let many units' uploads use more "
                             "CPU cores; for PostgreSQL (SQLite takes one write at a time anyway)")
    config_option(parser)
    parser.set_defaults(run=run)


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise CommandError(f"--listen wants HOST:PORT, e.g. {DEFAULT_LISTEN}; got {text!r}")
    return host.strip("[]"), int(port)  # [::1]:8800 → ::1


def trusted_proxies(given: list[str] | None) -> list[str]:
    """The proxies whose forwarded headers name the client: --trusted-proxy, else the variable.

    Only these: the login limit and the wrong-token limit count by the client's address, and a
    client that could name itself in X-Forwarded-For would never be counted."""
    texts = given if given is not None else [os.environ.get(TRUSTED_PROXIES_ENV, "")]
    proxies = [part.strip() for text in texts for part in text.split(",") if part.strip()]
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise CommandError("--trusted-proxy wants an IP address or network, e.g. 10.0.0.5 or "
                               f"10.0.0.0/24; got {proxy!r}") from None
    return proxies


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _freeze_startup_objects() -> None:
    """Keep what start-up made (modules, routes, models: ~140,000 objects) out of the garbage
    collector's full passes. Those otherwise scan it all every time, ~100 ms with every request
    waiting, which showed in the ingest benchmark's p99."""
    gc.collect()  # start-up's own garbage first: frozen objects are never collected
    gc.freeze()


def run(args: argparse.Namespace) -> int:
    # Imported here: the other subcommands need neither the web stack nor uvicorn.
    import uvicorn

    from centre.app import create_app
    from centre.web.connections import PROTOCOL_PATH

    _configure_logging()
    host, port = parse_listen(args.listen)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CommandError("--tls-cert and --tls-key go together")
    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    admin_token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV) or None
    proxies = trusted_proxies(args.trusted_proxy)
    db_url = resolve_db_url(args.db)
    # Made here even with --workers: the schema is migrated once, and a database that cannot be
    # opened is reported before any worker starts.
    app = create_app(db_url, admin_token)
    print(f"centre: database {display_url(db_url)}", flush=True)
    print(f"centre: admin calls {'enabled' if admin_token else 'disabled (no admin token)'}", flush=True)
    print(f"centre: X-Forwarded-For {'believed from ' + ', '.join(proxies) if proxies else 'ignored'}",
          flush=True)
    # One forwarder, in this process, whatever --workers says: it sends in rating order.
    forwarder = start_forwarder(db_url, args.platform_config)
    # uvicorn's ProxyHeadersMiddleware, on only for the proxies given: by default it believes the
    # headers from 127.0.0.1 (or $FORWARDED_ALLOW_IPS), so any local client could name any address.
    server_options = dict(host=host, port=port, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                          log_level="info", server_header=False, http=PROTOCOL_PATH, loop=EVENT_LOOP,
                          timeout_keep_alive=KEEP_ALIVE_S,
                          proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)
    try:
        return _serve(app, args, db_url, admin_token, server_options)
    finally:
        if forwarder is not None:
            forwarder.stop()


def _serve(app, args: argparse.Namespace, db_url: str, admin_token: str | None, server_options: dict) -> int:
    import uvicorn

    if args.workers == 1:
        _freeze_startup_objects()
        uvicorn.run(app, **server_options)
        return 0
    app.state.db.dispose()
    # uvicorn starts each worker process afresh from an import string; the workers take the
    # database and the admin token from the environment, as `centre serve` itself can.
    os.environ[DB_ENV] = db_url
    os.environ[ADMIN_TOKEN_ENV] = admin_token or ""
    print(f"centre: {args.workers} worker processes", flush=True)
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=args.workers,
                **server_options)
    return 0


def app_from_environment():
    """The app of one of `centre serve --workers N`'s processes (uvicorn calls this in each)."""
    from centre.app import create_app

    _configure_logging()
    app = create_app(resolve_db_url(None), os.environ.get(ADMIN_TOKEN_ENV) or None)
    _freeze_startup_objects()
    return app

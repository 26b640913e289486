"""Where a command finds the running service's local API (it owns the event store while it runs)."""
from __future__ import annotations

from kiosk.config import Settings, parse_listen
from kiosk.paths import api_url_file


def running_api_url(settings: Settings) -> str:
    """As the running service announced it in the state dir (it may run with --listen), else as
    configured; no trailing slash."""
    try:
        announced = api_url_file(settings.state_dir).read_text(encoding="ascii").strip()
    except OSError:
        announced = ""
    return announced.rstrip("/") or local_api_url(settings.api.listen)


def local_api_url(listen: str) -> str:
    host, port = parse_listen(listen)
    # A service listening on every address is reached on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"

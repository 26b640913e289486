"""A hall of sim units for the hall display and voice tests: the queue host (role both, counter 1)
on a fixed loopback port, so counters find it again after it restarts, and counters that call
through it."""
from __future__ import annotations

import socket
from pathlib import Path

from tests.support.paths import REPO

SIM_TOML = (REPO / "kiosk" / "defaults" / "sim.toml").read_text(encoding="utf-8")


def free_port() -> int:
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    return port


def unit_config(folder: Path, name: str, *, role: str = "both", counter: str = "1",
                host_listen: str | None = None, voice_lines: str = "") -> Path:
    """The built-in sim config as `name`: another role and counter, calling through the host at
    `host_listen`, with more [voice] settings."""
    text = SIM_TOML.replace('role = "both"', f'role = "{role}"').replace('counter_id = "1"',
                                                                        f'counter_id = "{counter}"')
    if host_listen is not None:
        text = text.replace("[queue]\n", f'[queue]\nhost_url = "http://{host_listen}"\nhost_token = "sim"\n'
                                         "host_timeout_s = 2\nhost_poll_s = 1\n")
    text = text.replace("[voice]\n", "[voice]\n" + voice_lines)
    path = Path(folder) / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def call_said(ticket: str, counter: str) -> list[str]:
    """The clips of one call, said twice."""
    from kiosk.queue.speech import call_clips

    return call_clips(ticket, counter) * 2

"""The sd_notify protocol, spoken directly: one datagram per message to $NOTIFY_SOCKET.

systemd starts `kiosk run` as Type=notify with WatchdogSec. The unit says READY=1 once its event
store, display and API are up (so `systemctl start` returns only when the unit can take a press),
and WATCHDOG=1 from a task on the service's own event loop: if the loop hangs (a blocking call, a
deadlock in a driver), the pings stop and systemd kills and restarts the process. A ping sent from
a separate thread would keep a hung loop alive, which is exactly what the watchdog is for.

Outside systemd (a developer's `kiosk run --sim`, the tests) NOTIFY_SOCKET is unset and every call
is a no-op. A failing send is logged and never stops the unit: systemd's own timeouts notice it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
# sd_watchdog_enabled(3) recommends pinging at half the interval; a third leaves room for one
# slow iteration of a loop that is busy but not hung.
PINGS_PER_INTERVAL = 3


def _socket_address(raw: str) -> str | bytes:
    # "@name" is a socket in Linux's abstract namespace: a leading NUL byte, no file.
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


class Notifier:
    """Sends sd_notify messages; does nothing when the process was not started by systemd."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        raw = environ.get(NOTIFY_SOCKET_ENV, "")
        self._address = _socket_address(raw) if raw else None
        self._sock: socket.socket | None = None
        self.watchdog_interval_s = _watchdog_interval(environ)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send one message ("READY=1", "STATUS=…"); True if it reached the socket."""
        if self._address is None:
            return False
        message = "\n".join(assignments).encode("utf-8")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # A full receive queue must not block the event loop; the message is dropped instead.
                self._sock.setblocking(False)
            self._sock.sendto(message, self._address)
        except OSError as error:
            log.warning("sd_notify %s failed: %s", assignments[0].split("=", 1)[0], error)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def ping_watchdog(self) -> None:
        """Run on the service's loop until cancelled: WATCHDOG=1 a few times per WatchdogSec."""
        if self.watchdog_interval_s is None or not self.enabled:
            return
        period = self.watchdog_interval_s / PINGS_PER_INTERVAL
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(period)


def _watchdog_interval(environ: dict[str, str]) -> float | None:
    """WatchdogSec in seconds when systemd asked this very process to ping, else None."""
    usec = environ.get(WATCHDOG_USEC_ENV, "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = environ.get(WATCHDOG_PID_ENV, "")
    # WATCHDOG_PID names the process systemd watches; a child that inherited the variables must not
    # ping on its parent's behalf.
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000

"""A staff card or barcode reader that "types" a staff ID, one line per card: read as a serial device
(most readers offer a USB CDC / virtual COM mode: /dev/ttyACM0, /dev/ttyUSB0) with pyserial.
A reader left in USB keyboard (HID) mode types into whatever has the keyboard: set it to its serial
mode, or it works only as a keyboard on the staff PC (where 工号 may be typed that way anyway).

Each line is stripped and handed over if it looks like a staff ID (1–32 letters, digits and
. _ : -); anything else (noise, a bank card's track data) is dropped and logged. Lines are bounded
(MAX_LINE bytes); the port is opened again every REOPEN_S while it is unplugged.
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from typing import Any, Protocol

import serial

log = logging.getLogger(__name__)

BadgeHandler = Callable[[str], None]
"""handler(staff_id), always on the asyncio loop's thread."""

STAFF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,31}")
MAX_LINE = 64
REOPEN_S = 5.0
READ_TIMEOUT_S = 0.5


class BadgeReader(Protocol):
    kind: str

    def start(self, handler: BadgeHandler) -> None:
        """Begin delivering staff IDs; the handler runs on the asyncio loop's thread."""

    def close(self) -> None:
        """Stop reading and release the device. Safe to call twice."""


def staff_id_of(line: bytes) -> str | None:
    text = line.decode("ascii", errors="replace").strip()
    return text if STAFF_ID.fullmatch(text) else None


class NoBadgeReader:
    kind = "none"

    def start(self, handler: BadgeHandler) -> None:
        pass

    def close(self) -> None:
        pass


class SimBadgeReader:
    """Cards swiped by code (tests, the sim). The caller is on the loop thread already."""

    kind = "sim"

    def __init__(self) -> None:
        self._handler: BadgeHandler | None = None

    def start(self, handler: BadgeHandler) -> None:
        self._handler = handler

    def swipe(self, text: str) -> None:
        staff_id = staff_id_of(text.encode("ascii", errors="replace"))
        if self._handler is not None and staff_id is not None:
            self._handler(staff_id)

    def close(self) -> None:
        self._handler = None


class SerialBadgeReader:
    """Lines from a serial port (a device path or a pyserial URL), read in a thread of its own."""

    kind = "serial"

    def __init__(self, port: str, baudrate: int, loop: asyncio.AbstractEventLoop,
                 open_port: Callable[..., Any] = serial.serial_for_url) -> None:
        self.port_name = port
        self._baudrate = baudrate
        self._loop = loop
        self._open_port = open_port
        self._handler: BadgeHandler | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.port: Any = None

    def start(self, handler: BadgeHandler) -> None:
        self._handler = handler
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="badge-reader", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        complained = False
        line, overlong = b"", False
        while not self._stopping.is_set():
            try:
                if self.port is None:
                    self.port = self._open_port(self.port_name, baudrate=self._baudrate, timeout=READ_TIMEOUT_S)
                    log.info("badge reader on %s", self.port_name)
                    complained = False
                line += self.port.read_until(b"\n", MAX_LINE - len(line))
            except (serial.SerialException, OSError, ValueError) as error:
                if not complained:
                    log.warning("badge reader %s unusable (%s); trying again every %.0f s", self.port_name,
                                error, REOPEN_S)
                    complained = True
                self._drop_port()
                line, overlong = b"", False
                self._stopping.wait(REOPEN_S)
                continue
            if line.endswith(b"\n"):
                if not overlong:
                    self._hand_over(line)
                line, overlong = b"", False
            elif len(line) >= MAX_LINE:   # no card types this much: drop it, up to its end
                if not overlong:
                    log.info("badge reader %s: a line over %d bytes ignored", self.port_name, MAX_LINE)
                line, overlong = b"", True

    def _hand_over(self, line: bytes) -> None:
        staff_id = staff_id_of(line)
        if staff_id is None:
            log.info("badge reader %s: a line that is no staff id (%d bytes) ignored", self.port_name, len(line))
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver, staff_id)
        except RuntimeError:
            log.debug("badge read while the event loop is closed; ignored")

    def _deliver(self, staff_id: str) -> None:
        if self._handler is not None:
            self._handler(staff_id)

    def _drop_port(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception:   # a port that went away may fail to close; it is gone either way
                pass

    def close(self) -> None:
        self._handler = None
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(READ_TIMEOUT_S * 4)
        self._thread = None
        self._drop_port()


def open_badge_reader(kind: str, port: str, baudrate: int, *, sim: bool,
                      loop: asyncio.AbstractEventLoop) -> BadgeReader:
    if sim:
        return SimBadgeReader()
    if kind == "serial":
        return SerialBadgeReader(port, baudrate, loop)
    return NoBadgeReader()

"""The thermal ticket printer (ESC/POS): python-escpos Usb, Serial or Network as the transport,
and a sim printer that keeps every byte.

Jobs arrive as finished ESC/POS bytes (`kiosk.tickets` encodes every string itself) and go out
with one raw write: python-escpos's text() guesses code pages and its status helpers call an
empty reply "paper present", so neither is used. Status is read with the real-time commands
DLE EOT 1 (printer) and DLE EOT 4 (roll paper sensor), and anything but a well-formed answer is
"unknown", which is never "ready".

Every call blocks (USB, serial and TCP I/O): the app runs them with asyncio.to_thread. One lock
per printer keeps a status poll from interleaving with a job on the same port.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from drivers.errors import DriverError

log = logging.getLogger(__name__)

DLE_EOT_PRINTER = b"\x10\x04\x01"
DLE_EOT_PAPER = b"\x10\x04\x04"
# In every DLE EOT reply bit 1 and bit 4 are set and bits 0 and 7 clear: a byte that does not
# look like that is not a status (line noise, a stale reply, another device).
_STATUS_FIXED_MASK, _STATUS_FIXED_BITS = 0x93, 0x12
_OFFLINE_BIT = 0x08
_PAPER_NEAR_END_BITS = 0x0C
_PAPER_END_BITS = 0x60

# Printer states; only READY and NEAR_END may print.
READY, NEAR_END, PAPER_OUT, OFFLINE, UNKNOWN, NO_PRINTER = (
    "ready", "near_end", "paper_out", "offline", "unknown", "no_printer")


class PrinterError(DriverError):
    """A job did not reach the printer completely."""


@dataclass(frozen=True)
class PrinterStatus:
    state: str
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.state in (READY, NEAR_END)

    @property
    def paper(self) -> str:
        """As `printer.status` reports it: ok, near_end, out, or unknown (no answer)."""
        return {READY: "ok", NEAR_END: "near_end", PAPER_OUT: "out"}.get(self.state, "unknown")

    @property
    def online(self) -> bool:
        return self.ready


class Printer(Protocol):
    kind: str

    def status(self) -> PrinterStatus:
        """Ask the printer now (blocking)."""

    def send(self, job: bytes) -> None:
        """Hand a whole job to the printer (blocking); PrinterError if it did not all go."""

    def close(self) -> None:
        """Release the port. Safe to call twice."""


def parse_printer_status(reply: bytes) -> bool | None:
    """DLE EOT 1 reply → online (True/False), or None when it is no status byte."""
    if len(reply) < 1 or reply[-1] & _STATUS_FIXED_MASK != _STATUS_FIXED_BITS:
        return None
    return not reply[-1] & _OFFLINE_BIT


def parse_paper_status(reply: bytes) -> str | None:
    """DLE EOT 4 reply → "ok", "near_end" or "out", or None when it is no status byte."""
    if len(reply) < 1 or reply[-1] & _STATUS_FIXED_MASK != _STATUS_FIXED_BITS:
        return None
    if reply[-1] & _PAPER_END_BITS:
        return "out"
    if reply[-1] & _PAPER_NEAR_END_BITS:
        return "near_end"
    return "ok"


def status_from_replies(online: bool | None, paper: str | None) -> PrinterStatus:
    if online is None or paper is None:
        return PrinterStatus(UNKNOWN, "no valid status reply")
    if paper == "out":  # checked first: most printers also go offline at paper end
        return PrinterStatus(PAPER_OUT)
    if not online:
        return PrinterStatus(OFFLINE, "the printer reports itself offline (cover open?)")
    return PrinterStatus(NEAR_END if paper == "near_end" else READY)


class EscposPrinter:
    """A real printer through one of python-escpos's transports (Usb, Serial, Network).

    The port is opened on first use and dropped after any error, so a printer that was unplugged
    and plugged back in is found again at the next status check."""

    def __init__(self, kind: str, make_device: Callable[[], Any], describe: str) -> None:
        self.kind = kind
        self._make_device = make_device
        self._describe = describe
        self._device: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._device is None:
            device = self._make_device()
            device.open()
            self._device = device
        return self._device

    def _drop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except Exception as error:  # closing a port that just failed may fail again
                log.debug("closing %s failed: %s", self._describe, error)

    def status(self) -> PrinterStatus:
        with self._lock:
            try:
                device = self._open()
            except Exception as error:  # python-escpos, pyusb, pyserial and socket each raise their own
                return PrinterStatus(OFFLINE, f"{self._describe}: {error}")
            try:
                online = parse_printer_status(bytes(device.query_status(DLE_EOT_PRINTER)))
                paper = parse_paper_status(bytes(device.query_status(DLE_EOT_PAPER)))
            except Exception as error:
                self._drop()
                return PrinterStatus(UNKNOWN, f"{self._describe}: status query failed: {error}")
            return status_from_replies(online, paper)

    def send(self, job: bytes) -> None:
        with self._lock:
            try:
                self._open()._raw(job)
            except Exception as error:
                self._drop()
                raise PrinterError(f"{self._describe}: {error}") from error

    def close(self) -> None:
        with self._lock:
            self._drop()


class SimPrinter:
    """Keeps every byte it is sent (the sim API's GET /v1/sim/printer, tests). Paper, online and
    a failure part-way through the next job are set by hand."""

    kind = "sim"

    def __init__(self) -> None:
        self.received = bytearray()
        self.paper = "ok"            # ok | near_end | out
        self.online = True
        self.answers = True          # False: the status query goes unanswered
        self.fail_after_bytes: int | None = None   # the next job breaks off after this many bytes
        self.jobs = 0
        self._lock = threading.Lock()

    def status(self) -> PrinterStatus:
        with self._lock:
            if not self.answers:
                return PrinterStatus(UNKNOWN, "sim: no answer")
            paper_bits = {"ok": 0x12, "near_end": 0x1E, "out": 0x72}[self.paper]
            online_bits = 0x12 if self.online and self.paper != "out" else 0x1A
            return status_from_replies(parse_printer_status(bytes([online_bits])),
                                       parse_paper_status(bytes([paper_bits])))

    def send(self, job: bytes) -> None:
        with self._lock:
            if not self.online or self.paper == "out":
                raise PrinterError("sim: printer not ready")
            if self.fail_after_bytes is not None:
                self.received += job[:self.fail_after_bytes]
                self.fail_after_bytes = None
                raise PrinterError("sim: connection lost part-way through the job")
            self.received += job
            self.jobs += 1

    def output(self) -> bytes:
        with self._lock:
            return bytes(self.received)

    def close(self) -> None:
        pass


class NoPrinter:
    """No printer configured: never ready, prints nothing."""

    kind = "none"

    def status(self) -> PrinterStatus:
        return PrinterStatus(NO_PRINTER, "printer.kind is none")

    def send(self, job: bytes) -> None:
        raise PrinterError("no printer is configured (printer.kind = none)")

    def close(self) -> None:
        pass


def open_printer(settings: Any, *, sim: bool) -> Printer:
    """The printer the config names (`kiosk.config.PrinterSettings`); sim mode simulates every
    printer the config has, and a unit configured without one has none in sim mode too (so a
    simulated counter is the real counter's size: no printer, no printing libraries).
    Nothing is opened here: a printer that is off at start-up is found at the first check."""
    if settings.kind == "none":
        return NoPrinter()
    if sim or settings.kind == "sim":
        return SimPrinter()
    profile = settings.profile
    if settings.kind == "usb":
        def make_usb() -> Any:
            from escpos.printer import Usb
            if not Usb.is_usable():   # checked first: without pyusb even its __del__ raises
                raise PrinterError("USB printing needs pyusb (pip install pyusb; apt-get install libusb-1.0-0)")
            return Usb(settings.vendor_id, settings.product_id, timeout=int(settings.timeout_s * 1000),
                       profile=profile)
        return EscposPrinter("usb", make_usb,
                             f"USB printer {settings.vendor_id:04x}:{settings.product_id:04x}")
    if settings.kind == "serial":
        def make_serial() -> Any:
            from escpos.printer import Serial

            class TimedSerial(Serial):
                def open(self, raise_not_found: bool = True) -> None:
                    super().open(raise_not_found)
                    # python-escpos sets only the read timeout; a port stalled by flow control
                    # would otherwise block a write, and the queue behind it, for ever.
                    self.device.write_timeout = settings.timeout_s
            return TimedSerial(settings.device, baudrate=settings.baudrate, timeout=settings.timeout_s,
                               profile=profile)
        return EscposPrinter("serial", make_serial, f"serial printer {settings.device}")
    if settings.kind == "network":
        def make_network() -> Any:
            from escpos.printer import Network
            return Network(settings.host, port=settings.port, timeout=settings.timeout_s, profile=profile)
        return EscposPrinter("network", make_network, f"network printer {settings.host}:{settings.port}")
    raise ValueError(f"unknown printer kind {settings.kind!r}")

"""The printer driver: DLE EOT replies read strictly (no answer is never "paper OK"), python-escpos
transports for real (Network against a fake printer on 127.0.0.1), the sim printer."""
from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest

from drivers.printer import (NEAR_END, NO_PRINTER, OFFLINE, PAPER_OUT, READY, UNKNOWN, EscposPrinter,
                             PrinterError, SimPrinter, open_printer, parse_paper_status,
                             parse_printer_status)

ONLINE, OFFLINE_BYTE, PAPER_OK, PAPER_LOW, PAPER_END = 0x12, 0x1A, 0x12, 0x1E, 0x72


@pytest.mark.parametrize("reply, online", [(bytes([ONLINE]), True), (bytes([OFFLINE_BYTE]), False),
                                           (b"", None), (b"\x00", None), (b"\xff", None)])
def test_printer_status_byte(reply, online):
    assert parse_printer_status(reply) is online


@pytest.mark.parametrize("reply, paper", [(bytes([PAPER_OK]), "ok"), (bytes([PAPER_LOW]), "near_end"),
                                          (bytes([PAPER_END]), "out"), (b"", None), (b"\x80", None)])
def test_paper_status_byte(reply, paper):
    assert parse_paper_status(reply) == paper


class FakeDevice:
    """Stands in for an escpos Usb/Serial object: answers DLE EOT queries from a script."""

    def __init__(self, replies: dict[bytes, bytes], fail_open: bool = False, fail_write: bool = False):
        self.replies, self.fail_open, self.fail_write = replies, fail_open, fail_write
        self.written = bytearray()
        self.opened = self.closed = 0

    def open(self):
        self.opened += 1
        if self.fail_open:
            raise OSError("No such device")

    def query_status(self, mode: bytes) -> bytes:
        if mode not in self.replies:
            raise TimeoutError("no answer")
        return self.replies[mode]

    def _raw(self, data: bytes) -> None:
        if self.fail_write:
            raise OSError("write failed")
        self.written += data

    def close(self):
        self.closed += 1


def printer_with(device: FakeDevice) -> EscposPrinter:
    return EscposPrinter("usb", lambda: device, "test printer")


@pytest.mark.parametrize("online, paper, state", [
    (ONLINE, PAPER_OK, READY), (ONLINE, PAPER_LOW, NEAR_END), (OFFLINE_BYTE, PAPER_END, PAPER_OUT),
    (OFFLINE_BYTE, PAPER_OK, OFFLINE)])
def test_status_from_real_time_replies(online, paper, state):
    device = FakeDevice({b"\x10\x04\x01": bytes([online]), b"\x10\x04\x04": bytes([paper])})
    status = printer_with(device).status()
    assert status.state == state
    assert status.ready == (state in (READY, NEAR_END))


def test_no_answer_or_garbage_is_unknown_never_ready():
    silent = printer_with(FakeDevice({}))
    assert silent.status().state == UNKNOWN and not silent.status().ready
    empty = printer_with(FakeDevice({b"\x10\x04\x01": b"", b"\x10\x04\x04": b""}))
    status = empty.status()
    assert status.state == UNKNOWN and status.paper == "unknown" and not status.online


def test_unopenable_printer_is_offline_and_found_again_later():
    device = FakeDevice({b"\x10\x04\x01": bytes([ONLINE]), b"\x10\x04\x04": bytes([PAPER_OK])}, fail_open=True)
    printer = printer_with(device)
    status = printer.status()
    assert status.state == OFFLINE and "No such device" in status.detail
    device.fail_open = False
    assert printer.status().state == READY


def test_failed_write_raises_and_reopens_next_time():
    device = FakeDevice({}, fail_write=True)
    printer = printer_with(device)
    with pytest.raises(PrinterError):
        printer.send(b"job")
    assert device.closed == 1
    device.fail_write = False
    printer.send(b"job")
    assert device.opened == 2 and bytes(device.written) == b"job"


class FakeNetworkPrinter:
    """A printer on 127.0.0.1: answers DLE EOT 1 and 4 (or stays silent) and keeps the job bytes."""

    def __init__(self, paper: int | None = PAPER_OK) -> None:
        self.paper = paper
        self.received = bytearray()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                while chunk := conn.recv(4096):
                    self.received += chunk
                    if self.paper is None:
                        continue
                    for query in (b"\x10\x04\x01", b"\x10\x04\x04"):
                        if chunk.endswith(query):
                            conn.sendall(bytes([ONLINE if query.endswith(b"\x01") else self.paper]))

    def close(self) -> None:
        self.server.close()


def network_settings(port: int, timeout_s: float = 2.0):
    return SimpleNamespace(kind="network", host="127.0.0.1", port=port, timeout_s=timeout_s, profile="default")


def test_python_escpos_network_transport_status_and_job():
    fake = FakeNetworkPrinter(paper=PAPER_LOW)
    printer = open_printer(network_settings(fake.port), sim=False)
    try:
        assert printer.status().state == NEAR_END
        printer.send(b"\x1b@hello\n")
        threading.Event().wait(0.2)
        assert fake.received.endswith(b"\x1b@hello\n")
    finally:
        printer.close()
        fake.close()


def test_network_printer_that_never_answers_is_unknown():
    fake = FakeNetworkPrinter(paper=None)
    printer = open_printer(network_settings(fake.port, timeout_s=0.3), sim=False)
    try:
        assert printer.status().state == UNKNOWN
    finally:
        printer.close()
        fake.close()


def test_network_printer_nobody_listens_on_is_offline():
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    printer = open_printer(network_settings(port, timeout_s=0.5), sim=False)
    assert printer.status().state == OFFLINE


def test_usb_and_serial_without_the_device_are_offline_not_a_crash():
    usb = open_printer(SimpleNamespace(kind="usb", vendor_id=0x0416, product_id=0x5011, timeout_s=0.5,
                                       profile="default"), sim=False)
    assert usb.status().state == OFFLINE
    serial = open_printer(SimpleNamespace(kind="serial", device="/dev/nonexistent-printer", baudrate=9600,
                                          timeout_s=0.5, profile="default"), sim=False)
    status = serial.status()
    assert status.state == OFFLINE and "nonexistent-printer" in status.detail
    with pytest.raises(PrinterError):
        serial.send(b"x")


def test_no_printer_and_sim_mode():
    assert open_printer(SimpleNamespace(kind="none"), sim=False).status().state == NO_PRINTER
    assert isinstance(open_printer(SimpleNamespace(kind="usb"), sim=True), SimPrinter)


def test_sim_printer_keeps_bytes_and_fails_as_told():
    printer = SimPrinter()
    printer.send(b"one")
    printer.fail_after_bytes = 2
    with pytest.raises(PrinterError):
        printer.send(b"two")
    assert printer.output() == b"onetw"
    printer.paper = "near_end"
    assert printer.status().state == NEAR_END and printer.status().ready
    printer.paper = "out"
    assert printer.status().state == PAPER_OUT
    with pytest.raises(PrinterError):
        printer.send(b"three")
    printer.paper, printer.answers = "ok", False
    assert printer.status().state == UNKNOWN

"""Every slip the sim printer was sent, one by one: its bytes decoded as they come (only the new
ones each time), cut where the printer cuts, and drawn as an image when the panel asks for it.

A job that broke off part-way (the sim printer's `fail_after_bytes`) cannot be read to its end:
its bytes become one slip marked as broken, and reading starts again at the next job's start
(ESC @ then FS &, as every job the unit sends begins).
"""
from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers.display import encode_png
from kiosk.simpanel.escpos import Cut, Line, Printout, decode
from kiosk.tickets.layouts import DOTS_PER_LINE

if TYPE_CHECKING:   # the painter pulls in qrcode: loaded when a slip is first drawn, not at start
    from kiosk.simpanel.receipts import ReceiptPainter

JOB_START = b"\x1b@\x1c&"     # ESC @ (initialise), FS & (Chinese mode): the head of every job
SLIPS_KEPT = 40               # the panel lists the latest; the printer's bytes keep them all
PNGS_KEPT = 16
BROKEN_TEXT = "（打印中断：这张没有打完）"


@dataclass(frozen=True)
class Slip:
    id: int
    printout: Printout
    text: str          # what it is, in a few words: the alt text of its image
    broken: bool = False


def _describe(printout: Printout) -> str:
    """The slip's largest line (a ticket's number, a notice's title), else its first."""
    lines = [line for line in printout.lines if line.text.strip()]
    if not lines:
        return "空白"
    largest = max(lines, key=lambda line: line.width * line.height)
    return " ".join(largest.text.split())


def _pieces(printout: Printout) -> list[Printout]:
    """A printout's slips: what lies between one cut and the next, each with its cut."""
    slips, items = [], []
    for item in printout.items:
        items.append(item)
        if isinstance(item, Cut):
            slips.append(Printout(items=items, chinese_mode=printout.chinese_mode))
            items = []
    return slips


class PrintedSlips:
    def __init__(self, printer: Any, paper_width_mm: int, encoding: str) -> None:
        self._printer = printer
        self._dots = DOTS_PER_LINE[paper_width_mm]
        self._encoding = encoding
        self._read_to = 0           # bytes read into slips so far
        self._seen = 0              # printer bytes when last looked at
        self._next_id = 1
        self.slips: deque[Slip] = deque(maxlen=SLIPS_KEPT)
        self._pngs: OrderedDict[int, bytes] = OrderedDict()
        self._painter: ReceiptPainter | None = None
        self._paint_lock = threading.Lock()   # images are drawn in worker threads, one at a time

    def update(self) -> None:
        """Read what the printer was sent since the last look (cheap when nothing was)."""
        if len(self._printer.received) == self._seen:
            return
        data = self._printer.output()
        self._seen = len(data)
        while self._read_to < len(data):
            try:
                printout = decode(data[self._read_to:], self._encoding)
            except ValueError:
                # Something in the rest does not read: the job from here to the next job's start
                # alone, if one has come (else it is unfinished: wait for the rest).
                following = data.find(JOB_START, self._read_to + 1)
                if following < 0:
                    return
                self._read_job(data[self._read_to:following])
                self._read_to = following
                continue
            if not printout.cut_ends:
                return                # no cut yet
            self._add_pieces(printout)
            self._read_to += printout.cut_ends[-1]

    def _read_job(self, job: bytes) -> None:
        try:
            printout = decode(job, self._encoding)
        except ValueError:
            printout = None
        if printout is not None and printout.cut_ends:
            self._add_pieces(printout)
            return
        try:   # what the broken job printed before it broke off, as far as it reads
            printout = decode(job[:job.rfind(b"\n") + 1], self._encoding)
        except ValueError:
            printout = Printout()
        printout.items.append(Line(BROKEN_TEXT, "center", 1, 1, True))
        self._add(printout, BROKEN_TEXT, broken=True)

    def _add_pieces(self, printout: Printout) -> None:
        for piece in _pieces(printout):
            self._add(piece, _describe(piece))

    def _add(self, printout: Printout, text: str, *, broken: bool = False) -> None:
        self.slips.append(Slip(self._next_id, printout, text, broken))
        self._next_id += 1

    def listing(self) -> list[dict[str, Any]]:
        self.update()
        return [{"id": slip.id, "text": slip.text, "broken": slip.broken} for slip in self.slips]

    def png(self, slip_id: int) -> bytes | None:
        """The slip drawn at the paper's width (blocking: call it in a worker thread); None for a
        slip no longer kept."""
        slip = next((slip for slip in self.slips if slip.id == slip_id), None)
        if slip is None:
            return None
        with self._paint_lock:
            if slip_id in self._pngs:
                self._pngs.move_to_end(slip_id)
                return self._pngs[slip_id]
            if self._painter is None:
                from kiosk.simpanel.receipts import ReceiptPainter

                self._painter = ReceiptPainter(self._dots)
            image = encode_png(self._painter.paint(slip.printout))
            self._pngs[slip_id] = image
            while len(self._pngs) > PNGS_KEPT:
                self._pngs.popitem(last=False)
            return image

"""What a job looks like on paper: decoded ESC/POS drawn at the printer's dot width (384 dots for
58 mm, 576 for 80 mm), font A cells of 12 x 24 dots, GS ! multipliers, bold, alignment, the QR
code module by module. The sim panel shows every slip the sim printer was sent this way; the
tests and docs/printing/*.png use it too:

    python -m kiosk.simpanel.receipts --out docs/printing
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pygame
import pygame.freetype
import qrcode

from kiosk.screens.fonts import find_cjk_font
from kiosk.tickets.layouts import DOTS_PER_LINE, HALF_WIDTH_DOTS, display_columns
from kiosk.simpanel.escpos import Cut, Feed, Line, Printout, QrCode, Raster, decode

CELL_HEIGHT = 24      # font A, one line at 1x
LINE_PITCH = 30       # ESC/POS default line spacing (1/6 inch at 180 dpi ≈ 30 dots)
MARGIN = 8
PAPER, INK, CUT_MARK = (255, 255, 255), (20, 20, 20), (150, 150, 150)


class ReceiptPainter:
    def __init__(self, dots: int) -> None:
        pygame.freetype.init()
        path, index = find_cjk_font()
        self.dots = dots
        self._font = pygame.freetype.Font(str(path), size=CELL_HEIGHT, font_index=index)

    def _line_surface(self, line: Line) -> pygame.Surface:
        height = CELL_HEIGHT * line.height
        cell_width = HALF_WIDTH_DOTS * line.width
        surface = pygame.Surface((max(1, display_columns(line.text) * cell_width), LINE_PITCH * line.height))
        surface.fill(PAPER)
        x = 0
        style = pygame.freetype.STYLE_STRONG if line.bold else pygame.freetype.STYLE_DEFAULT
        baseline = round(LINE_PITCH * line.height * 0.82)
        stretch = line.width / line.height
        # Each character in its own cell, as a thermal printer lays out a fixed-pitch font.
        for char in line.text:
            columns = display_columns(char)
            if char != " ":
                glyph, ink = self._font.render(char, INK, PAPER, style=style, size=height)
                width = min(columns * cell_width, max(1, round(glyph.get_width() * stretch)))
                scaled = pygame.transform.smoothscale(glyph, (width, glyph.get_height()))
                surface.blit(scaled, (x + (columns * cell_width - width) // 2, baseline - ink.y))
            x += columns * cell_width
        return surface

    @staticmethod
    def _qr_surface(code: QrCode) -> pygame.Surface:
        matrix = qrcode.QRCode(border=0, error_correction={
            "L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
            "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}[code.ec])
        matrix.add_data(code.data)
        matrix.make(fit=True)
        modules = matrix.get_matrix()
        size = len(modules) * code.module
        surface = pygame.Surface((size, size))
        surface.fill(PAPER)
        for row, cells in enumerate(modules):
            for column, dark in enumerate(cells):
                if dark:
                    surface.fill(INK, (column * code.module, row * code.module, code.module, code.module))
        return surface

    @staticmethod
    def _raster_surface(raster: Raster) -> pygame.Surface:
        surface = pygame.Surface((raster.width_dots, raster.height_dots))
        surface.fill(PAPER)
        row_bytes = raster.width_dots // 8
        for row in range(raster.height_dots):
            for column in range(raster.width_dots):
                if raster.bits[row * row_bytes + column // 8] & (0x80 >> column % 8):
                    surface.set_at((column, row), INK)
        return surface

    def paint(self, printout: Printout) -> pygame.Surface:
        pieces: list[tuple[pygame.Surface | None, str]] = []
        for item in printout.items:
            if isinstance(item, Line):
                pieces.append((self._line_surface(item), item.align))
            elif isinstance(item, QrCode):
                pieces.append((self._qr_surface(item), item.align))
            elif isinstance(item, Raster):
                pieces.append((self._raster_surface(item), item.align))
            elif isinstance(item, Feed):
                blank = pygame.Surface((1, LINE_PITCH * item.lines))
                blank.fill(PAPER)
                pieces.append((blank, "left"))
            elif isinstance(item, Cut):
                pieces.append((None, "cut"))
        height = sum(12 if piece is None else piece.get_height() for piece, _ in pieces) + 2 * MARGIN
        paper = pygame.Surface((self.dots, height))
        paper.fill(PAPER)
        top = MARGIN
        for piece, align in pieces:
            if piece is None:   # the cut: a dashed line across the paper
                for x in range(0, self.dots, 12):
                    paper.fill(CUT_MARK, (x, top + 5, 6, 2))
                top += 12
                continue
            left = {"left": 0, "center": (self.dots - piece.get_width()) // 2,
                    "right": self.dots - piece.get_width()}[align]
            paper.blit(piece, (max(0, left), top))
            top += piece.get_height()
        return paper


def render_png(job: bytes, paper_width_mm: int, target: Path, encoding: str = "gb18030") -> pygame.Surface:
    surface = ReceiptPainter(DOTS_PER_LINE[paper_width_mm]).paint(decode(job, encoding))
    target.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surface, str(target))
    return surface


def sample_jobs() -> dict[str, tuple[bytes, int]]:
    """The documentation's samples: name → (job, paper width)."""
    from kiosk.tickets.service_items import shipped_service_items
    from kiosk.tickets.layouts import NoticeText, PrintSetup, TicketText, notice_job, ticket_job

    ticket = TicketText("B013", "提取", False, "2026-11-23T09:14:03.512+08:00", 12, 36, False,
                        "https://gjj.example.gov.cn/queue?ticket=B013&date=2026-11-23")
    item = shipped_service_items()["TQ01"]
    notice = NoticeText(item.code, item.name, item.category, item.time_limit, item.materials, "3",
                        "2026-11-23", item.steps, "张敏", "1001")
    jobs = {}
    for width in (58, 80):
        setup = PrintSetup(paper_width_mm=width, centre_name="市住房公积金管理中心")
        jobs[f"ticket-{width}mm"] = (ticket_job(setup, ticket), width)
    surge = TicketText("V002", "绿色通道", True, "2026-11-23T10:02:41.100+08:00", 41, 47, True,
                       "https://gjj.example.gov.cn/queue?ticket=V002&date=2026-11-23")
    jobs["ticket-surge-priority-80mm"] = (ticket_job(PrintSetup(centre_name="市住房公积金管理中心"), surge), 80)
    jobs["notice-80mm"] = (notice_job(PrintSetup(centre_name="市住房公积金管理中心"), notice, 2), 80)
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.simpanel.receipts",
                                     description="Draw sample tickets and notices as printed.")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    for name, (job, width) in sample_jobs().items():
        target = args.out / f"{name}.png"
        render_png(job, width, target)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

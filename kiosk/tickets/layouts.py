"""Ticket and 一次性告知清单 layouts, turned into the ESC/POS bytes of one print job (pure).

What python-escpos 3.1 really sends decides how this is built (shared/PRINTING.md):
- Text: every string is encoded here (GB18030 unless configured otherwise) and sent raw, with
  the printer put in Chinese mode (FS &) at the start of the job; the library's text() would
  pick a Western code page for any line without Hanzi and print （：） as "?".
- Size: GS ! enlarges Chinese and Latin alike; ESC ! (the library's set()) enlarges only Latin.
- QR: python-escpos's native qr() (GS ( k, model 2) without its missing alignment and line feed,
  both added here; a profile without native QR gets the library's raster image instead.
- Cut: sent here (feed, then GS V 0), because the library's cut() sends no cut at all for
  profiles that do not declare a cutter, and a ticket must come off the roll either way.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

ESC, GS, FS, LF = b"\x1b", b"\x1d", b"\x1c", b"\n"
INIT = ESC + b"@"
CHINESE_MODE_ON = FS + b"&"
BOLD = {True: ESC + b"E\x01", False: ESC + b"E\x00"}
ALIGN = {"left": ESC + b"a\x00", "center": ESC + b"a\x01", "right": ESC + b"a\x02"}
FULL_CUT = GS + b"V\x00"
CUT_FEED_LINES = 6          # the cutter sits a few lines above the print head

DOTS_PER_LINE = {58: 384, 80: 576}   # printable width at 203 dpi
HALF_WIDTH_DOTS = 12                 # font A: Latin 12 x 24 dots, Chinese 24 x 24
_NO_LINE_START = set("、，。：；！？）》」』】,.;:!?)")

# C0 controls and DEL: the spacing ones print as a space, the rest as "?" (like unencodable text).
_CONTROL_CHARACTERS = {code: " " if chr(code) in "\t\n\v\f\r" else "?" for code in (*range(0x20), 0x7F)}

COMPLAINT_LABEL = "投诉电话"
STAFF_ID_LABEL = "工号"
SIGNATURE_LINE = "申请人签字：__________"


def display_columns(text: str) -> int:
    """Width in half-width columns: a Chinese character (wide or fullwidth) takes two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def wrap(text: str, columns: int) -> list[str]:
    """Greedy lines of at most `columns`; closing punctuation never starts a line."""
    lines: list[str] = []
    line, width = "", 0
    for char in text:
        char_width = display_columns(char)
        if width + char_width > columns and line:
            if char in _NO_LINE_START and len(line) > 1:
                line, carried = line[:-1], line[-1]
                lines.append(line)
                line, width = carried, display_columns(carried)
            else:
                lines.append(line)
                line, width = "", 0
        line += char
        width += char_width
    if line or not lines:
        lines.append(line)
    return lines


class Receipt:
    """One print job's bytes, built line by line."""

    def __init__(self, paper_width_mm: int, encoding: str = "gb18030", profile: str = "default") -> None:
        self.dots = DOTS_PER_LINE[paper_width_mm]
        self.columns = self.dots // HALF_WIDTH_DOTS
        self.encoding = encoding
        self._profile = profile
        self._out = bytearray(INIT + CHINESE_MODE_ON)

    def encode(self, text: str) -> bytes:
        # A character the printer's character set lacks prints as "?" rather than failing the job.
        # Control characters never go out raw: names and materials come from the centre's bundle,
        # and an ESC or GS in them would be a printer command (a cut, a size), a LF a stray line.
        return text.translate(_CONTROL_CHARACTERS).encode(self.encoding, errors="replace")

    def line(self, text: str, *, align: str = "left", scale: int = 1, bold: bool = False) -> "Receipt":
        """One paragraph, wrapped to the paper at this scale (GS ! width and height)."""
        self._out += ALIGN[align] + GS + b"!" + bytes([(scale - 1) << 4 | (scale - 1)]) + BOLD[bold]
        for part in wrap(text, self.columns // scale):
            self._out += self.encode(part) + LF
        self._out += GS + b"!\x00" + BOLD[False]
        return self

    def heading(self, text: str, *, scale: int, bold: bool = True) -> "Receipt":
        """A centred line at the largest scale up to `scale` that keeps it on one line (a name
        broken before its last two characters reads worse than a smaller one)."""
        while scale > 1 and display_columns(text) * scale > self.columns:
            scale -= 1
        return self.line(text, align="center", scale=scale, bold=bold)

    def item(self, marker: str, text: str) -> "Receipt":
        """A numbered or bulleted paragraph whose continuation lines hang under its text."""
        indent = display_columns(marker)
        self._out += ALIGN["left"]
        for index, part in enumerate(wrap(text, self.columns - indent)):
            self._out += self.encode((marker if index == 0 else " " * indent) + part) + LF
        return self

    def rule(self) -> "Receipt":
        self._out += ALIGN["left"] + self.encode("-" * self.columns) + LF
        return self

    def feed(self, lines: int = 1) -> "Receipt":
        self._out += ESC + b"d" + bytes([lines])
        return self

    def qr(self, data: str, module_dots: int) -> "Receipt":
        from escpos.printer import Dummy

        code = Dummy(profile=self._profile)
        if code.profile.supports("qrCode"):
            code.qr(data, native=True, size=module_dots)
        else:
            # The library's qr(native=False) would also send text("\n"), which selects a code
            # page (ESC t) behind our back; the raster image alone is what the printer needs.
            import qrcode

            matrix = qrcode.QRCode(box_size=module_dots, border=1,
                                   error_correction=qrcode.constants.ERROR_CORRECT_L)
            matrix.add_data(data)
            matrix.make(fit=True)
            code.image(matrix.make_image().get_image().convert("RGB"))
        # A line fed before and after keeps the code's quiet zone clear of the text around it.
        self._out += ESC + b"d\x01" + ALIGN["center"] + code.output + LF + ALIGN["left"]
        return self

    def cut(self) -> "Receipt":
        self._out += ESC + b"d" + bytes([CUT_FEED_LINES]) + FULL_CUT
        return self

    def bytes(self) -> bytes:
        return bytes(self._out)


@dataclass(frozen=True)
class PrintSetup:
    """What every layout needs from the unit's config."""
    paper_width_mm: int = 80
    encoding: str = "gb18030"
    profile: str = "default"
    centre_name: str = "住房公积金管理中心"
    complaint_phone: str = "12329"

    def receipt(self) -> Receipt:
        return Receipt(self.paper_width_mm, self.encoding, self.profile)

    @property
    def wide(self) -> bool:
        return self.paper_width_mm >= 80


@dataclass(frozen=True)
class TicketText:
    ticket: str
    category_name: str
    priority: bool
    issued_at: str          # RFC 3339 wall time of ticket.issued
    waiting_ahead: int
    wait_min: int
    surge: bool
    qr_url: str = ""        # empty: no QR code
    reprint: bool = False


def ticket_job(setup: PrintSetup, ticket: TicketText) -> bytes:
    """Centre name, category, the large number, time, waiting ahead and estimated wait, a surge
    notice, the QR code, 投诉电话, cut."""
    job = setup.receipt()
    job.heading(setup.centre_name, scale=2)
    job.heading(f"{ticket.category_name}业务" if not ticket.priority else ticket.category_name,
                scale=2, bold=False)
    if ticket.priority:
        job.line("优先办理", align="center", bold=True)
    job.heading(ticket.ticket, scale=5 if setup.wide else 4)
    job.line(f"取号时间 {ticket.issued_at[:10]} {ticket.issued_at[11:16]}", align="center")
    if ticket.waiting_ahead:
        job.line(f"您前面还有 {ticket.waiting_ahead} 人等候", align="center", bold=True)
        job.line(f"预计等候约 {max(1, ticket.wait_min)} 分钟", align="center")
    else:
        job.line("您前面无人等候，请留意叫号", align="center", bold=True)
    if ticket.surge:
        job.line("当前办理人数较多，等候时间较长，请耐心等候", align="center", bold=True)
    if ticket.reprint:
        job.line("（补打）", align="center")
    job.rule()
    if ticket.qr_url:
        job.qr(ticket.qr_url, 6 if setup.wide else 5)
        job.line("扫码查看排队进度", align="center")
    job.line("请留意叫号，过号需重新取号", align="center")
    job.line(f"{COMPLAINT_LABEL} {setup.complaint_phone}", align="center")
    return job.cut().bytes()


@dataclass(frozen=True)
class NoticeText:
    code: str
    name: str
    category: str
    time_limit: str
    materials: Sequence[str]
    counter_id: str
    date: str               # YYYY-MM-DD
    steps: Sequence[str] = ()   # the procedure (办理流程), in order
    staff_name: str = ""        # who handed it over (经办人) and their 工号
    staff_id: str = ""


NOTICE_TITLE = "一次性告知清单"
COPY_LABELS = ("申请人留存联", "窗口留存联")


def notice_job(setup: PrintSetup, notice: NoticeText, copies: int) -> bytes:
    """The 一次性告知清单 for a service item: materials, procedure, time limit, and who handed it
    over; with two copies the second is the counter's, with the citizen's signature line. Each
    copy is cut on its own."""
    job = setup.receipt()
    for copy in range(copies):
        kept = copies > 1 and copy == copies - 1
        job.heading(NOTICE_TITLE, scale=2)
        job.line(setup.centre_name, align="center")
        if copies > 1:
            job.line(f"（{COPY_LABELS[1] if kept else COPY_LABELS[0]}）", align="center")
        job.rule()
        job.line(f"办理事项：{notice.name}", bold=True)
        if notice.category:
            job.line(f"业务类别：{notice.category}")
        job.line(f"承诺时限：{notice.time_limit or '以窗口告知为准'}", bold=True)
        job.line(f"需提交材料（共 {len(notice.materials)} 项）：")
        for number, material in enumerate(notice.materials, start=1):
            job.item(f"{number}. ", material)
        if notice.steps:
            job.line("办理流程：", bold=True)
            for number, step in enumerate(notice.steps, start=1):
                job.item(f"第{number}步 ", step)
        else:
            job.line("办理流程：以窗口告知为准", bold=True)
        job.rule()
        job.line(f"告知窗口：{notice.counter_id}号窗口")
        if notice.staff_id:
            job.line(f"经办人：{notice.staff_name or notice.staff_id}  {STAFF_ID_LABEL}：{notice.staff_id}")
        job.line(f"告知日期：{notice.date}")
        job.line("材料齐全、符合规定的，窗口按承诺时限办结；如有疑问请咨询窗口工作人员。")
        job.line(f"{COMPLAINT_LABEL} {setup.complaint_phone}")
        if kept:
            job.feed(1)
            job.line("本人已收到上述一次性告知内容。")
            job.feed(1)
            job.line(SIGNATURE_LINE)
            job.line("日期：____年__月__日")
        job.cut()
    return job.bytes()

"""Ticket and 一次性告知清单 jobs, decoded back from their bytes: the text (GB18030 unless
configured), GS ! sizes, the QR command and its alignment, the cut, for both paper widths."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pygame
import pytest

from kiosk.tickets.service_items import shipped_service_items
from kiosk.tickets.layouts import (DOTS_PER_LINE, HALF_WIDTH_DOTS, NoticeText, PrintSetup, TicketText,
                           display_columns, notice_job, ticket_job, wrap)
from kiosk.simpanel.escpos import Cut, Feed, QrCode, Raster, decode
from kiosk.simpanel.receipts import render_png

from tests.support.paths import REPO  # noqa: E402
QR_URL = "https://gjj.example.gov.cn/queue?ticket=B013&date=2026-11-23"
TICKET = TicketText("B013", "提取", False, "2026-11-23T09:14:03.512+08:00", 12, 36, False, QR_URL)


def setup(width: int = 80, **overrides) -> PrintSetup:
    return PrintSetup(paper_width_mm=width, centre_name="市住房公积金管理中心", **overrides)


def assert_fits_paper(printout, width: int) -> None:
    columns = DOTS_PER_LINE[width] // HALF_WIDTH_DOTS
    for line in printout.lines:
        assert display_columns(line.text) * line.width <= columns, f"{line.text!r} overflows {width} mm"


@pytest.mark.parametrize("width, number_scale, module", [(58, 4, 5), (80, 5, 6)])
def test_ticket_content_qr_and_cut(width, number_scale, module):
    job = ticket_job(setup(width), TICKET)
    printout = decode(job)
    assert job.startswith(b"\x1b@\x1c&"), "every job starts clean and in Chinese mode"
    assert printout.chinese_mode and printout.inits == 1
    centre = printout.line_with("住房公积金管理中心")
    assert centre.align == "center" and centre.bold
    assert printout.line_with("提取业务").width == 2
    number = printout.line_with("B013")
    assert (number.text, number.width, number.height, number.bold, number.align) == \
        ("B013", number_scale, number_scale, True, "center")
    assert "取号时间 2026-11-23 09:14" in printout.texts
    assert "您前面还有 12 人等候" in printout.texts
    assert "预计等候约 36 分钟" in printout.texts
    assert "投诉电话 12329" in printout.texts
    assert not any("人数较多" in text for text in printout.texts)
    [qr] = printout.of_kind(QrCode)
    assert (qr.data, qr.module, qr.ec, qr.model, qr.align) == (QR_URL, module, "L", 2, "center")
    # The QR code comes after the times and before the complaint line, and a line feed follows it.
    items = printout.items
    assert items.index(printout.line_with("预计等候")) < items.index(qr) < items.index(
        printout.line_with("投诉电话"))
    assert items[-2:] == [Feed(6), Cut("full")]
    assert_fits_paper(printout, width)


def test_surge_priority_and_reprint_are_said_on_the_ticket():
    ticket = TicketText("V002", "绿色通道", True, "2026-11-23T10:02:41.100+08:00", 41, 47, True, QR_URL,
                        reprint=True)
    printout = decode(ticket_job(setup(58), ticket))
    assert printout.line_with("当前办理人数较多").bold
    assert "绿色通道" in printout.texts and "优先办理" in printout.texts
    assert "（补打）" in printout.texts
    assert_fits_paper(printout, 58)


def test_nobody_ahead_and_no_qr_when_no_template():
    ticket = TicketText("A001", "缴存", False, "2026-11-23T08:30:00.000+08:00", 0, 0, False, "")
    printout = decode(ticket_job(setup(), ticket))
    assert "您前面无人等候，请留意叫号" in printout.texts
    assert not printout.of_kind(QrCode) and not printout.of_kind(Raster)


def test_long_centre_name_shrinks_instead_of_breaking():
    printout = decode(ticket_job(PrintSetup(58, centre_name="某某市住房公积金管理中心营业部"), TICKET))
    heading = printout.line_with("营业部")
    assert heading.width == 1 and "住房公积金" in heading.text
    assert_fits_paper(printout, 58)


def test_text_is_encoded_as_configured_never_guessed():
    gb_job = ticket_job(setup(), TICKET)
    assert "提取业务".encode("gb18030") in gb_job
    big5_job = ticket_job(setup(encoding="big5"), TICKET)
    assert "提取".encode("big5") in big5_job and "提取".encode("gb18030") not in big5_job
    # Big5 has no simplified 业务: asked for Big5, the printer gets Big5 and two question marks.
    assert "提取??" in decode(big5_job, "big5").texts


def test_characters_outside_the_encoding_print_as_question_marks():
    ticket = TicketText("A001", "缴存😀", False, "2026-11-23T08:30:00.000+08:00", 0, 0, False, "")
    assert "缴存?业务" in decode(ticket_job(setup(encoding="gb2312"), ticket), "gb2312").texts


def test_profile_without_native_qr_gets_an_image_aligned_by_us():
    printout = decode(ticket_job(setup(58, profile="POS-5890"), TICKET))
    assert not printout.of_kind(QrCode)
    [image] = printout.of_kind(Raster)
    assert image.align == "center" and image.width_dots <= DOTS_PER_LINE[58]


def test_wrap_keeps_width_and_punctuation_rules():
    lines = wrap("住房公积金提取申请表（加盖单位公章），及其他材料。", 10)
    assert all(display_columns(line) <= 10 for line in lines)
    assert not any(line[0] in "，。）" for line in lines)
    assert "".join(lines) == "住房公积金提取申请表（加盖单位公章），及其他材料。"


def notice_items(printout, marker: str = r"\d+\. ", section: str = "需提交材料") -> list[str]:
    """The numbered paragraphs of a section (materials, or the 办理流程's steps), continuation
    lines joined back on, for every copy."""
    items: list[str] = []
    inside = False
    for text in printout.texts:
        if text.startswith(("需提交材料", "办理流程", "---")):
            inside = text.startswith(section)
        elif inside and (head := re.match(marker, text)):
            items.append(text[head.end():])
        elif inside and items and text.startswith("  "):
            items[-1] += text.strip()
    return items


def step_items(printout) -> list[str]:
    return notice_items(printout, marker=r"第\d+步 ", section="办理流程")


@pytest.mark.parametrize("width", [58, 80])
def test_notice_lists_every_material_and_the_kept_copy_has_a_signature_line(width):
    item = shipped_service_items()["DK01"]
    notice = NoticeText(item.code, item.name, item.category, item.time_limit, item.materials, "3",
                        "2026-11-23", item.steps, "张敏", "1001")
    printout = decode(notice_job(setup(width), notice, copies=2))
    assert step_items(printout) == list(item.steps) * 2 and len(item.steps) >= 3
    assert printout.texts.count("经办人：张敏  工号：1001") == 2
    assert printout.of_kind(Cut) == [Cut("full"), Cut("full")]
    text = "".join(printout.texts)
    assert item.name in text.replace(" ", "")
    assert "承诺时限：1个工作日" in printout.texts
    assert "告知窗口：3号窗口" in printout.texts and "告知日期：2026-11-23" in printout.texts
    assert notice_items(printout) == list(item.materials) * 2
    assert printout.texts.count("（申请人留存联）") == 1 and printout.texts.count("（窗口留存联）") == 1
    # The signature line is on the second (kept) copy only.
    first_cut = printout.items.index(Cut("full"))
    signature = printout.items.index(printout.line_with("申请人签字"))
    assert signature > first_cut
    assert_fits_paper(printout, width)


def test_single_copy_notice_has_no_signature_line():
    item = shipped_service_items()["ZX01"]
    notice = NoticeText(item.code, item.name, item.category, item.time_limit, item.materials, "1", "2026-11-23")
    printout = decode(notice_job(setup(), notice, copies=1))
    assert printout.of_kind(Cut) == [Cut("full")]
    assert not any("签字" in text for text in printout.texts)
    # An item without a procedure says where to get it; no staff given, no 经办人 line.
    assert "办理流程：以窗口告知为准" in printout.texts
    assert not any(text.startswith("经办人") for text in printout.texts)


def test_every_shipped_item_has_its_procedure():
    assert all(len(item.steps) >= 3 and all(item.steps) for item in shipped_service_items().values())


def test_shipped_service_items_are_the_sample_bundles():
    bundle = tomllib.loads((REPO / "config" / "bundle.toml").read_text(encoding="utf-8"))
    shipped = shipped_service_items()
    assert [item["code"] for item in bundle["service_items"]] == list(shipped)
    for raw in bundle["service_items"]:
        item = shipped[raw["code"]]
        assert (item.name, item.category, item.time_limit, list(item.materials)) == \
            (raw["name"], raw["category"], raw["time_limit"], raw["materials"])
        assert item.materials


@pytest.mark.parametrize("width", [58, 80])
def test_preview_is_drawn_at_the_printers_dot_width(tmp_path, width):
    surface = render_png(ticket_job(setup(width), TICKET), width, tmp_path / "ticket.png")
    assert surface.get_width() == DOTS_PER_LINE[width]
    assert pygame.image.load(str(tmp_path / "ticket.png")).get_size() == surface.get_size()

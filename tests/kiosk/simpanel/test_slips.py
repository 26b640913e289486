"""Every slip the sim printer was sent, split where the printer cuts and drawn at the paper's width:
tickets and each copy of a notice, a job that broke off part-way, only the new bytes read each time,
and the speech log as sentences."""
from __future__ import annotations

import io

import pygame

from drivers.printer import SimPrinter
from kiosk.queue.speech import call_clips, ticket_clips
from kiosk.simpanel.panel import speech_lines
from kiosk.simpanel.receipts import sample_jobs
from kiosk.simpanel.slips import BROKEN_TEXT, PrintedSlips


def jobs() -> dict[str, bytes]:
    return {name: job for name, (job, width) in sample_jobs().items() if width == 80}


def test_tickets_and_each_copy_of_a_notice_are_slips_of_their_own():
    printer, sample = SimPrinter(), jobs()
    slips = PrintedSlips(printer, 80, "gb18030")
    assert slips.listing() == []
    printer.send(sample["ticket-80mm"])
    printer.send(sample["notice-80mm"])          # two copies, each cut
    listed = slips.listing()
    assert [(slip["id"], slip["broken"]) for slip in listed] == [(1, False), (2, False), (3, False)]
    assert listed[0]["text"] == "B013" and listed[1]["text"] == listed[2]["text"] == "一次性告知清单"
    printer.send(sample["ticket-surge-priority-80mm"])
    assert [slip["text"] for slip in slips.listing()][-1] == "V002"   # only the new bytes: one more
    image = pygame.image.load(io.BytesIO(slips.png(1)), "slip.png")
    assert image.get_width() == 576                                  # 80 mm paper: 576 dots
    assert slips.png(99) is None


def test_a_job_that_broke_off_is_one_broken_slip_and_the_next_job_reads_again():
    printer, sample = SimPrinter(), jobs()
    slips = PrintedSlips(printer, 80, "gb18030")
    printer.fail_after_bytes = 200
    try:
        printer.send(sample["ticket-80mm"])
    except Exception:
        pass
    assert slips.listing() == []                 # it may yet be finished: nothing to show
    printer.send(sample["ticket-surge-priority-80mm"])
    listed = slips.listing()
    assert [(slip["text"], slip["broken"]) for slip in listed] == [(BROKEN_TEXT, True), ("V002", False)]
    assert slips.png(listed[0]["id"]).startswith(b"\x89PNG")


def test_the_speech_log_is_what_a_person_heard():
    said = ticket_clips("B001", 12) + call_clips("B001", "3") * 2 + ["rate_prompt", "thanks"]
    assert speech_lines(said) == ["您的号码是B001号，前面还有十二人等候，请取走号票，留意叫号",
                                  "请B001号到3号窗口", "请B001号到3号窗口", "请您对本次服务进行评价", "感谢您的评价"]

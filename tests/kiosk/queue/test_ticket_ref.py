"""Each ticket carries an unguessable reference (issue 18, item 1): in its `ticket.issued`, on the
ticket folded back from the log, and in the QR as the centre's page of the ticket."""
from __future__ import annotations

import re
from pathlib import Path

from kiosk.config import PrinterSettings
from kiosk.queue.machine import new_ticket_ref
from kiosk.tickets.position_link import PositionLink

REF = re.compile(r"[A-Za-z0-9_-]{22}")


def test_references_are_128_random_bits_in_url_safe_characters():
    refs = {new_ticket_ref() for _ in range(1000)}
    assert len(refs) == 1000 and all(REF.fullmatch(ref) for ref in refs)


def test_the_qr_is_the_centres_page_of_the_ticket(tmp_path: Path):
    plain = PrinterSettings()
    assert PositionLink(plain, tmp_path, "u1").url("A001", "A", "2026-12-02", "r" * 22) == ""   # nowhere to point
    public = PrinterSettings(position_url="https://gjj.example.gov.cn/", qr_url="https://old/{ticket}")
    link = PositionLink(public, tmp_path, "u1")
    assert link.url("A001", "A", "2026-12-02", "r" * 22) == f"https://gjj.example.gov.cn/t/{'r' * 22}"
    assert link.url("A001", "A", "2026-12-02", "") == "https://old/A001"   # a ticket from before references
    own = PrinterSettings(position_url="https://gjj.example.gov.cn", qr_url="https://hall/q/{ref}?n={ticket}")
    assert PositionLink(own, tmp_path, "u1").url("A001", "A", "2026-12-02", "xyz") == "https://hall/q/xyz?n=A001"
    assert PositionLink(own, tmp_path, "u1").url("A001", "A", "2026-12-02", "") == ""


def test_ticket_issued_carries_a_new_reference_and_the_ticket_keeps_it():
    from tests.kiosk.queue.test_machine import Hall, rules

    hall = Hall(rules())
    first, second = hall.issue("A"), hall.issue("A")
    refs = [data["ref"] for event_type, data, _wall in hall.log if event_type == "ticket.issued"]
    assert len(set(refs)) == 2 and all(REF.fullmatch(ref) for ref in refs)
    assert [hall.machine.ticket(number, hall.wall()).ref for number in (first, second)] == refs
    given = hall.machine.decide_issue("B", hall.wall(), ref="given-ref-0123456789")
    assert given.events[0][1]["ref"] == "given-ref-0123456789"


def test_the_public_address_must_be_a_web_address():
    import pytest
    from pydantic import ValidationError

    for wrong in ("ftp://gjj.example.gov.cn", "gjj.example.gov.cn", "https://x/?a=1", "https:// x"):
        with pytest.raises(ValidationError):
            PrinterSettings(position_url=wrong)
    assert PrinterSettings(position_url="https://gjj.example.gov.cn/hall").position_url
    assert PrinterSettings(qr_url="https://x/{ref}").qr_url

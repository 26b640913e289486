"""The sim panel in a real headless Chromium (Debian's /usr/bin/chromium through Playwright) against
a real `kiosk run --sim`, driven by the accessible names DESIGN pins (评价键1…5, 取号键1…5) and the
switches' names, with the mouse and with the keyboard (1–5, F1–F5); every press checked in the
unit's event log; the slips drawn, the speech said, the screen following. A screenshot at a laptop's
size (docs/sim/ with SAVE_SCREENSHOTS=1)."""
from __future__ import annotations

import pytest

from tests.kiosk.simpanel.test_panel import without_lockout
from tests.kiosk.hall.test_hall_browser import new_page
from tests.support.chromium import browser, needs_chromium, screenshots_dir  # noqa: F401  (browser: a fixture)
from tests.support.paths import REPO
from tests.support.sim_unit import SimUnit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


@pytest.fixture
def page(browser):
    return new_page(browser, 1366, 768)


def events_after(unit: SimUnit, seq: int) -> list[dict]:
    return [event for event in unit.events() if event["seq"] > seq]


def last_seq(unit: SimUnit) -> int:
    return unit.events()[-1]["seq"]


def wait_for_event(page, event_type: str) -> None:
    """The panel's own event log shows it (the newest is on top)."""
    page.wait_for_function(f"document.querySelector('#events li .type')?.textContent === '{event_type}'")


def test_a_person_drives_the_unit_from_the_panel(tmp_path, page):
    screenshots = screenshots_dir(REPO / "docs" / "sim", tmp_path)
    unit = SimUnit(tmp_path / "sim", config=without_lockout(tmp_path)).start()
    try:
        assert unit.output[0].startswith(f"sim panel: {unit.url}/sim/")   # the first thing it says
        elsewhere: list[str] = []
        page.on("request", lambda request: request.url.startswith((unit.url, "data:")) or elsewhere.append(request.url))
        page.goto(f"{unit.url}/sim/")
        button = page.get_by_role("button", name="取号键2", exact=True)
        button.wait_for()

        # A ticket with the mouse: the event, the slip drawn from the printer's bytes, the voice.
        seq = last_seq(unit)
        button.click()
        wait_for_event(page, "ticket.issued")
        issued = [e["data"] for e in events_after(unit, seq) if e["type"] == "ticket.issued"]
        assert [(d["ticket"], d["category"]) for d in issued] == [("B001", "B")]
        slip = page.get_by_role("img", name="第 1 张：B001")
        slip.wait_for()
        page.wait_for_function("[...document.images].every(image => image.complete)")
        assert slip.evaluate("image => image.naturalWidth") == 576
        page.get_by_text("您的号码是B001号，前面无人等候，请取走号票，留意叫号").wait_for()

        # Ratings from the keys, by name and from the keyboard.
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        unit.post("/v1/queue/call-next")
        page.get_by_text("请B001号到1号窗口").first.wait_for()
        for press, level in ((lambda: page.get_by_role("button", name="评价键1", exact=True).click(), 5),
                             (lambda: page.keyboard.press("4"), 2)):
            unit.post("/v1/transactions/complete", {})
            page.get_by_text("请您对本次服务进行评价").first.wait_for()
            seq = last_seq(unit)
            press()
            wait_for_event(page, "rating.submitted")
            rated = [e["data"]["level"] for e in events_after(unit, seq) if e["type"] == "rating.submitted"]
            assert rated == [level]
        page.wait_for_function("document.getElementById('screen').src.includes('v=')")

        # F3: a ticket of the third category (F keys are the dispenser's here, not the browser's).
        seq = last_seq(unit)
        page.keyboard.press("F3")
        wait_for_event(page, "ticket.issued")
        assert [e["data"]["ticket"] for e in events_after(unit, seq) if e["type"] == "ticket.issued"] == ["C001"]

        # The switches: paper out, then off line; a ticket key then uses no number.
        for switch, why in ((lambda: page.get_by_role("radio", name="缺纸").check(), "paper_out"),
                            (lambda: page.get_by_role("switch", name="打印机离线").check(), "offline")):
            page.get_by_role("radio", name="纸正常").check()
            page.get_by_role("switch", name="打印机离线").uncheck()
            switch()
            page.wait_for_timeout(300)
            seq = last_seq(unit)
            page.get_by_role("button", name="取号键5", exact=True).click()
            wait_for_event(page, "ticket.print_failed")
            failed = [e["data"] for e in events_after(unit, seq) if e["type"] == "ticket.print_failed"]
            assert [(d["category"], d["why"]) for d in failed] == [("V", why)]
            assert not [e for e in events_after(unit, seq) if e["type"] == "ticket.issued"]
        page.get_by_role("switch", name="打印机离线").uncheck()
        page.get_by_role("radio", name="纸正常").check()
        unit.post("/v1/notices/print", {"service_item": "TQ01"})
        page.get_by_role("img", name="第 3 张：一次性告知清单").wait_for()
        page.wait_for_function("[...document.images].every(image => image.complete)")
        page.wait_for_timeout(300)
        page.screenshot(path=screenshots / "panel-1366x768.png")
        assert elsewhere == [], f"the page fetched from elsewhere: {elsewhere}"
    finally:
        unit.kill()

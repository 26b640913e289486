"""End to end (issue 18, items 1 and 2), through real processes on 127.0.0.1: a sim unit provisioned to a
real `centre serve` prints a ticket whose QR (decoded from the printer's bytes) is the centre's
page of the ticket; a real Chromium on a 360×740 phone screen follows it through waiting, called
and done, then takes one rating (and a 差评's reason) and refuses a second. With SAVE_SCREENSHOTS=1 the screenshots refresh docs/phone/."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from kiosk.simpanel.escpos import QrCode, decode
from tests.centre.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.centre.process import CentreProcess, add_unit
from tests.support.sim_unit import SimUnit, wait_until

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "phone"
ADMIN = "phone-admin"
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"),
]


def kiosk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=120, stdin=subprocess.DEVNULL)


def test_a_printed_tickets_qr_opens_its_position_page_on_a_phone(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    state = tmp_path / "hall1"
    token = add_unit(db_url, "hall1", role="both", counter="3")
    shots = tmp_path / "shots"
    shots.mkdir()
    with CentreProcess(db_url, ADMIN) as centre:
        done = kiosk("provision", "--sim", "--state-dir", str(state), "--centre", centre.url,
                     "--unit-id", "hall1", f"--token={token}")
        assert done.returncode == 0, done.stdout + done.stderr
        unit = SimUnit(state).start()
        try:
            for _ in range(2):
                assert unit.post("/v1/tickets", {"category": "A"}).status_code == 200
            [_first, qr] = [item.data for item in decode(unit.get("/v1/sim/printer").content).of_kind(QrCode)]
            match = re.fullmatch(re.escape(centre.url) + r"/t/([A-Za-z0-9_-]{22})", qr)
            assert match, qr
            issued = [e for e in unit.events() if e["type"] == "ticket.issued"]
            assert issued[-1]["data"]["ref"] == match.group(1)
            # A reprint carries the same page.
            assert unit.post("/v1/tickets/reprint", {"ticket": "A002"}).status_code == 200
            assert decode(unit.get("/v1/sim/printer").content).of_kind(QrCode)[-1].data == qr

            def page_text() -> str:
                return httpx.get(qr, timeout=10).text

            wait_until(lambda: "A002" in page_text(), timeout=30)
            with sync_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    phone = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                             locale="zh-CN", timezone_id="Asia/Shanghai", is_mobile=True)
                    outside: list[str] = []
                    phone.on("request", lambda request: None if request.url.startswith(centre.url)
                             else outside.append(request.url))
                    phone.goto(qr)
                    assert phone.get_by_text("前面还有").is_visible()
                    assert phone.locator(".number").inner_text() == "A002"
                    assert phone.evaluate("document.documentElement.scrollWidth") <= 360   # no sideways scrolling
                    phone.screenshot(path=str(shots / "waiting.png"), full_page=True)

                    assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
                    assert unit.post("/v1/queue/call-next").json()["ticket"] == "A001"
                    assert unit.post("/v1/transactions/complete", {"ticket": "A001"}).status_code == 200
                    assert unit.post("/v1/queue/call-next").json()["ticket"] == "A002"
                    wait_until(lambda: "请到3号窗口" in page_text(), timeout=30)
                    phone.reload()
                    assert phone.get_by_text("请到3号窗口").is_visible()
                    phone.screenshot(path=str(shots / "called.png"), full_page=True)

                    assert unit.post("/v1/transactions/complete", {"ticket": "A002"}).status_code == 200
                    wait_until(lambda: "业务已办结" in page_text(), timeout=30)
                    phone.reload()
                    assert phone.get_by_text("业务已办结").is_visible()
                    phone.screenshot(path=str(shots / "done.png"), full_page=True)

                    # Not rated at the counter: the page takes one rating, and after a 差评 its reason.
                    token = phone.locator("input[name=token]").get_attribute("value")
                    phone.get_by_role("button", name="不满意", exact=True).click()
                    phone.wait_for_url(qr)
                    assert phone.get_by_text("请选择不满意的原因").is_visible()
                    phone.screenshot(path=str(shots / "reasons.png"), full_page=True)
                    phone.get_by_role("button", name="其他", exact=True).click()
                    phone.wait_for_url(qr)
                    assert phone.get_by_text("感谢您的评价：不满意").is_visible()
                    assert phone.get_by_role("button").count() == 0
                    # A second rating with the token of the form as first shown: refused.
                    second = httpx.post(f"{qr}/rating", data={"token": token, "level": "5"}, timeout=10)
                    assert second.status_code == 409 and "本次业务已评价" in second.text
                    assert outside == []
                finally:
                    browser.close()
        finally:
            unit.stop()
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for shot in shots.iterdir():
            shutil.copy(shot, DOCS_SCREENSHOTS / shot.name)

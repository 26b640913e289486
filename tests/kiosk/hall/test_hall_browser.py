"""The hall display in a real headless Chromium (Debian's /usr/bin/chromium through Playwright)
against a real `kiosk run --sim` queue host: the serving numbers and their windows, a new call shown
and highlighted, nothing fetched from anywhere but the host, and the page finding the host again by
itself after it was killed and restarted. Screenshots at 1920×1080 and 1280×720 (docs/hall/ with
SAVE_SCREENSHOTS=1)."""
from __future__ import annotations

import pytest

from tests.kiosk.hall.halls import free_port
from tests.kiosk.hall.test_board import cache_bundle
from tests.support.chromium import browser, needs_chromium, screenshots_dir  # noqa: F401  (browser: a fixture)
from tests.support.paths import REPO
from tests.support.sim_unit import SimUnit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


def new_page(browser, width: int, height: int):
    # bypass_csp: Playwright's waits evaluate strings, which the page's own policy forbids.
    return browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN",
                            timezone_id="Asia/Shanghai", bypass_csp=True)


def call(unit: SimUnit, counter: str) -> str:
    answer = unit.post("/v1/queue/call-next", {"counter_id": counter, "staff_id": "1002"})
    assert answer.status_code == 200, answer.text
    return answer.json()["ticket"]


def serving_rows(page) -> list[str]:
    return page.locator("#serving li").evaluate_all("rows => rows.map(row => row.getAttribute('aria-label'))")


def test_the_hall_page_shows_each_call_and_recovers_after_the_host_restarts(tmp_path, browser):
    screenshots = screenshots_dir(REPO / "docs" / "hall", tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    state = tmp_path / "host"
    cache_bundle(state, announcements=[{"text": "本周六上午正常办理提取业务，请携带身份证原件。"}])
    host = SimUnit(state, listen=listen).start()
    try:
        for category in "AAAAABBBCCDV":
            host.post("/v1/tickets", {"category": category})
        called = {counter: call(host, counter) for counter in ("2", "3", "5", "7", "12")}

        for width, height in ((1920, 1080), (1280, 720)):
            page = new_page(browser, width, height)
            elsewhere: list[str] = []
            page.on("request", lambda request: request.url.startswith((host.url, "data:"))
                    or elsewhere.append(request.url))
            page.goto(f"{host.url}/hall/")
            page.wait_for_function(f"document.querySelectorAll('#serving li').length === {len(called)}")
            assert serving_rows(page) == [f"{called[c]} 到 {c}号窗口" for c in sorted(called, key=int)]
            assert page.locator("#announcements").is_visible()
            assert page.locator("#call").is_hidden()      # what was called before the page opened is no news
            page.screenshot(path=screenshots / f"hall-{width}x{height}.png")
            if width == 1920:
                ticket = called["8"] = call(host, "8")
                page.wait_for_function(f"document.getElementById('call-ticket').textContent === '{ticket}'")
                assert page.locator("#call").is_visible()
                assert page.locator("#serving li.fresh").get_attribute("aria-label") == f"{ticket} 到 8号窗口"
                page.wait_for_timeout(400)
                page.screenshot(path=screenshots / f"hall-{width}x{height}-call.png")
                assert page.locator("#serving li").count() == 6
            assert elsewhere == [], f"the page fetched from elsewhere: {elsewhere}"
            if width == 1280:
                # kill -9, then the host comes back on its port: the page finds it by itself.
                host.kill()
                page.wait_for_selector("#link:not([hidden])", timeout=30_000)
                host = SimUnit(state, listen=listen).start()
                ticket = call(host, "9")
                page.wait_for_function(
                    f"[...document.querySelectorAll('#serving li')].some(row => row.getAttribute('aria-label') "
                    f"=== '{ticket} 到 9号窗口')", timeout=30_000)
                page.wait_for_function(f"document.getElementById('call-ticket').textContent === '{ticket}'")
                page.wait_for_selector("#link", state="hidden")
            page.close()
        called_at = [e["data"]["counter_id"] for e in host.events() if e["type"] == "ticket.called"]
        assert called_at == ["2", "3", "5", "7", "12", "8", "9"]   # the log: every call, once
    finally:
        host.kill()

"""The staff console driven in a real headless Chromium (Debian's /usr/bin/chromium through
Playwright) against a real `kiosk run --sim`, by the accessible names DESIGN.md pins: a staff member
signs in with the PIN, calls, recalls, transfers, marks a no-show, completes, pauses and resumes,
prints a 一次性告知清单 and signs out; the event log has each of it. The page follows the unit within
the stream's wake-up (a ticket taken at the dispenser, a citizen's press), and says so when the
unit, or the queue host a counter calls through, stops answering. Screenshots at 1024×600 and
1366×768 (docs/console/ with SAVE_SCREENSHOTS=1)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.kiosk.console.console_unit import SIM_PIN, free_port, sim_config
from tests.support.chromium import browser, needs_chromium, screenshots_dir  # noqa: F401  (browser: a fixture)
from tests.support.sim_unit import SimUnit, wait_until

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
SIZES = {"small": {"width": 1024, "height": 600}, "pc": {"width": 1366, "height": 768}}
BUTTONS = ("呼叫下一位", "重呼", "过号", "转移", "办结", "暂停服务", "打印告知单", "签退")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


def new_page(browser, size: str):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def button(page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def sign_in(page, url: str, staff_id: str = "1001", pin: str = SIM_PIN) -> None:
    page.goto(f"{url}/console/")
    page.get_by_label("工号", exact=True).fill(staff_id)
    page.get_by_label("密码", exact=True).fill(pin)
    button(page, "登录").click()


def expect_text(page, selector: str, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_text(text)


def test_a_staff_member_works_the_counter_from_the_console(tmp_path, browser):
    from playwright.sync_api import expect

    shots = screenshots_dir(DOCS_SCREENSHOTS, tmp_path)
    unit = SimUnit(tmp_path / "unit").start()
    try:
        page = new_page(browser, "small")
        failed = []
        # A stream the page closes (signing out) ends as "aborted"; anything else failing is a broken asset.
        page.on("requestfailed", lambda request: request.url.endswith("/api/stream") or failed.append(request.url))
        page.goto(f"{unit.url}/console/")
        expect(page.get_by_label("工号", exact=True)).to_be_focused()
        page.screenshot(path=shots / "signin-1024x600.png")

        sign_in(page, unit.url, pin="000000")
        expect(page.locator("#signin-error")).to_have_text("工号或密码错误，还可尝试 4 次")
        sign_in(page, unit.url)
        expect(button(page, "呼叫下一位")).to_be_visible()
        for name in BUTTONS:
            expect(button(page, name)).to_be_visible()
        expect(button(page, "恢复服务")).to_be_hidden()
        expect(page.locator("#who")).to_have_text("张敏（工号 1001）")

        # Tickets taken at the dispenser show in the waiting counts by themselves.
        for letter in "AABV":
            assert unit.post("/v1/tickets", json={"category": letter}).status_code == 200
        expect(page.locator("#waiting-total")).to_have_text("共 4 人")
        expect(page.get_by_label("缴存 2 人")).to_be_visible()

        button(page, "呼叫下一位").click()
        expect_text(page, "#serving-ticket", "V001")            # 绿色通道 first
        expect(page.locator("#toast")).to_have_text("V001 已呼叫")
        button(page, "重呼").click()
        expect(page.locator("#toast")).to_have_text("V001 已重呼")
        button(page, "转移").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        page.get_by_label("转到窗口（窗口号）").fill("2")
        page.get_by_role("dialog").screenshot(path=shots / "transfer-dialog.png")
        button(page, "转到该窗口").click()
        expect(page.get_by_role("dialog")).to_be_hidden()
        expect(page.locator("#toast")).to_have_text("V001 已转至2号窗口")
        expect_text(page, "#serving-ticket", "—")

        page.keyboard.press("1")                                 # 呼叫下一位 by its key
        expect_text(page, "#serving-ticket", "A001")
        button(page, "过号").click()
        expect(page.locator("#toast")).to_have_text("A001 已过号")
        button(page, "呼叫下一位").click()
        expect_text(page, "#serving-ticket", "A002")
        button(page, "转移").click()
        button(page, "转到咨询").click()
        expect(page.locator("#toast")).to_have_text("A002 已转至咨询")

        button(page, "呼叫下一位").click()
        expect(page.locator("#serving-ticket")).not_to_have_text("—")
        serving = page.locator("#serving-ticket").inner_text()
        button(page, "办结").click()
        expect(page.locator("#last-citizen")).to_have_text(f"评价中（{serving}）")
        unit.press(5)                                            # 非常不满意: the console says only that it was rated
        expect(page.locator("#last-citizen")).to_have_text(f"已评价（{serving}）")
        body = page.locator("body").inner_text()
        assert "不满意" not in body and "差评" not in body
        page.screenshot(path=shots / "desk-1024x600.png")

        button(page, "暂停服务").click()
        page.get_by_label("开会").check()
        page.get_by_role("dialog").screenshot(path=shots / "pause-dialog.png")
        button(page, "确定暂停").click()
        expect(page.locator("#counter-state")).to_have_text("暂停服务（开会）")
        expect(button(page, "暂停服务")).to_be_hidden()
        page.screenshot(path=shots / "paused-1024x600.png")
        button(page, "恢复服务").click()
        expect(button(page, "暂停服务")).to_be_visible()

        button(page, "打印告知单").click()
        expect(page.get_by_role("button", name=re.compile(r"^JC01 "))).to_be_visible()   # every item at first
        page.get_by_label("事项编码或名称").fill("提取")
        expect(page.get_by_role("button", name=re.compile(r"^JC01 "))).to_have_count(0)
        item = page.get_by_role("button", name=re.compile(r"^TQ01 "))
        expect(item).to_be_visible()
        page.get_by_role("dialog").screenshot(path=shots / "notice-dialog.png")
        item.click()
        expect(page.locator("#toast")).to_contain_text("一次性告知单 2 份")

        button(page, "签退").click()
        expect(button(page, "登录")).to_be_visible()
        expect(page.locator("#signin-note")).to_have_text("已签退")
        assert failed == []

        kinds = [event["type"] for event in unit.events()]
        staff_work = [kind for kind in kinds if kind.startswith(("staff.", "counter.", "transaction.", "notice."))
                      or kind in ("ticket.called", "ticket.recalled", "ticket.transferred", "ticket.no_show")]
        assert staff_work == ["staff.signed_in", "ticket.called", "ticket.recalled", "ticket.transferred",
                              "ticket.called", "ticket.no_show", "ticket.called", "ticket.transferred",
                              "ticket.called", "transaction.completed", "counter.paused", "counter.resumed",
                              "notice.printed", "staff.signed_out"]
        assert [e["data"]["reason"] for e in unit.events() if e["type"] == "counter.paused"] == ["meeting"]
        assert "rating.submitted" in kinds

        # On a staff PC, and when the unit stops answering.
        wide = new_page(browser, "pc")
        sign_in(wide, unit.url)
        expect(button(wide, "呼叫下一位")).to_be_visible()
        button(wide, "呼叫下一位").click()
        expect_text(wide, "#serving-ticket", "B001")
        wide.screenshot(path=shots / "desk-1366x768.png")
        unit.kill()
        expect(wide.locator("#alerts")).to_contain_text("本机服务无响应")
        expect(wide.locator("#link-text")).to_have_text("本机无响应")
        wide.screenshot(path=shots / "unit-down-1366x768.png")
    finally:
        unit.kill()


def test_a_counter_calling_through_the_queue_host_follows_it_and_says_when_it_stops(tmp_path, browser):
    from playwright.sync_api import expect

    host_listen = f"127.0.0.1:{free_port()}"
    host = SimUnit(tmp_path / "host", listen=host_listen).start()
    config = sim_config(tmp_path, role="counter", counter="3", queue_lines=(
        f'host_url = "http://{host_listen}"\nhost_token = "sim"\nhost_timeout_s = 2\nhost_poll_s = 60\n'))
    counter = SimUnit(tmp_path / "counter", config=config).start()
    try:
        page = new_page(browser, "small")
        sign_in(page, counter.url)
        expect(button(page, "呼叫下一位")).to_be_visible()
        expect(page.locator("#waiting-total")).to_have_text("共 0 人")
        # The counter's own poll is a minute here: the console's half-second asks bring this.
        assert host.post("/v1/tickets", json={"category": "B"}).status_code == 200
        expect(page.locator("#waiting-total")).to_have_text("共 1 人")
        button(page, "呼叫下一位").click()
        expect_text(page, "#serving-ticket", "B001")
        called = [e for e in host.events() if e["type"] == "ticket.called"]
        assert [(e["data"]["ticket"], e["data"]["counter_id"], e["data"]["staff_id"]) for e in called] == [
            ("B001", "3", "1001")]
        host.kill()
        expect(page.locator("#alerts")).to_contain_text("叫号服务（排队主机）无响应")
        expect(page.locator("#link-text")).to_have_text("排队主机无响应")
        page.screenshot(path=screenshots_dir(DOCS_SCREENSHOTS, tmp_path) / "host-down-1024x600.png")
        button(page, "呼叫下一位").click()
        expect(page.locator("#toast")).to_have_text("叫号服务（排队主机）无响应，请稍后再试")
        assert wait_until(lambda: counter.state()["queue"]["link"] == "down")
    finally:
        counter.kill()
        host.kill()

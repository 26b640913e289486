"""The dashboard driven in a real headless Chromium (Debian's /usr/bin/chromium through Playwright)
against a real `centre serve`: a manager logs in, opens the month, rectifies a 差评 and downloads the
XLSX; a viewer is refused a change. Screenshots of the pages (docs/dashboard/ with SAVE_SCREENSHOTS=1)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from openpyxl import load_workbook

from centre.storage.db import Database
from centre.storage.models import LedgerEntry
from tests.support.centre.dashboard_seed import PASSWORDS, USERS, seed_dashboard
from tests.support.centre.process import CentreProcess
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

# Screenshots land in the test's own folder; with SAVE_SCREENSHOTS=1 they refresh docs/dashboard/
# (the README shows those), so an ordinary test run never leaves the work tree changed.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "dashboard"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"),
]


@pytest.fixture
def served(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    seeded = seed_dashboard(db_url)
    with CentreProcess(db_url) as centre:
        yield centre, seeded, db_url


@pytest.fixture
def browser_context(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, accept_downloads=True, locale="zh-CN", timezone_id="Asia/Shanghai",
            viewport={"width": 1366, "height": 900})
        try:
            yield context
        finally:
            context.close()


def log_in(page, base_url: str, role: str) -> None:
    page.goto(f"{base_url}/dashboard/")
    assert "/dashboard/login" in page.url
    page.fill("input[name=name]", USERS[role])
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{base_url}/dashboard/")
    assert page.locator("h1").first.inner_text().startswith("总览")


def entry_row(db_url: str, entry_id: int) -> LedgerEntry:
    db = Database(db_url)
    try:
        with db.transaction() as session:
            entry = session.get(LedgerEntry, entry_id)
            session.expunge(entry)
            return entry
    finally:
        db.dispose()


def open_entry_ids(page) -> list[int]:
    rows = page.locator("tr.status-row-open a, tr.status-row-overdue a")
    return [int(rows.nth(n).get_attribute("href").rsplit("/", 1)[1]) for n in range(rows.count())]


def test_manager_works_the_month_and_viewer_cannot_change_anything(served, browser_context, tmp_path):
    screenshots = DOCS_SCREENSHOTS if os.environ.get("SAVE_SCREENSHOTS") == "1" else tmp_path
    centre, seeded, db_url = served
    base, month = centre.url, str(seeded.month)
    page = browser_context.new_page()
    failed_requests = []
    # A download ends its navigation request as "aborted"; anything else failing is a broken asset.
    page.on("requestfailed", lambda request: "/download?" in request.url or failed_requests.append(request.url))
    screenshots.mkdir(parents=True, exist_ok=True)

    log_in(page, base, "manager")
    page.wait_for_function("document.querySelector('#trend') && Chart.getChart('trend') !== undefined")
    assert page.locator(".tile-value").first.inner_text().isdigit()
    page.screenshot(path=screenshots / "overview.png", full_page=True)

    page.goto(f"{base}/dashboard/report?month={month}")
    assert page.locator("table.data").first.locator("tbody tr").count() == 30  # the ranking (服务指标 below)
    assert page.locator("tr.row-star").count() >= 3  # top 10 % of 30 windows, ties included
    page.screenshot(path=screenshots / "report.png", full_page=True)
    with page.expect_download() as download_info:
        page.click("a:has-text('Excel（按窗口）')")
    download = download_info.value
    assert download.suggested_filename == f"report-{month}.xlsx"
    download.save_as(tmp_path / download.suggested_filename)
    workbook = load_workbook(tmp_path / download.suggested_filename)
    headers = [cell.value for cell in workbook.active[1]]
    assert headers[:3] == ["窗口", "工作人员", "办结笔数"] and "总分" in headers
    assert workbook.active.max_row == 31

    page.goto(f"{base}/dashboard/ledger?month={month}")
    ids = open_entry_ids(page)
    assert len(ids) >= 2
    page.screenshot(path=screenshots / "ledger.png", full_page=False)
    rectified_id, untouched_id = ids[0], ids[1]
    page.click(f"a[href='/dashboard/ledger/{rectified_id}']")
    page.fill("form[action$='/rectify'] textarea[name=note]", "已与工作人员谈话，加强一次性告知")
    page.click("button:has-text('记为已整改')")
    page.wait_for_url(f"{base}/dashboard/ledger/{rectified_id}?done=rectify")
    assert page.locator("#entry-status").inner_text() == "已整改"
    page.screenshot(path=screenshots / "ledger-entry.png", full_page=True)
    entry = entry_row(db_url, rectified_id)
    assert (entry.status, entry.rectified_by) == ("rectified", USERS["manager"])

    page.goto(f"{base}/dashboard/fleet")
    warnings = page.locator(".badge.warning").all_inner_texts()
    for expected in ("失联", "纸将用尽", "缺纸", "时钟偏差", "数据流已停止"):
        assert any(text.startswith(expected) for text in warnings), (expected, warnings)
    page.screenshot(path=screenshots / "fleet.png", full_page=True)

    page.click("button:has-text('退出')")
    page.wait_for_url(f"{base}/dashboard/login")
    log_in(page, base, "viewer")
    page.goto(f"{base}/dashboard/ledger/{untouched_id}")
    assert page.locator("form[action$='/rectify']").count() == 0
    assert "只读账号" in page.content()
    # The viewer's own session and CSRF token, posting the manager's form by hand: still refused.
    refused = page.evaluate("""async (id) => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const response = await fetch(`/dashboard/ledger/${id}/rectify`, {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'},
            body: new URLSearchParams({csrf_token: token, note: '试图修改'})});
        return {status: response.status, text: await response.text()};
    }""", untouched_id)
    assert refused["status"] == 403 and "无权操作" in refused["text"]
    entry = entry_row(db_url, untouched_id)
    assert entry.status == "open" and entry.rectification is None
    assert failed_requests == []

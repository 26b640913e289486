"""What a phone shows when the hall's data is old (issue 18, item 1), in headless Chromium at
360×740 against a served centre; with SAVE_SCREENSHOTS=1 the screenshot refreshes docs/phone/."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import update

from centre.storage.models import Unit
from tests.centre.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.centre.public.test_phone_e2e import DOCS_SCREENSHOTS
from tests.centre.public.test_position_page import Hall, new_ref, phones  # noqa: F401 (a fixture)
from tests.support.centre.testkit import now_utc

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing"),
]


def test_a_phone_is_told_plainly_that_the_halls_data_is_old(phones, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    hall = Hall(phones)
    for number in range(1, 4):
        ref = hall.issue(f"A{number:03d}", new_ref(), ahead=number - 1, wait_min=4 * (number - 1))
    with phones.db.transaction() as session:
        session.execute(update(Unit).where(Unit.unit_id == hall.host.unit_id)
                        .values(last_seen=now_utc() - timedelta(minutes=3)))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            phone = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                     locale="zh-CN", timezone_id="Asia/Shanghai", is_mobile=True)
            phone.goto(f"{phones.base_url}/t/{ref}")
            alert = phone.get_by_role("alert")
            assert alert.is_visible() and "大厅数据已超过1分钟未更新" in alert.inner_text()
            assert phone.get_by_text("前面还有").is_visible()
            shot = tmp_path / "stale.png"
            phone.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (DOCS_SCREENSHOTS / "stale.png").write_bytes(shot.read_bytes())

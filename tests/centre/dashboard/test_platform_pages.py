"""The dashboard's 好差评报送 page over real HTTP: counts, the failed record and its error, and
重新发送 (managers, with the session's CSRF token; a viewer sees no button and is refused)."""
from __future__ import annotations

import re
import uuid

import pytest

from centre.dashboard.accounts import add_user
from centre.platform.mapping import PlatformConfig
from protocol.events import EventType
from tests.centre.platform.test_worker import drain
from tests.support.centre.fake_platform import fake_platform
from tests.support.centre.fixtures import centre, served_centre  # noqa: F401 (fixtures)
from tests.support.centre.testkit import now_utc

pytestmark = pytest.mark.timeout(120)
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def test_the_page_shows_pending_sent_and_failed_and_a_manager_resends(centre):
    unit = centre.new_unit(counter="3")
    events = [unit.record(EventType.RATING_SUBMITTED, {"transaction_id": str(uuid.uuid4()), "level": 5,
                                                       "staff_id": "1001", "counter_id": "3"}) for _ in range(3)]
    assert centre.upload(unit, unit.batch(events)).status_code == 200
    page = centre.dashboard_page("/dashboard/platform")
    assert "好差评报送" in page and "没有发送失败的记录" in page

    refused = events[1]["event_id"]
    with fake_platform(refuse_keys=frozenset({refused})) as platform:
        drain(centre.db, PlatformConfig(url=platform.url, auth="hmac", secret=platform.secret, reason_wait_s=0))
    page = centre.dashboard_page("/dashboard/platform")
    counts = re.findall(r'<td class="num">(\d+)</td>', page)
    assert counts[:3] == ["0", "2", "1"]  # 待发送, 已发送, 发送失败
    assert "1 条记录发送失败" in page and refused in page and "HTTP 400" in page
    assert f'aria-label="重新发送 {refused}"' in page

    token = CSRF.search(page).group(1)
    assert centre.client.post("/dashboard/platform/resend", data={"key": refused}).status_code == 403
    answer = centre.client.post("/dashboard/platform/resend", data={"csrf_token": token, "key": refused},
                                follow_redirects=True)
    assert answer.status_code == 200 and "已将 1 条记录重新排队发送" in answer.text
    assert re.findall(r'<td class="num">(\d+)</td>', answer.text)[:3] == ["1", "2", "0"]


def test_a_viewer_sees_the_failures_but_cannot_resend(centre):
    unit = centre.new_unit(counter="3")
    rated = unit.record(EventType.RATING_SUBMITTED, {"transaction_id": "t1", "level": 4, "staff_id": "1001",
                                                     "counter_id": "3"})
    assert centre.upload(unit, unit.batch([rated])).status_code == 200
    with fake_platform(refuse_keys=frozenset({rated["event_id"]})) as platform:
        drain(centre.db, PlatformConfig(url=platform.url, auth="hmac", secret=platform.secret))
    with centre.db.transaction() as session:
        add_user(session, "查看员", "viewer", "viewer-pass-1", now_utc())
    page = centre.dashboard_page("/dashboard/platform", user="查看员", password="viewer-pass-1")
    assert rated["event_id"] in page and "重新发送" not in page.split("最近出错的记录")[1].split("</table>")[0].replace("<th></th>", "")
    token = CSRF.search(page).group(1)
    refused = centre.client.post("/dashboard/platform/resend", data={"csrf_token": token})
    assert refused.status_code == 403

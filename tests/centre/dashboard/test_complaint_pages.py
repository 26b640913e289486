"""The dashboard's complaints register over real HTTP: a manager registers a complaint, replies,
records the callback and closes it, each as the logged-in user; overdue ones are flagged and
listed first; a viewer reads and is refused changes."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from centre.complaints.register import add_complaint
from centre.dashboard.accounts import add_user
from tests.support.centre.fixtures import centre, served_centre  # noqa: F401 (fixtures)
from tests.support.centre.testkit import now_utc

pytestmark = pytest.mark.timeout(60)
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def test_a_manager_works_a_complaint_from_the_pages(centre):
    page = centre.dashboard_page("/dashboard/complaints")
    assert "没有超期的投诉" in page and "登记投诉" in page
    token = CSRF.search(page).group(1)
    added = centre.client.post("/dashboard/complaints", data={
        "csrf_token": token, "channel": "12329", "kind": "general", "summary": "窗口推诿", "counter_id": "3",
        "staff_id": "1001", "first_handler": "李主任", "department": "归集科", "cause": "服务态度",
        "invalid_reason": "malicious"}, follow_redirects=True)
    assert added.status_code == 200 and "投诉第 1 件" in added.text and "待答复" in added.text
    assert "李主任" in added.text
    for path, data in (("reply", {"text": "已答复"}), ("callback", {"note": "电话回访", "satisfaction": "basic"}),
                       ("close", {})):
        shown = centre.client.post(f"/dashboard/complaints/1/{path}", data={"csrf_token": token, **data},
                                   follow_redirects=True)
        assert shown.status_code == 200, shown.text
    assert "已办结" in shown.text and "基本满意" in shown.text
    trail = shown.text.split('aria-label="处理记录"')[1]
    assert [actor for actor in re.findall(r"<td>(主管)</td>", trail)] == ["主管"] * 4
    again = centre.client.post("/dashboard/complaints/1/reply", data={"csrf_token": token, "text": "x"})
    assert again.status_code == 409
    empty = centre.client.post("/dashboard/complaints", data={"csrf_token": token, "channel": "web",
                                                              "kind": "general", "summary": " "})
    assert empty.status_code == 422 and "summary is required" in empty.text


def test_overdue_complaints_are_flagged_first_and_a_viewer_cannot_change_them(centre):
    with centre.db.transaction() as session:
        add_complaint(session, channel="web", kind="general", summary="新的", actor="王科长", now=now_utc())
        add_complaint(session, channel="letter", kind="major", summary="旧的", actor="王科长", now=now_utc(),
                      received_at=datetime(2025, 1, 6, 1, 0, tzinfo=timezone.utc))
        add_user(session, "查看员", "viewer", "viewer-pass-1", now_utc())
    page = centre.dashboard_page("/dashboard/complaints", user="查看员", password="viewer-pass-1")
    assert "1 件投诉已超过答复期限" in page and "登记投诉" not in page
    listed = page.split('aria-label="投诉列表"')[1]
    assert listed.index("旧的") < listed.index("新的") and "已超期" in listed
    refused = centre.client.post("/dashboard/complaints/2/reply", data={"csrf_token": CSRF.search(page).group(1),
                                                                         "text": "x"})
    assert refused.status_code == 403

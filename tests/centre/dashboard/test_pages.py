"""The dashboard over HTTP (in process, on SQLite and PostgreSQL): logging in, the login limit,
sessions, CSRF, what a viewer may not do, the ledger workflow with the logged-in user recorded,
and pages that fetch nothing from outside the centre."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from centre.app import create_app
from centre.dashboard.accounts import LOGIN_FAILURES_PER_NAME, add_user
from centre.dates.months import Month, centre_time_zone
from centre.ledger.entries import sync_ledger
from centre.storage.db import Database
from centre.storage.models import Appeal, DashboardUser, LedgerAction, LedgerEntry
from tests.support.centre.event_writer import EventWriter
from tests.support.centre.fixtures import BACKENDS, database_template

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct horse 1"
PAGES = ("/dashboard/", "/dashboard/report", "/dashboard/ledger", "/dashboard/fleet")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _seed(db: Database) -> None:
    """Three accounts and two 差评 (ledger entries 1 and 2) from this month."""
    now = datetime.now(timezone.utc)
    writer = EventWriter()
    today = now.astimezone(centre_time_zone()).replace(hour=0, minute=5, second=0, microsecond=0)
    for number, level in enumerate((1, 2, 5), start=1):
        data = {"transaction_id": f"tx-{number}", "staff_id": "1001", "counter_id": "3", "level": level}
        writer.add("a-03", "transaction.completed", today.isoformat(), data)
        writer.add("a-03", "rating.submitted", today.isoformat(), data)
    writer.store(db)
    with db.transaction() as session:
        sync_ledger(session, now)
        for name, role in (("管理员", "admin"), ("主管甲", "manager"), ("主管乙", "manager"), ("查看员", "viewer")):
            add_user(session, name, role, PASSWORD, now)


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request, tmp_path_factory):
    with database_template(request.param, tmp_path_factory.mktemp("dashboard"), _seed) as template:
        yield template


@pytest.fixture
def app_db(seeded):
    """A database of the test's own, as _seed leaves it (a copy of the module's seeded one)."""
    with seeded.copy() as db_url:
        db = Database(db_url)
        try:
            yield db_url, db
        finally:
            db.dispose()


@pytest.fixture
def client(app_db):
    with TestClient(create_app(app_db[0])) as test_client:
        yield test_client


def login(client: TestClient, name: str, password: str = PASSWORD):
    form = client.get("/dashboard/login")
    token = CSRF_FIELD.search(form.text).group(1)
    return client.post("/dashboard/login", data={"name": name, "password": password, "csrf_token": token,
                                                 "next": "/dashboard/ledger"}, follow_redirects=False)


def page_csrf(client: TestClient, path: str = "/dashboard/ledger/1") -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).text).group(1)


def entry(db: Database, entry_id: int) -> LedgerEntry:
    with db.transaction() as session:
        found = session.get(LedgerEntry, entry_id)
        session.expunge(found)
        return found


def test_every_page_needs_a_login(client):
    for path in (*PAGES, "/dashboard/ledger/1", f"/dashboard/report/{Month(2026, 11)}/download"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login?next=")
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    refused = client.post("/dashboard/ledger/1/rectify", data={"note": "x"}, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/dashboard/login")


def test_login_sets_an_httponly_session_and_logout_ends_it(client):
    response = login(client, "主管甲")
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/ledger"
    cookie = response.headers["set-cookie"]
    assert "centre_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    session_cookie = client.cookies.get("centre_session")
    assert client.get("/dashboard/").status_code == 200
    client.post("/dashboard/logout", data={"csrf_token": page_csrf(client)}, follow_redirects=False)
    client.cookies.set("centre_session", session_cookie)  # a copy of the old cookie is worthless now
    assert client.get("/dashboard/", follow_redirects=False).status_code == 303


def test_wrong_passwords_and_unknown_names_are_refused_alike_then_limited(client):
    wrong = login(client, "主管甲", "wrong password")
    unknown = login(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    for _ in range(LOGIN_FAILURES_PER_NAME - 1):
        login(client, "主管甲", "wrong password")
    blocked = login(client, "主管甲")  # the right password, but too many failures just now
    assert blocked.status_code == 429 and "15 分钟" in blocked.text
    assert client.cookies.get("centre_session") is None


def test_a_login_form_from_elsewhere_is_refused(client):
    response = client.post("/dashboard/login", data={"name": "主管甲", "password": PASSWORD,
                                                     "csrf_token": "forged"}, follow_redirects=False)
    assert response.status_code == 403 and client.cookies.get("centre_session") is None


def test_a_change_without_the_sessions_csrf_token_is_refused(client, app_db):
    login(client, "主管甲")
    for token in (None, "forged"):
        data = {"note": "整改"} | ({} if token is None else {"csrf_token": token})
        response = client.post("/dashboard/ledger/1/rectify", data=data, follow_redirects=False)
        assert response.status_code == 403 and "CSRF" in response.text
    assert entry(app_db[1], 1).status == "open"


def test_a_viewer_reads_everything_and_changes_nothing(client, app_db):
    login(client, "查看员")
    for path in (*PAGES, "/dashboard/ledger/1"):
        assert client.get(path).status_code == 200
    page = client.get("/dashboard/ledger/1").text
    assert "只读账号" in page and "/rectify" not in page
    token = page_csrf(client)
    for action, data in (("rectify", {"note": "x"}), ("callback", {"note": "x"}), ("close", {}),
                         ("appeal", {"evidence": "x"})):
        response = client.post(f"/dashboard/ledger/1/{action}", data={"csrf_token": token, **data},
                               follow_redirects=False)
        assert response.status_code == 403 and "无权操作" in response.text and "只读账号" in response.text
    stored = entry(app_db[1], 1)
    assert (stored.status, stored.rectification, stored.callback_note) == ("open", None, None)
    with app_db[1].transaction() as session:
        assert session.scalars(select(Appeal)).all() == []


def test_the_ledger_workflow_records_the_logged_in_manager(client, app_db):
    _, db = app_db
    login(client, "主管甲")
    token = page_csrf(client)
    done = client.post("/dashboard/ledger/1/rectify",
                       data={"csrf_token": token, "note": "已整改", "by": "someone else"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/ledger/1?done=rectify"
    client.post("/dashboard/ledger/1/callback", data={"csrf_token": token, "note": "群众满意"})
    shown = client.post("/dashboard/ledger/1/close", data={"csrf_token": token})
    assert "已办结" in shown.text
    stored = entry(db, 1)
    assert (stored.status, stored.rectified_by, stored.callback_by, stored.closed_by) == (
        "closed", "主管甲", "主管甲", "主管甲")
    again = client.post("/dashboard/ledger/1/rectify", data={"csrf_token": token, "note": "再次"})
    assert again.status_code == 409 and "当前状态下不能进行此操作" in again.text
    empty = client.post("/dashboard/ledger/2/rectify", data={"csrf_token": token, "note": "  "})
    assert empty.status_code == 422 and entry(db, 2).status == "open"


def test_an_appeal_is_reviewed_by_another_manager_and_upheld_takes_the_rating_out(client, app_db):
    _, db = app_db
    login(client, "主管甲")
    client.post("/dashboard/ledger/2/appeal", data={"csrf_token": page_csrf(client), "evidence": "录像显示恶意"})
    with db.transaction() as session:
        appeal_id = session.scalars(select(Appeal.id)).one()
    own = client.post(f"/dashboard/ledger/2/appeals/{appeal_id}/review",
                      data={"csrf_token": page_csrf(client), "decision": "upheld"})
    assert own.status_code == 403 and "提交人以外" in own.text
    client.post("/dashboard/logout", data={"csrf_token": page_csrf(client)})
    login(client, "主管乙")
    client.post(f"/dashboard/ledger/2/appeals/{appeal_id}/review",
                data={"csrf_token": page_csrf(client), "decision": "upheld", "note": "属实"})
    assert entry(db, 2).status == "closed"
    with db.transaction() as session:
        actions = session.execute(select(LedgerAction.action, LedgerAction.actor)
                                  .where(LedgerAction.entry_id == 2).order_by(LedgerAction.id)).all()
    assert [tuple(a) for a in actions] == [("created", "system"), ("appeal_submitted", "主管甲"),
                                           ("appeal_upheld", "主管乙")]
    report = client.get("/dashboard/report").text
    assert "50.0%" in report  # 差评率: one of the two counted ratings left is 差评


def test_pages_fetch_nothing_from_outside_the_centre(client):
    login(client, "管理员")
    for path in (*PAGES, "/dashboard/ledger/1", "/dashboard/login"):
        html = client.get(path).text
        assert not re.search(r"https?://", html), path
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            assert client.get(asset).status_code == 200, asset
    assert "Chart" in client.get("/static/chart.umd.min.js").text


def test_the_report_downloads_need_a_login_and_carry_the_month(client):
    login(client, "查看员")
    month = Month.containing(datetime.now(timezone.utc), centre_time_zone())
    xlsx = client.get(f"/dashboard/report/{month}/download?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert f'filename="report-{month}.xlsx"' in xlsx.headers["content-disposition"]
    csv_text = client.get(f"/dashboard/report/{month}/download?format=csv").text
    assert csv_text.startswith("counter_id,") and "\n3," in csv_text

"""The staff console's routes on a sim unit in this process: PIN sign-in and its lockout, the
session cookie and its expiry, CSRF and cross-site refusals, and every action appending exactly
the events the local API's action appends."""
from __future__ import annotations

import json

import pytest

from kiosk.console.sessions import SESSION_LIFETIME_S
from kiosk.console.pins import LOCK_S
from tests.kiosk.console.console_unit import SIM_PIN, ConsoleUnit, Page, sim_config
from tests.support.unit_app import UnitApp

pytestmark = pytest.mark.timeout(120)


def event_types(unit) -> list[str]:
    return [event["type"] for event in unit.events()]


def test_signing_in_sets_a_strict_httponly_session_cookie_and_appends_staff_signed_in(unit):
    page = Page(unit)
    assert page.open()["signed_in"] is False
    before = event_types(unit)
    response = page.sign_in()
    assert response.status_code == 200, response.text
    assert response.json()["events"] == ["staff.signed_in"]
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("console_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "SameSite=strict" in cookie and "Path=/console/" in cookie
    assert event_types(unit) == before + ["staff.signed_in"]
    signed = unit.events()[-1]["data"]
    assert signed == {"staff_id": "1001", "counter_id": "1"}
    view = page.view()
    assert view["session"] == "active" and view["staff"] == {"staff_id": "1001", "name": "张敏"}
    assert page.open()["signed_in"] is True


def test_five_wrong_pins_lock_that_staff_id_for_five_minutes_even_for_the_right_pin(unit):
    page = Page(unit)
    answers = [page.sign_in(pin="000000") for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert [a.json()["error"].get("tries_left") for a in answers[:4]] == [4, 3, 2, 1]
    locked = answers[4].json()["error"]
    assert locked["code"] == "pin_locked" and locked["retry_after_s"] == int(LOCK_S)
    assert answers[4].headers["Retry-After"] == str(int(LOCK_S))
    right = page.sign_in(pin=SIM_PIN)
    assert (right.status_code, right.json()["error"]["code"]) == (429, "pin_locked")
    assert "staff.signed_in" not in event_types(unit)
    unit.clock.now += LOCK_S - 1
    assert page.sign_in(pin=SIM_PIN).status_code == 429
    unit.clock.now += 1
    assert page.sign_in(pin=SIM_PIN).status_code == 200
    assert event_types(unit).count("staff.signed_in") == 1


def test_the_lock_is_per_staff_id(unit):
    page = Page(unit)
    for _ in range(5):
        page.sign_in("1001", "000000")
    assert page.sign_in("1001", SIM_PIN).status_code == 429
    # 1002 has no PIN in the sim config: that is said, not locked
    other = page.sign_in("1002", "123456")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "no_pin")
    assert "set-pin 1002" in other.json()["error"]["message"]


def test_wrong_pins_count_towards_the_addresss_limit_of_wrong_tokens(unit):
    page = Page(unit)
    for staff_id in ("1001", "4711", "4712", "4713"):
        for _ in range(5):
            page.sign_in(staff_id, "000000")
    refused = page.sign_in("1001", SIM_PIN)
    assert refused.json()["error"]["code"] in ("rate_limited", "pin_locked")
    # the bearer API from the same address is held too: a 429 whatever the token
    api = unit.get("/v1/state")
    assert (api.status_code, api.json()["error"]["code"]) == (429, "rate_limited")


def test_a_session_expires(unit):
    page = Page(unit)
    page.sign_in()
    assert page.view()["session"] == "active"
    unit.clock.now += SESSION_LIFETIME_S
    expired = page.get("/console/api/state")
    assert (expired.status_code, expired.json()["error"]["code"]) == (401, "no_session")
    before = event_types(unit)
    refused = page.act("pause", {"reason": "break"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "no_session")
    assert event_types(unit) == before
    assert page.open()["signed_in"] is False


def test_a_session_ends_with_its_sign_in_and_an_old_cookie_stays_dead(unit):
    page = Page(unit)
    page.sign_in()
    assert unit.post("/v1/staff/sign-out").status_code == 200        # the staff key or the API
    assert page.get("/console/api/state").status_code == 401
    old_cookies, old_csrf = dict(page.cookies), page.csrf
    assert unit.post("/v1/staff/sign-in", json={"staff_id": "1001"}).status_code == 200
    stale = Page(unit)
    stale.cookies, stale.csrf = old_cookies, old_csrf
    assert stale.get("/console/api/state").status_code == 401        # the same staff, a new sign-in
    # someone else signing in at the counter ends the console's session too
    page.sign_in()
    assert unit.post("/v1/staff/sign-in", json={"staff_id": "1002"}).status_code == 200
    assert page.get("/console/api/state").json()["error"]["code"] == "no_session"


@pytest.mark.parametrize("overrides, code", [
    ({"X-CSRF-Token": None}, "csrf_failed"),
    ({"X-CSRF-Token": "not-the-token"}, "csrf_failed"),
    ({"Origin": "http://evil.example"}, "cross_site"),
    ({"Origin": "null"}, "cross_site"),
    ({"Origin": "http://127.0.0.1.evil.example"}, "cross_site"),
    ({"Origin": None, "Sec-Fetch-Site": "cross-site"}, "cross_site"),
])
def test_a_change_without_the_csrf_token_or_from_another_site_is_refused(unit, overrides, code):
    page = Page(unit)
    page.sign_in()
    unit.post("/v1/tickets", json={"category": "A"})
    before = event_types(unit)
    headers = {**page._cookie_header(), "X-CSRF-Token": page.csrf, "Origin": "http://127.0.0.1", **overrides}
    response = unit.post("/console/api/call-next", json={},
                         headers={key: value for key, value in headers.items() if value is not None})
    assert (response.status_code, response.json()["error"]["code"]) == (403, code)
    assert response.json()["error"]["text"]          # said in Chinese on the page
    assert event_types(unit) == before
    assert page.act("call-next").status_code == 200   # the page itself, with its token: called


def test_the_sign_in_needs_the_pages_token_and_its_cookie(unit):
    page = Page(unit)
    page.open()
    page.cookies.pop("console_login")
    response = page.post("/console/api/sign-in", {"staff_id": "1001", "pin": SIM_PIN})
    assert (response.status_code, response.json()["error"]["code"]) == (403, "csrf_failed")
    page.open()
    response = page.post("/console/api/sign-in", {"staff_id": "1001", "pin": SIM_PIN},
                         headers={"Origin": "http://evil.example"})
    assert response.json()["error"]["code"] == "cross_site"
    assert "staff.signed_in" not in event_types(unit)


def test_hostile_bodies_are_clear_4xx_answers(unit):
    page = Page(unit)
    page.sign_in()
    for path, body in (("pause", {"reason": ""}), ("pause", {"reason": "x" * 200}), ("transfer", {}),
                       ("transfer", {"to_counter": "2", "to_category": "A"}), ("notice", {"service_item": 5}),
                       ("call-next", {"counter_id": "7"}), ("complete", {"ticket": "A001"})):
        response = page.act(path, body)
        assert response.status_code == 422, (path, body, response.text)
    response = unit.post("/console/api/pause", data=b"{" * 5000,
                         headers={**page._cookie_header(), "X-CSRF-Token": page.csrf})
    assert response.status_code == 400


class ApiDesk:
    """The counter worked through the local API (Bearer token)."""

    def __init__(self, unit: UnitApp) -> None:
        self.unit = unit

    def do(self, action: str, body: dict | None = None) -> None:
        path = {"sign-in": "/v1/staff/sign-in", "sign-out": "/v1/staff/sign-out", "pause": "/v1/counter/pause",
                "resume": "/v1/counter/resume", "complete": "/v1/transactions/complete",
                "notice": "/v1/notices/print", "call-next": "/v1/queue/call-next", "recall": "/v1/queue/recall",
                "no-show": "/v1/queue/no-show", "transfer": "/v1/queue/transfer"}[action]
        if action == "sign-in":
            body = {"staff_id": body["staff_id"]}
        response = self.unit.post(path, json=body or {})
        assert response.status_code == 200, (action, response.text)


class ConsoleDesk:
    """The same counter worked from the console."""

    def __init__(self, unit: UnitApp) -> None:
        self.page = Page(unit)

    def do(self, action: str, body: dict | None = None) -> None:
        if action == "sign-in":
            response = self.page.sign_in(body["staff_id"], body["pin"])
        else:
            response = self.page.act(action, body)
        assert response.status_code == 200, (action, response.text)


SCENARIO = [
    ("sign-in", {"staff_id": "1001", "pin": SIM_PIN}),
    ("tickets", ["A", "B", "A", "C"]),
    ("call-next", None), ("recall", None), ("transfer", {"to_category": "B"}),
    ("call-next", None), ("no-show", None),
    ("call-next", None), ("transfer", {"to_counter": "2"}),
    ("call-next", None), ("complete", None), ("press", 4),
    ("notice", {"service_item": "TQ01"}),
    ("pause", {"reason": "meeting"}), ("pause", {"reason": "午休"}), ("resume", None),
    ("pause", {"reason": "closing"}), ("resume", None),
    ("sign-out", None),
]


def play(unit: UnitApp, desk) -> list[tuple[str, dict]]:
    for action, argument in SCENARIO:
        if action == "tickets":
            for letter in argument:
                assert unit.post("/v1/tickets", json={"category": letter}).status_code == 200
        elif action == "press":
            unit.press(argument)
        else:
            desk.do(action, argument)
    return comparable(unit.events())


def comparable(events: list[dict]) -> list[tuple[str, dict]]:
    """Types and data, with what is new on every run (transaction ids, times) named by order."""
    names: dict[str, str] = {}
    seen = []
    for event in events:
        data = dict(event["data"])
        for key in ("transaction_id", "config_hash", "issued_at", "ref"):
            if key in data:
                data[key] = names.setdefault(f"{key}:{data[key]}", f"{key}-{len(names)}")
        seen.append((event["type"], data))
    return seen


def test_every_console_action_appends_exactly_the_events_the_apis_action_appends(tmp_path):
    through_api = UnitApp(tmp_path / "api").start()
    try:
        by_api = play(through_api, ApiDesk(through_api))
    finally:
        through_api.stop()
    through_console = ConsoleUnit(tmp_path / "console").start()
    try:
        by_console = play(through_console, ConsoleDesk(through_console))
    finally:
        through_console.stop()
    kinds = [kind for kind, _ in by_api]
    for expected in ("staff.signed_in", "ticket.called", "ticket.recalled", "ticket.transferred", "ticket.no_show",
                     "transaction.completed", "rating.submitted", "notice.printed", "counter.paused",
                     "counter.resumed", "staff.signed_out"):
        assert expected in kinds
    assert by_console == by_api


def test_the_console_says_whether_the_last_citizen_rated_but_never_how(unit):
    page = Page(unit)
    page.sign_in()
    assert page.view()["last_citizen"] is None
    unit.post("/v1/tickets", json={"category": "A"})
    page.act("call-next")
    assert page.act("complete").status_code == 200
    assert page.view()["last_citizen"]["text"] == "评价中"
    unit.press(5)                     # 非常不满意 on the sim keypad: a 差评, its reasons shown next
    shown = page.view()
    assert shown["last_citizen"] == {"ticket": "A001", "completed_at": shown["last_citizen"]["completed_at"],
                                     "rating": "rated", "text": "已评价"}
    text = json.dumps(shown, ensure_ascii=False)
    for level_word in ("level", "不满意", "满意", "差评", "Reason", "Thanks"):
        assert level_word not in text
    page.act("complete")      # a new transaction: the rated one is over, this one waits
    page.act("complete")      # and this one ends unrated
    assert page.view()["last_citizen"]["text"] == "评价中"
    kinds = event_types(unit)
    assert kinds[-2:] == ["rating.missed", "transaction.completed"]


def test_the_last_citizen_is_read_back_from_the_log_after_a_restart(tmp_path):
    unit = ConsoleUnit(tmp_path / "unit").start()
    try:
        unit.post("/v1/staff/sign-in", json={"staff_id": "1001"})
        unit.post("/v1/transactions/complete")
        unit.press(1)
    finally:
        unit.stop()
    unit = ConsoleUnit(tmp_path / "unit").start()
    try:
        page = Page(unit)
        page.sign_in()          # already signed in at the counter: no new event, a session all the same
        assert "staff.signed_in" not in event_types(unit)[-1:]
        assert page.view()["last_citizen"]["text"] == "已评价"
    finally:
        unit.stop()


def test_service_items_are_found_by_code_or_name(unit):
    page = Page(unit)
    page.sign_in()
    by_code = page.get("/console/api/service-items", params={"q": "tq01"}).json()
    assert [item["code"] for item in by_code["items"]] == ["TQ01"]
    by_name = page.get("/console/api/service-items", params={"q": "提取"}).json()
    assert "TQ01" in [item["code"] for item in by_name["items"]] and by_name["total"] >= 1
    everything = page.get("/console/api/service-items").json()
    assert everything["total"] >= by_name["total"]
    assert page.get("/console/api/service-items", params={"q": "没有这种事项"}).json()["items"] == []


def test_refusals_are_said_in_chinese(unit):
    page = Page(unit)
    page.sign_in()
    empty = page.act("call-next")
    assert (empty.status_code, empty.json()["error"]["text"]) == (409, "目前没有等候的群众")
    own = page.act("transfer", {"to_counter": "1"})
    assert own.status_code == 422 and own.json()["error"]["text"] == "不能转给本窗口"
    unknown = page.act("notice", {"service_item": "NOPE"})
    assert (unknown.status_code, unknown.json()["error"]["text"]) == (404, "没有这个事项")


def test_the_page_and_its_files_come_from_the_unit_with_a_strict_content_policy(unit):
    page = unit.get("/console/", headers={})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    html = page.text
    for label in ("工号", "密码", "登录", "呼叫下一位", "重呼", "过号", "转移", "办结", "暂停服务", "恢复服务",
                  "打印告知单", "签退"):
        assert label in html
    assert "http://" not in html and "https://" not in html        # nothing from elsewhere
    for name, kind in (("console.css", "text/css"), ("console.js", "text/javascript")):
        response = unit.get(f"/console/{name}", headers={})
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert "http://" not in response.text and "https://" not in response.text and "@import" not in response.text


def test_a_dispenser_has_no_console(tmp_path):
    unit = UnitApp(tmp_path / "unit", config=sim_config(tmp_path, role="dispenser")).start()
    try:
        assert unit.get("/console/", headers={}).status_code == 404
        assert unit.get("/console/api/session", headers={}).status_code == 404
    finally:
        unit.stop()

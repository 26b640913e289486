"""The hall display's page and board through the unit's HTTP API (the unit in this process,
tests.support.unit_app): no login, nothing private, the centre's announcements only while they are
current, a counter unit pointing to the host, a stream only for EventSource, the rate limit."""
from __future__ import annotations

import json
from pathlib import Path

from sync import paths
from tests.kiosk.hall.halls import unit_config
from tests.support.unit_app import UnitApp

ANNOUNCEMENTS = [
    {"text": "本周六上午  正常办理提取业务", "valid_from": "2020-01-01T00:00:00+08:00"},
    {"text": "已过期的通知", "valid_until": "2020-01-02T00:00:00+08:00"},
    {"text": "尚未开始的通知", "valid_from": "2999-01-01T00:00:00+08:00"},
    {"text": "时间看不懂的通知", "valid_from": "下周一"},
    {"valid_from": "2020-01-01T00:00:00+08:00"},
    "不是对象",
    {"text": "长期有效：办事请带身份证原件"},
]


def cache_bundle(state: Path, **parts) -> None:
    state.mkdir(parents=True, exist_ok=True)
    paths.bundle_cache(state).write_text(json.dumps(
        {"format": 1, "etag": "x", "fetched_at": "", "photos": {}, "bundle": {"version": "v1", **parts}},
        ensure_ascii=False), encoding="utf-8")


def test_the_board_needs_no_login_and_shows_calls_waiting_and_current_announcements(tmp_path):
    state = tmp_path / "host"
    cache_bundle(state, announcements=ANNOUNCEMENTS)
    unit = UnitApp(state).start()
    try:
        for category in "AABV":
            assert unit.post("/v1/tickets", {"category": category}).status_code == 200
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        assert unit.post("/v1/queue/call-next").json()["ticket"] == "V001"   # 绿色通道 first
        assert unit.post("/v1/queue/call-next", {"counter_id": "12", "staff_id": "1003"}).json()["ticket"] == "A001"
        assert unit.post("/v1/queue/call-next", {"counter_id": "3", "staff_id": "1002"}).json()["ticket"] == "A002"

        page = unit.get("/hall/", headers={})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        for name in ("hall.css", "hall.js", "live.js"):
            assert unit.get(f"/hall/{name}", headers={}).status_code == 200

        answer = unit.get("/hall/api/board", headers={})
        assert answer.status_code == 200
        board = answer.json()
        # Windows in their numbers' order, each with its ticket; the last calls newest first.
        assert [(s["ticket"], s["counter_id"], s["category"]) for s in board["serving"]] == \
            [("V001", "1", "绿色通道"), ("A002", "3", "缴存"), ("A001", "12", "缴存")]
        assert [(c["ticket"], c["counter_id"]) for c in board["last_called"]] == \
            [("A002", "3"), ("A001", "12"), ("V001", "1")]
        assert {c["letter"]: c["waiting"] for c in board["categories"]} == {"A": 0, "B": 1, "C": 0, "D": 0, "V": 0}
        assert board["announcements"] == ["本周六上午 正常办理提取业务", "长期有效：办事请带身份证原件"]

        # Nothing private: no staff (ids or names), no token, no unit id, no state dir.
        text = answer.text
        for private in ("1001", "1002", "1003", "张敏", "李建国", "王芳", "staff", "sim-unit", "token",
                        str(state)):
            assert private not in text, private
    finally:
        unit.stop()


def test_no_announcements_section_without_announcements(tmp_path):
    unit = UnitApp(tmp_path / "host").start()
    try:
        assert unit.get("/hall/api/board", headers={}).json()["announcements"] == []
    finally:
        unit.stop()


def test_a_counter_unit_points_to_the_host_and_a_stream_is_for_eventsource_only(tmp_path):
    config = unit_config(tmp_path, "c2", role="counter", counter="2", host_listen="127.0.0.1:9")
    counter = UnitApp(tmp_path / "c2", config=config).start()
    try:
        page = counter.get("/hall/", headers={})
        assert page.status_code == 404 and "http://127.0.0.1:9/hall/" in page.text
        board = counter.get("/hall/api/board", headers={})
        assert board.status_code == 409 and board.json()["error"]["code"] == "not_queue_host"
    finally:
        counter.stop()
    host = UnitApp(tmp_path / "host").start()
    try:
        refused = host.get("/hall/api/stream", headers={})
        assert refused.status_code == 406 and refused.json()["error"]["code"] == "not_acceptable"
    finally:
        host.stop()


def test_one_address_asking_too_often_is_answered_429_and_others_still_get_the_page(tmp_path):
    unit = UnitApp(tmp_path / "host").start()
    try:
        answers = [unit.get("/hall/api/board", headers={}).status_code for _ in range(125)]
        assert answers[:120] == [200] * 120 and set(answers[120:]) == {429}
        limited = unit.get("/hall/", headers={})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        # The limit is the hall's: the API with its token is not held to it.
        assert unit.get("/v1/queue").status_code == 200
    finally:
        unit.stop()

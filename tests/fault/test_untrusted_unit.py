"""A unit that claims what it could not have recorded (issue 15, item 9): enrolled as counter 5,
it uploads, over the centre's real upload route on loopback, ratings at counter 99, events dated
2099 and 1970 and an undocumented type. Nothing is refused (the log stays whole, no stream
stops), every event is stored as sent, and none of the claims is counted: not in the monthly
report (CLI), the 差评 ledger, the callback list or the dashboard; fleet health (API and page)
lists each one with its reason. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from protocol.events import EventType
from tests.fault.results import record
from tests.support.centre.fixtures import centre, served_centre  # noqa: F401  (fixtures, used by name)
from tests.support.centre.testkit import CHINA

pytestmark = pytest.mark.timeout(60)

CLAIMS = {  # what the attacker sends, and the reason each is set aside
    "rating at counter 99": "other_counter",
    "transaction completed at counter 99": "other_counter",
    "rating dated 2099": "future",
    "rating dated 1970": "before_enrolment",
    "evil.type": "unknown_type",
}


def attack(unit) -> tuple[list[dict], list[dict]]:
    """(the unit's honest transaction at its own window, the claims in CLAIMS' order)."""
    def rating(counter: str, level: int, at: datetime | None = None) -> dict:
        data = {"transaction_id": str(uuid.uuid4()), "staff_id": "1001", "counter_id": counter, "level": level}
        return unit.record(EventType.RATING_SUBMITTED, data, wall_time=at)

    honest = {"transaction_id": str(uuid.uuid4()), "staff_id": "1001", "counter_id": "5"}
    own = [unit.record(EventType.TRANSACTION_COMPLETED, honest),
           unit.record(EventType.RATING_SUBMITTED, {**honest, "level": 5})]
    claims = [
        rating("99", 1),
        unit.record(EventType.TRANSACTION_COMPLETED, {"transaction_id": "t-99", "staff_id": "1001", "counter_id": "99"}),
        rating("5", 1, datetime(2099, 3, 1, 10, 0, tzinfo=CHINA)),
        rating("5", 2, datetime(1970, 1, 2, 10, 0, tzinfo=CHINA)),
        unit.record("evil.type", {"counter_id": "5", "level": 1, "staff_id": "1001"}),
    ]
    return own, claims


def test_a_unit_claiming_another_window_another_century_and_an_unknown_type_is_not_counted(
        centre, capsys, request):
    unit = centre.new_unit("counter-05", counter="5")
    own, claims = attack(unit)
    answer = centre.upload(unit, unit.batch(own + claims))
    assert answer.json() == {"acked_through": 7, "stored": 7, "duplicates": 0}, answer.text
    assert centre.stored_count(unit.unit_id) == 7
    audit = centre.client.get(f"/api/v1/units/{unit.unit_id}/events", headers=centre.admin()).json()["events"]
    assert audit == own + claims  # the log is whole, every event as sent

    month = datetime.now(CHINA).strftime("%Y-%m")
    report = centre.report(capsys, month)
    assert [row["counter_id"] for row in report["rows"]] == ["5"]  # no row for 99
    window = report["rows"][0]
    assert (window["completed"], window["rated"], window["level_5"], window["level_1"], window["level_2"],
            window["points"]) == (1, 1, 1, 0, 0, 1)
    assert centre.report(capsys, "2099-03")["rows"] == [] and centre.report(capsys, "1970-01")["rows"] == []
    ledger = centre.client.get("/api/v1/ledger", headers=centre.admin()).json()["entries"]
    assert ledger == []
    drawn = centre.client.post(f"/api/v1/callbacks/{month}/draw", headers=centre.admin(),
                               json={"drawn_by": "李主管", "count": 5}).json()
    assert [entry["transaction_id"] for entry in drawn["entries"]] == [own[0]["data"]["transaction_id"]]
    assert "差评 0 条" in centre.dashboard_page("/dashboard/")

    fleet = centre.fleet(unit.unit_id)
    assert fleet["stream_stopped"] is False
    listed = {event["seq"]: event["reason"] for event in fleet["set_aside"]["latest"]}
    assert listed == {seq: reason for seq, reason in zip(range(3, 8), CLAIMS.values())}
    assert fleet["set_aside"]["count"] == len(CLAIMS)
    page = centre.dashboard_page("/dashboard/fleet")
    assert f"{len(CLAIMS)} 条事件未计入" in page and "第 3 条 rating.submitted，窗口 99" in page
    for label in ("窗口与登记不符 2 条", "时间晚于接收一天以上 1 条", "时间早于注册一天以上 1 条", "未知事件类型 1 条"):
        assert label in page

    record(request.node.nodeid, f"a counter-5 unit's batch: its own rated transaction and {len(CLAIMS)} claims "
           "(counter 99 twice, 2099, 1970, evil.type)",
           {"refused": 0, "stored": centre.stored_count(unit.unit_id), "stream stopped": fleet["stream_stopped"],
            "report rows": ", ".join(row["counter_id"] for row in report["rows"]),
            "points at window 5": window["points"], "ledger entries": len(ledger),
            "callback candidates": drawn["candidates"],
            "set aside": ", ".join(f"{reason} {count}" for reason, count in sorted(fleet["set_aside"]["reasons"].items()))})

"""The 一次性告知清单 as a counter prints it (issue 14, item 14), through the unit's API and sim
printer: the procedure (办理流程) of the item and the staff member who hands it over, by name and
工号; from the shipped items, from a bundle that carries steps, and from an older bundle without
them."""
from __future__ import annotations

import json

from kiosk.tickets.service_items import shipped_service_items
from sync import paths
from kiosk.simpanel.escpos import decode
from tests.support.unit_app import UnitApp

TQ01 = shipped_service_items()["TQ01"]


def cache_bundle(state_dir, service_items) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    paths.bundle_cache(state_dir).write_text(json.dumps(
        {"format": 1, "etag": "x", "fetched_at": "", "photos": {},
         "bundle": {"version": "v9", "service_items": service_items}}, ensure_ascii=False), encoding="utf-8")


def print_notice(unit: UnitApp, code: str) -> list[str]:
    """The printed lines of one copy of the notice for `code`."""
    before = len(unit.get("/v1/sim/printer").content)
    response = unit.post("/v1/notices/print", {"service_item": code, "copies": 1})
    assert response.status_code == 200, response.text
    return decode(unit.get("/v1/sim/printer").content[before:]).texts


def steps_printed(lines: list[str]) -> list[str]:
    steps: list[str] = []
    for line in lines:
        if line.startswith("第") and "步 " in line:
            steps.append(line.split(" ", 1)[1])
        elif steps and line.startswith("  "):
            steps[-1] += line.strip()
    return steps


def test_the_shipped_notice_has_the_procedure_and_the_staff_members_name_and_number(tmp_path):
    unit = UnitApp(tmp_path / "state").start()
    try:
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        lines = print_notice(unit, "TQ01")
        assert "办理流程：" in lines and steps_printed(lines) == list(TQ01.steps)
        assert "经办人：张敏  工号：1001" in lines
        assert lines.index("办理流程：") < lines.index("经办人：张敏  工号：1001")
    finally:
        unit.stop()


def test_a_bundle_with_steps_prints_them_and_an_older_one_without_steps_still_works(tmp_path):
    state = tmp_path / "state"
    cache_bundle(state, [
        {"code": "X01", "name": "测试事项", "category": "提取", "time_limit": "3个工作日",
         "materials": ["甲材料"], "steps": ["窗口受理", "审核", "办结"]},
        # A centre from before steps: the shipped procedure of the same item is borrowed …
        {"code": "TQ01", "name": TQ01.name, "category": "提取", "time_limit": "即办", "materials": ["身份证"]},
        # … but only for the same item, and an item known nowhere prints without one.
        {"code": "JC01", "name": "另一个事项", "category": "缴存", "time_limit": "即办", "materials": ["乙材料"]},
    ])
    unit = UnitApp(state).start()
    try:
        unit.post("/v1/staff/sign-in", {"staff_id": "1002"})
        assert steps_printed(print_notice(unit, "X01")) == ["窗口受理", "审核", "办结"]
        assert steps_printed(print_notice(unit, "TQ01")) == list(TQ01.steps)
        lines = print_notice(unit, "JC01")
        assert steps_printed(lines) == [] and "办理流程：以窗口告知为准" in lines
        assert "经办人：李建国  工号：1002" in lines
    finally:
        unit.stop()

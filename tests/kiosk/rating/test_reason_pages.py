"""A centre list of six 差评 reasons on five keys (issue 14, item 13), through the unit `kiosk run
--sim` runs (tests.support.unit_app): the list comes in the centre's bundle as the unit caches it,
the citizen presses the sim keys, the screen is the one the display shows. Four reasons and
更多原因 on the first page; the other two and 其他 on the second; none is lost."""
from __future__ import annotations

import io
import json

import pygame

from kiosk.screens.renderer import Renderer
from kiosk.screens.views import KeyOption, ReasonPrompt
from sync import paths
from tests.support.unit_app import UnitApp

SIX_REASONS = [{"code": "510", "label": "等待时间长"}, {"code": "511", "label": "服务态度差"},
               {"code": "512", "label": "业务不熟练"}, {"code": "513", "label": "一次性告知不到位"},
               {"code": "514", "label": "办理时间长"}, {"code": "515", "label": "环境设施差"},
               {"code": "599", "label": "其他"}]


def cache_bundle(state_dir, reasons) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    paths.bundle_cache(state_dir).write_text(json.dumps(
        {"format": 1, "etag": "x", "fetched_at": "", "photos": {},
         "bundle": {"version": "v6", "reasons": reasons}}, ensure_ascii=False), encoding="utf-8")


def screen_pixels(png: bytes) -> bytes:
    return pygame.image.tobytes(pygame.image.load(io.BytesIO(png), "screen.png"), "RGB")


def drawn(view) -> bytes:
    buffer = io.BytesIO()
    pygame.image.save(Renderer((800, 480)).render(view), buffer, "screen.png")
    return screen_pixels(buffer.getvalue())


def test_six_reasons_from_the_centre_take_two_pages_and_the_sixth_can_be_chosen(tmp_path):
    state = tmp_path / "state"
    cache_bundle(state, SIX_REASONS)
    unit = UnitApp(state).start()
    try:
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        transaction = unit.post("/v1/transactions/complete", {}).json()["transaction_id"]
        assert unit.press(4) == ["rating.submitted"]                 # 不满意
        first = unit.app.current_view()
        assert first == ReasonPrompt((KeyOption(1, "等待时间长"), KeyOption(2, "服务态度差"), KeyOption(3, "业务不熟练"),
                                      KeyOption(4, "一次性告知不到位"), KeyOption(5, "更多原因", more=True)),
                                     first.seconds_left, page=1, pages=2)
        assert screen_pixels(unit.get("/v1/sim/display.png").content) == drawn(first)

        assert unit.press(5) == []                                   # 更多原因: no event, the next page
        second = unit.app.current_view()
        assert second.options == (KeyOption(1, "办理时间长"), KeyOption(2, "环境设施差"), KeyOption(5, "其他"))
        assert (second.page, second.pages) == (2, 2)
        assert screen_pixels(unit.get("/v1/sim/display.png").content) == drawn(second)

        assert unit.press(2) == ["rating.reason"]
        [reason] = [e["data"] for e in unit.events() if e["type"] == "rating.reason"]
        assert reason == {"transaction_id": transaction, "reason_code": "515", "reason_label": "环境设施差"}
        assert type(unit.app.current_view()).__name__ == "Thanks"
    finally:
        unit.stop()

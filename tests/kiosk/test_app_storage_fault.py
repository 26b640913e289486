"""Disk full for real: the state dir on a tiny tmpfs. The unit shows out-of-order, answers 503,
keeps everything committed, and recovers by itself once space returns. The unit runs in this
process (tests.support.unit_app): the same app, SQLite store and API as `kiosk run --sim`."""
from __future__ import annotations

import io

import pygame
import pytest

from kiosk.screens.renderer import Renderer
from kiosk.screens.views import OutOfOrder
from protocol.chain import verify_chain
from tests.fault.results import record
from tests.support.sim_unit import wait_until
from tests.support.unit_app import UnitApp
from tests.support.tiny_disk import fill, mounted_tmpfs


@pytest.fixture
def tiny_disk(tmp_path):
    with mounted_tmpfs(tmp_path / "disk", size_mb=3) as mount_point:
        yield mount_point


def png_pixels(png: bytes) -> bytes:
    return pygame.image.tobytes(pygame.image.load(io.BytesIO(png), "x.png"), "RGB")


def test_disk_full_shows_out_of_order_and_recovers(tiny_disk, request):
    unit = UnitApp(tiny_disk / "state").start()
    try:
        assert unit.post("/v1/staff/sign-in", {"staff_id": "1001"}).status_code == 200
        acknowledged = set()
        txn = unit.post("/v1/transactions/complete", {}).json()["transaction_id"]
        acknowledged.add(txn)
        assert unit.press(1) == ["rating.submitted"]

        filler = fill(tiny_disk)
        refused = None
        for _ in range(300):
            answer = unit.post("/v1/transactions/complete", {})
            if answer.status_code == 200:
                acknowledged.add(answer.json()["transaction_id"])
                continue
            refused = answer
            break
        assert refused is not None, "the full disk never refused a write"
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "storage_unavailable"

        state = unit.state()
        assert state["storage"]["ok"] is False and state["screen"] == "OutOfOrder"
        assert unit.get("/healthz", headers={}).status_code == 503
        expected = Renderer((800, 480)).render(OutOfOrder("存储空间已满或无法写入", "1"))
        buffer = io.BytesIO()
        pygame.image.save(expected, buffer, "x.png")
        assert png_pixels(unit.get("/v1/sim/display.png").content) == png_pixels(buffer.getvalue())
        assert unit.press(2) == []  # a press is never an HTTP error; nothing is claimed

        filler.unlink()
        wait_until(lambda: unit.state()["storage"]["ok"], timeout=15)
        assert unit.state()["screen"] != "OutOfOrder"
        after = unit.post("/v1/transactions/complete", {})
        assert after.status_code == 200
        acknowledged.add(after.json()["transaction_id"])
        assert unit.press(3) == ["rating.submitted"]

        events = unit.events()
        verify_chain(events, events[0]["stream_id"])
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        stored = {e["data"]["transaction_id"] for e in events if e["type"] == "transaction.completed"}
        assert acknowledged <= stored
        record(request.node.nodeid, "state dir on a 3 MB tmpfs, filled to ENOSPC, then freed",
               {"transactions acknowledged": len(acknowledged), "events committed": len(events),
                "acknowledged but lost": len(acknowledged - stored)})
    finally:
        unit.stop()

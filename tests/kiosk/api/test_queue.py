"""The queue through the unit's HTTP API only: tickets from the sim keys and the API, the printed
bytes, calling, transfers, notices, errors in the documented shape (the unit in this process:
tests.support.unit_app); the queue intact after kill -9, and a counter unit calling through the
hall's queue host over the network (real `kiosk run --sim` processes, marked slow)."""
from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import pygame
import pytest

from kiosk.screens.renderer import Renderer
from kiosk.screens.views import Idle, StaffCard
from protocol.chain import verify_chain
from kiosk.simpanel.escpos import QrCode, decode
from tests.support.sim_unit import SimUnit, wait_until
from tests.support.unit_app import UnitApp

from tests.support.paths import REPO  # noqa: E402
SIM_TOML = (REPO / "kiosk" / "defaults" / "sim.toml").read_text(encoding="utf-8")
CALL_B001_AT_1 = ["call_please", "B", "0", "0", "1", "call_number", "call_to_window", "1", "call_window"]


def config(tmp_path: Path, name: str, *, role: str = "both", counter: str = "1", queue_lines: str = "") -> Path:
    text = SIM_TOML.replace('role = "both"', f'role = "{role}"').replace('counter_id = "1"',
                                                                        f'counter_id = "{counter}"')
    text = text.replace("[queue]\n", "[queue]\n" + queue_lines)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    return port


def of_type(events: list[dict], event_type: str) -> list[dict]:
    return [event["data"] for event in events if event["type"] == event_type]


def ticket_key(unit: SimUnit | UnitApp, key: int) -> list[str]:
    response = unit.post(f"/v1/sim/ticket-keys/{key}/press")
    assert response.status_code == 200
    return response.json()["events"]


def printed_numbers(unit: SimUnit | UnitApp) -> list[str]:
    return [line.text for line in decode(unit.get("/v1/sim/printer").content).lines if line.width >= 4]


def started(unit: UnitApp) -> UnitApp:
    """Started, and past its first printer check (so that check's printer.status is behind us)."""
    unit.start()
    wait_until(lambda: unit.state()["printer"]["checked_at"], timeout=10)
    return unit


@pytest.fixture
def unit(tmp_path):
    unit = started(UnitApp(tmp_path / "state", config=config(tmp_path, "both")))
    yield unit
    unit.stop()


def test_tickets_calls_and_notices_through_the_api(unit):
    # Tickets from the dispenser keys: a double tap prints one; the default 3 s lockout (long enough for
    # a loaded CI machine to answer the first press within it) ends.
    assert ticket_key(unit, 2) == ["ticket.issued"]
    assert ticket_key(unit, 2) == []
    assert unit.post("/v1/sim/ticket-keys/9/press").json()["error"]["code"] == "unknown_key"
    issued = unit.post("/v1/tickets", {"category": "V"})
    assert issued.status_code == 200
    assert issued.json() | {"issued_at": ""} == {"ticket": "V001", "category": "V", "priority": True,
                                                 "waiting_ahead": 0, "estimated_wait_min": 0, "surge": False,
                                                 "issued_at": ""}
    assert unit.post("/v1/tickets", {"category": "Z"}).json()["error"]["code"] == "unknown_category"
    assert unit.post("/v1/tickets", {}).status_code == 422
    printout = decode(unit.get("/v1/sim/printer").content)
    assert printed_numbers(unit) == ["B001", "V001"]
    assert [qr.data for qr in printout.of_kind(QrCode)] == [
        f"https://gjj.example.gov.cn/queue?ticket={n}&date={issued.json()['issued_at'][:10]}" for n in ("B001", "V001")]

    # Paper out: the key and the API use no number; paper back: the numbering goes on.
    assert unit.post("/v1/sim/printer/paper", {"state": "out"}).status_code == 200
    time.sleep(3.05)
    assert ticket_key(unit, 1) == ["printer.status", "ticket.print_failed"]
    refused = unit.post("/v1/tickets", {"category": "B"})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "printer_unavailable"
    assert unit.state()["printer"]["paper"] == "out"
    unit.post("/v1/sim/printer/paper", {"state": "near_end"})
    assert unit.post("/v1/tickets", {"category": "B"}).json()["ticket"] == "B002"

    # Calling: refused before sign-in; priority first; the screen and the voice have the number.
    refused = unit.post("/v1/queue/call-next")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_signed_in"
    unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
    first = unit.post("/v1/queue/call-next").json()
    assert {k: first[k] for k in ("ticket", "category", "counter_id")} == \
        {"ticket": "V001", "category": "V", "counter_id": "1"}
    assert unit.post("/v1/queue/call-next").json()["ticket"] == "B001"
    state = unit.state()
    assert state["serving_ticket"] == "B001" and state["screen"] == "Idle"
    assert unit.get("/v1/sim/speech").json()["said"][-18:] == CALL_B001_AT_1 * 2
    queue = unit.get("/v1/queue").json()
    assert queue["waiting"] == {"A": 0, "B": 1, "C": 0, "D": 0, "V": 0}
    assert queue["serving"] == {"1": "B001"}
    assert [c["ticket"] for c in queue["last_called"]] == ["B001", "V001"]

    # Completing opens the rating with the ticket and its category; the rating carries them.
    transaction = unit.post("/v1/transactions/complete", {}).json()["transaction_id"]
    assert unit.press(1) == ["rating.submitted"]

    recall = unit.post("/v1/queue/recall").json()
    assert (recall["ticket"], recall["event"]) == ("B001", "ticket.recalled")
    moved = unit.post("/v1/queue/transfer", {"to_category": "C"}).json()
    assert (moved["ticket"], moved["category"], moved["to_category"]) == ("B001", "C", "C")
    assert unit.post("/v1/queue/transfer", {"to_counter": "2", "to_category": "C"}).status_code == 422
    assert unit.post("/v1/queue/call-next").json()["ticket"] == "B001"    # its place kept, ahead of B002
    assert unit.post("/v1/queue/no-show").json()["event"] == "ticket.no_show"
    assert unit.post("/v1/queue/recall").json()["error"]["code"] == "nothing_serving"
    assert unit.post("/v1/queue/call-next").json()["ticket"] == "B002"
    assert unit.post("/v1/tickets/reprint", {"ticket": "B002"}).json()["ticket"] == "B002"
    assert unit.post("/v1/queue/call-next").json()["error"]["code"] == "queue_empty"

    # 一次性告知清单 from the shipped items.
    notice = unit.post("/v1/notices/print", {"service_item": "TQ01"})
    assert notice.status_code == 200 and notice.json()["copies"] == 2
    assert unit.post("/v1/notices/print", {"service_item": "NOPE"}).status_code == 404
    missing = unit.post("/v1/notices/print", {})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "service_item"
    texts = decode(unit.get("/v1/sim/printer").content).texts
    assert texts.count("一次性告知清单") == 2 and "申请人签字：__________" in texts

    events = unit.events()
    verify_chain(events, events[0]["stream_id"])
    completed = of_type(events, "transaction.completed")[0]
    assert (completed["transaction_id"], completed["ticket"], completed["service_item"]) == \
        (transaction, "B001", "提取")
    assert of_type(events, "rating.submitted")[0]["ticket"] == "B001"
    assert of_type(events, "ticket.print_failed") == [{"category": "A", "why": "paper_out"},
                                                      {"category": "B", "why": "paper_out"}]
    assert [d["ticket"] for d in of_type(events, "ticket.issued")] == ["B001", "V001", "B002"]
    assert of_type(events, "ticket.called")[0] == {"ticket": "V001", "counter_id": "1", "staff_id": "1001",
                                                   "category": "V"}
    assert of_type(events, "ticket.transferred")[0] == {"ticket": "B001", "from_counter": "1",
                                                        "staff_id": "1001", "to_category": "C"}
    assert of_type(events, "notice.printed") == [{"service_item": "TQ01", "counter_id": "1",
                                                  "staff_id": "1001", "copies": 2}]
    assert of_type(events, "ticket.reprinted")[0]["ticket"] == "B002"


@pytest.mark.slow
def test_queue_intact_after_kill_9_mid_day(tmp_path):
    state = tmp_path / "state"
    path = config(tmp_path, "both")
    unit = SimUnit(state, config=path).start()
    try:
        for category in "AAVBA":
            assert unit.post("/v1/tickets", {"category": category}).status_code == 200
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        assert unit.post("/v1/queue/call-next").json()["ticket"] == "V001"
        assert unit.post("/v1/queue/call-next").json()["ticket"] == "A001"
        assert unit.post("/v1/queue/recall").status_code == 200
        before = unit.get("/v1/queue").json()
    finally:
        unit.kill()
    unit = SimUnit(state, config=path).start()
    try:
        after = unit.get("/v1/queue").json()
        assert after == before
        assert unit.state()["serving_ticket"] == "A001"
        assert unit.post("/v1/tickets", {"category": "A"}).json()["ticket"] == "A004"
        assert [unit.post("/v1/queue/call-next").json()["ticket"] for _ in range(4)] == \
            ["A002", "B001", "A003", "A004"]
        events = unit.events()
        verify_chain(events, events[0]["stream_id"])
        numbers = [d["ticket"] for d in of_type(events, "ticket.issued")]
        assert len(numbers) == len(set(numbers)) == 6
    finally:
        unit.kill()


def png_pixels(png: bytes) -> bytes:
    return pygame.image.tobytes(pygame.image.load(io.BytesIO(png), "x.png"), "RGB")


@pytest.mark.slow
def test_counter_calls_through_the_queue_host_and_copes_without_it(tmp_path):
    host_listen = f"127.0.0.1:{free_port()}"   # fixed, so the counter finds the host after a restart
    host_config = config(tmp_path, "host")
    counter_config = config(tmp_path, "counter", role="counter", counter="2", queue_lines=(
        f'host_url = "http://{host_listen}"\nhost_token = "sim"\nhost_timeout_s = 1\nhost_poll_s = 1\n'))
    host = SimUnit(tmp_path / "host", config=host_config, listen=host_listen).start()
    counter = SimUnit(tmp_path / "counter", config=counter_config).start()
    try:
        assert counter.post("/v1/sim/ticket-keys/1/press").json()["error"]["code"] == "no_ticket_keys"
        assert counter.post("/v1/tickets", {"category": "B"}).json()["error"]["code"] == "not_queue_host"
        for category in "BA":
            host.post("/v1/tickets", {"category": category})
        assert counter.post("/v1/queue/call-next").json()["error"]["code"] == "not_signed_in"
        counter.post("/v1/staff/sign-in", {"staff_id": "1002"})
        called = counter.post("/v1/queue/call-next").json()
        assert {k: called[k] for k in ("ticket", "category", "counter_id")} == \
            {"ticket": "B001", "category": "B", "counter_id": "2"}
        # The host holds the queue event and says it in the hall; the counter learned its number.
        assert of_type(host.events(), "ticket.called") == [{"ticket": "B001", "counter_id": "2",
                                                            "staff_id": "1002", "category": "B"}]
        assert not of_type(counter.events(), "ticket.called")
        assert counter.state()["serving_ticket"] == "B001"
        assert host.get("/v1/queue").json()["serving"] == {"2": "B001"}
        assert counter.get("/v1/queue").json()["serving"] == {"2": "B001"}
        assert host.get("/v1/sim/speech").json()["said"] == ["call_please", "B", "0", "0", "1", "call_number",
                                                             "call_to_window", "2", "call_window"] * 2
        assert counter.get("/v1/sim/speech").json()["said"] == []   # not twice in the hall
        # Acting for another counter is the host's business, with that counter's staff named.
        assert host.post("/v1/queue/call-next", {"counter_id": "3"}).json()["error"]["field"] == "staff_id"

        # The host goes away: the counter says so, calling fails clearly, rating goes on.
        host.kill()
        refused = counter.post("/v1/queue/call-next")
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_host_unreachable"
        assert counter.state()["queue"]["link"] == "down"
        card = StaffCard("1002", "李建国", "2", "贷款业务岗", "个人住房公积金贷款受理、面签", queue_offline=True,
                         serving_ticket="B001")
        assert png_pixels(counter.get("/v1/sim/display.png").content) == \
            png_pixels(_png(Renderer((800, 480)).render(Idle(card))))
        counter.post("/v1/transactions/complete", {})
        assert counter.press(2) == ["rating.submitted"]
        rating = of_type(counter.events(), "rating.submitted")[0]
        assert (rating["ticket"], rating["service_item"], rating["counter_id"]) == ("B001", "提取", "2")

        # Back again (kill -9 lost nothing): the counter finds it by itself.
        host = SimUnit(tmp_path / "host", config=host_config, listen=host_listen).start()
        wait_until(lambda: counter.state()["queue"]["link"] == "ok", timeout=10)
        assert counter.post("/v1/queue/call-next").json()["ticket"] == "A001"
    finally:
        host.kill()
        counter.kill()


def _png(surface) -> bytes:
    buffer = io.BytesIO()
    pygame.image.save(surface, buffer, "screen.png")
    return buffer.getvalue()

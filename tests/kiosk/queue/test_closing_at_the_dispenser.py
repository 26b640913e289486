"""结束营业 closes the dispenser (issue 14, item 9), through the units' APIs, sim keys, printer,
screen and speaker: a `both` unit whose only counter closed (in this process, tests.support.unit_app),
a dispenser past the hall's closing time, and a queue host with a counter that calls through it
over the network (real `kiosk run --sim` processes, marked slow)."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk.screens.views import Dispenser, TicketsStopped
from tests.kiosk.api.test_queue import free_port, of_type, printed_numbers, ticket_key
from tests.support.paths import REPO
from tests.support.sim_unit import SimUnit, wait_until
from tests.support.unit_app import UnitApp

SIM_TOML = (REPO / "kiosk" / "defaults" / "sim.toml").read_text(encoding="utf-8")


def config(tmp_path: Path, name: str, *, role: str = "both", counter: str = "1", queue_lines: str = "") -> Path:
    text = SIM_TOML.replace('role = "both"', f'role = "{role}"').replace('counter_id = "1"', f'counter_id = "{counter}"')
    if "reset_time" in queue_lines:   # given here instead of the sim config's own
        text = text.replace('reset_time = "00:00"\n', "")
    text = text.replace("lockout_s = 3", "lockout_s = 0").replace("[queue]\n", "[queue]\n" + queue_lines)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(unit, category: str) -> dict:
    response = unit.post("/v1/tickets", {"category": category})
    assert response.status_code == 409, response.text
    return response.json()["error"]


def test_the_only_counter_closing_closes_a_both_units_dispenser(tmp_path):
    path = config(tmp_path, "both")
    unit = UnitApp(tmp_path / "state", config=path).start()
    try:
        assert unit.post("/v1/tickets", {"category": "C"}).json()["ticket"] == "C001"
        unit.post("/v1/staff/sign-in", {"staff_id": "1001"})
        assert unit.post("/v1/counter/pause", {"reason": "closing"}).status_code == 200

        # The C001 "预计等候约 5 分钟" after closing: now nothing is issued, and it says why.
        assert ticket_key(unit, 3) == ["ticket.refused"]
        assert printed_numbers(unit) == ["C001"]
        view = unit.app.current_view()
        assert isinstance(view, Dispenser) and view.stopped == TicketsStopped()
        assert not any(option.open for option in view.options)
        assert unit.get("/v1/sim/speech").json()["said"][-1] == "queue_closed"
        error = refused(unit, "A")
        assert (error["code"], error["why"], error["category"]) == ("queue_closed", "closed", "A")
        queue = unit.get("/v1/queue").json()
        assert queue["stopped"] == {letter: "closed" for letter in "ABCDV"}
        assert queue["counters"] == {"1": "closed"} and queue["waiting"]["C"] == 1   # C001 still waits

        # A restart rebuilds it from the log.
        unit.stop()
        unit.start()
        assert refused(unit, "C")["code"] == "queue_closed"

        assert unit.post("/v1/counter/resume", {}).status_code == 200
        assert unit.post("/v1/tickets", {"category": "C"}).json()["ticket"] == "C002"
        assert unit.post("/v1/queue/call-next").json()["ticket"] == "C001"
        events = unit.events()
        assert of_type(events, "ticket.refused") == [{"category": "C", "why": "closed"},
                                                     {"category": "A", "why": "closed"},
                                                     {"category": "C", "why": "closed"}]
        assert [d["ticket"] for d in of_type(events, "ticket.issued")] == ["C001", "C002"]
        assert not of_type(events, "ticket.print_failed")
    finally:
        unit.stop()


def test_past_the_halls_closing_time_the_dispenser_says_so_without_a_press(tmp_path):
    hall_now = datetime.now(ZoneInfo("Asia/Shanghai"))
    # Closed two minutes ago; the day began three hours ago: whatever the hour this test runs at.
    closing, reset = ((hall_now - timedelta(minutes=minutes)).strftime("%H:%M") for minutes in (2, 180))
    path = config(tmp_path, "dispenser", role="dispenser", counter="0",
                  queue_lines=f'closing_time = "{closing}"\nreset_time = "{reset}"\n')
    unit = UnitApp(tmp_path / "state", config=path).start()
    try:
        view = unit.app.current_view()
        assert isinstance(view, Dispenser) and view.stopped == TicketsStopped(after_hours=True)
        assert ticket_key(unit, 1) == ["ticket.refused"]
        assert refused(unit, "B")["why"] == "after_hours"
        assert of_type(unit.events(), "ticket.refused") == [{"category": "A", "why": "after_hours"},
                                                            {"category": "B", "why": "after_hours"}]
        assert printed_numbers(unit) == []
    finally:
        unit.stop()


@pytest.mark.slow
def test_a_counter_closing_through_the_queue_host_closes_the_hosts_dispenser(tmp_path):
    host_listen = f"127.0.0.1:{free_port()}"   # fixed, so the counter finds the host after a restart
    host_config = config(tmp_path, "host", role="dispenser", counter="0",
                         queue_lines='counters = { "2" = ["A", "B"], "3" = ["C", "D", "V"] }\n')
    counter_config = config(tmp_path, "counter", role="counter", counter="2", queue_lines=(
        f'host_url = "http://{host_listen}"\nhost_token = "sim"\nhost_timeout_s = 1\nhost_poll_s = 1\n'
        'counters = { "2" = ["A", "B"], "3" = ["C", "D", "V"] }\n'))
    host = SimUnit(tmp_path / "host", config=host_config, listen=host_listen).start()
    counter = SimUnit(tmp_path / "counter", config=counter_config).start()

    def host_knows(state: str) -> bool:
        return host.get("/v1/queue").json()["counters"].get("2") == state

    try:
        wait_until(lambda: host_knows("open"))            # the counter told the host at start
        counter.post("/v1/staff/sign-in", {"staff_id": "1002"})
        # The host's refusals reach the counter as they are (409 queue_empty, not a 500).
        empty = counter.post("/v1/queue/call-next")
        assert (empty.status_code, empty.json()["error"]["code"]) == (409, "queue_empty")
        assert host.post("/v1/tickets", {"category": "A"}).json()["ticket"] == "A001"

        assert counter.post("/v1/counter/pause", {"reason": "closing"}).status_code == 200
        wait_until(lambda: host_knows("closed"))
        # 缴存 and 提取 are counter 2's: stopped; counter 3 (never heard of) still takes 贷款.
        assert ticket_key(host, 1) == ["ticket.refused"]
        assert host.get("/v1/queue").json()["stopped"] == {"A": "closed", "B": "closed"}
        assert host.post("/v1/tickets", {"category": "C"}).json()["ticket"] == "C001"
        assert refused(host, "B")["code"] == "queue_closed"
        assert of_type(host.events(), "queue.counter_closed") == [{"counter_id": "2"}]
        assert [e["type"] for e in counter.events() if e["type"].startswith(("ticket.", "queue."))] == []

        # kill -9 of the host loses nothing: it still knows counter 2 closed.
        host.kill()
        host = SimUnit(tmp_path / "host", config=host_config, listen=host_listen).start()
        assert refused(host, "A")["why"] == "closed"

        assert counter.post("/v1/counter/resume", {}).status_code == 200
        wait_until(lambda: host_knows("open"))
        assert host.post("/v1/tickets", {"category": "A"}).json()["ticket"] == "A002"
        assert counter.post("/v1/queue/call-next").json()["ticket"] == "A001"   # what waited was kept
        assert [d["counter_id"] for d in of_type(host.events(), "queue.counter_opened")] == ["2", "2"]
    finally:
        host.kill()
        counter.kill()

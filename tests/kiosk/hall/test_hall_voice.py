"""The hall voice with real units (`kiosk run --sim` processes on 127.0.0.1): the queue host says
every call in the hall, its own counter's, a counter's calling through it and one it makes for a
counter without a unit, in the order made, each once, a recall again; a counter calling through
the host is silent, unless voice.own_calls is set."""
from __future__ import annotations

import pytest

from tests.kiosk.hall.halls import call_said, free_port, unit_config
from tests.support.sim_unit import SimUnit

pytestmark = pytest.mark.slow


def said(unit: SimUnit) -> list[str]:
    return unit.get("/v1/sim/speech").json()["said"]


def test_the_host_says_every_call_and_the_counters_only_when_set_to(tmp_path):
    host_listen = f"127.0.0.1:{free_port()}"
    host = SimUnit(tmp_path / "host", config=unit_config(tmp_path, "host"), listen=host_listen)
    silent = SimUnit(tmp_path / "c2", config=unit_config(tmp_path, "c2", role="counter", counter="2",
                                                         host_listen=host_listen))
    speaking = SimUnit(tmp_path / "c3", config=unit_config(tmp_path, "c3", role="counter", counter="3",
                                                           host_listen=host_listen,
                                                           voice_lines="own_calls = true\n"))
    units = [host.start(), silent.start(), speaking.start()]
    try:
        for _ in range(4):
            assert host.post("/v1/tickets", {"category": "A"}).status_code == 200
        silent.post("/v1/staff/sign-in", {"staff_id": "1002"})
        speaking.post("/v1/staff/sign-in", {"staff_id": "1003"})
        host.post("/v1/staff/sign-in", {"staff_id": "1001"})
        assert silent.post("/v1/queue/call-next").json()["ticket"] == "A001"
        assert speaking.post("/v1/queue/call-next").json()["ticket"] == "A002"
        # Counter 5 has no unit: the host calls for it (a staff PC, the console of another unit).
        assert host.post("/v1/queue/call-next", {"counter_id": "5", "staff_id": "1005"}).json()["ticket"] == "A003"
        assert host.post("/v1/queue/call-next").json()["ticket"] == "A004"
        assert silent.post("/v1/queue/recall").json()["event"] == "ticket.recalled"

        assert said(host) == (call_said("A001", "2") + call_said("A002", "3") + call_said("A003", "5")
                              + call_said("A004", "1") + call_said("A001", "2"))
        assert said(silent) == []
        assert said(speaking) == call_said("A002", "3")
        # Nothing is said again once the calls are done: a poll of the host or a snapshot says nothing.
        silent.get("/v1/queue")
        host.get("/v1/queue")
        assert len(said(host)) == 5 * len(call_said("A001", "2"))
    finally:
        for unit in units:
            unit.kill()

"""The hall display's live stream from a real `kiosk run --sim` on 127.0.0.1: a call is in the
next board sent, and the hall's own bound on open streams (a 17th TV is refused and retries) leaves
the rest of the unit answering."""
from __future__ import annotations

import json

import pytest
import requests

from kiosk.hall.routes import HALL_STREAMS
from tests.support.sim_unit import SimUnit

pytestmark = pytest.mark.slow
SSE = {"Accept": "text/event-stream"}


def boards(response: requests.Response):
    """The boards a stream sends, as they come."""
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data: "):
            yield json.loads(line[6:])


def test_a_call_comes_down_the_stream_and_the_hall_streams_are_bounded(tmp_path):
    unit = SimUnit(tmp_path / "host").start()
    streams: list[requests.Response] = []
    try:
        stream = requests.get(unit.url + "/hall/api/stream", headers=SSE, stream=True, timeout=10)
        streams.append(stream)
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        sent = boards(stream)
        assert next(sent)["serving"] == []
        unit.post("/v1/tickets", {"category": "B"})
        unit.post("/v1/queue/call-next", {"counter_id": "4", "staff_id": "1002"})
        board = next(board for board in sent if board["serving"])
        assert board["serving"] == [{"ticket": "B001", "counter_id": "4", "category": "提取"}]
        assert board["last_called"][0]["ticket"] == "B001"

        for _ in range(HALL_STREAMS - 1):
            streams.append(requests.get(unit.url + "/hall/api/stream", headers=SSE, stream=True, timeout=10))
        assert all(s.status_code == 200 for s in streams)
        refused = requests.get(unit.url + "/hall/api/stream", headers=SSE, timeout=10)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "too_many_streams"
        assert unit.get("/v1/queue").json()["serving"] == {"4": "B001"}   # the unit still answers
        assert requests.get(unit.url + "/hall/api/board", timeout=10).status_code == 200
        streams.pop().close()                                             # a TV left: its slot is free
        for _ in range(50):
            again = requests.get(unit.url + "/hall/api/stream", headers=SSE, stream=True, timeout=10)
            if again.status_code == 200:
                streams.append(again)
                break
            again.close()
            unit.post("/v1/sim/keys/1/press")    # a change wakes the closed stream's loop to notice
        else:
            raise AssertionError("the slot of a closed stream was never freed")
    finally:
        for stream in streams:
            stream.close()
        unit.kill()

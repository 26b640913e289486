"""A unit stops on SIGTERM although a live page (a console) has its stream open: the change feed
closes and every stream ends, instead of holding uvicorn's graceful stop for ever (systemd would
wait out TimeoutStopSec and kill it)."""
from __future__ import annotations

import asyncio
import threading

import pytest
import requests

from kiosk.api.stream import StreamSlots, event_stream
from kiosk.live import ChangeFeed
from tests.kiosk.console.console_unit import SIM_PIN
from tests.support.sim_unit import SimUnit, wait_until


class Page:
    async def is_disconnected(self) -> bool:
        return False


def test_a_stream_ends_when_the_feed_closes():
    async def scenario():
        feed = ChangeFeed()
        chunks = event_stream(Page(), feed, lambda: {"n": 1}, StreamSlots()).body_iterator
        assert await anext(chunks) == b"retry: 1000\n\n"
        assert await anext(chunks) == b'data: {"n":1}\n\n'
        pending = asyncio.ensure_future(anext(chunks))
        feed.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(pending, 1)
    asyncio.run(scenario())


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_kiosk_run_stops_on_sigterm_with_a_console_stream_open(tmp_path):
    unit = SimUnit(tmp_path / "unit").start()
    ended = threading.Event()
    try:
        browser = requests.Session()
        csrf = browser.get(f"{unit.url}/console/api/session", timeout=10).json()["csrf"]
        assert browser.post(f"{unit.url}/console/api/sign-in", json={"staff_id": "1001", "pin": SIM_PIN},
                            headers={"X-CSRF-Token": csrf, "Origin": unit.url}, timeout=10).status_code == 200
        opened = threading.Event()

        def read() -> None:
            with browser.get(f"{unit.url}/console/api/stream", stream=True, timeout=(10, 60)) as stream:
                for line in stream.iter_lines():
                    if line.startswith(b"data: "):
                        opened.set()
            ended.set()

        threading.Thread(target=read, daemon=True).start()
        assert opened.wait(10)
        assert unit.stop() == 0           # SIGTERM; SimUnit.stop kills and raises after 15 s
        assert wait_until(ended.is_set, 5)
    finally:
        unit.kill()

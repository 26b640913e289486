"""The change feed and the live stream the unit's pages are built on."""
from __future__ import annotations

import asyncio
import json

import pytest

from kiosk.api.errors import status_for
from kiosk.api.stream import StreamSlots, event_stream
from kiosk.live import ChangeFeed
from kiosk.refusals import Refused


def test_a_waiter_wakes_on_the_next_change_and_times_out_without_one():
    async def scenario():
        feed = ChangeFeed()
        assert await feed.wait_past(-1, 5) == 0            # already past: at once
        waiter = asyncio.create_task(feed.wait_past(0, 5))
        await asyncio.sleep(0)
        feed.bump()
        assert await asyncio.wait_for(waiter, 1) == 1
        assert await feed.wait_past(1, 0.01) == 1          # nothing moved: the same version
    asyncio.run(scenario())


class Client:
    """What event_stream asks of a request: whether the browser went away."""

    def __init__(self) -> None:
        self.gone = False

    async def is_disconnected(self) -> bool:
        return self.gone


def test_the_stream_sends_a_snapshot_only_when_it_changed_and_bounds_its_clients():
    async def scenario():
        feed, slots, state = ChangeFeed(), StreamSlots(limit=1), {"serving": "A001"}
        client = Client()
        response = event_stream(client, feed, lambda: dict(state), slots)
        assert response.media_type == "text/event-stream"
        chunks = response.body_iterator
        assert await anext(chunks) == b"retry: 1000\n\n"
        assert json.loads((await anext(chunks))[6:]) == {"serving": "A001"}
        assert slots.open == 1
        with pytest.raises(Refused) as refused:      # past the bound: refused (503), not queued
            event_stream(Client(), feed, lambda: dict(state), slots)
        assert status_for(refused.value.code) == 503
        pending = asyncio.ensure_future(anext(chunks))
        feed.bump()                                  # moved, but the same snapshot: nothing sent
        await asyncio.sleep(0.05)
        assert not pending.done()
        state["serving"] = "A002"
        feed.bump()
        assert json.loads((await asyncio.wait_for(pending, 1))[6:]) == {"serving": "A002"}
        client.gone = True
        feed.bump()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(chunks), 1)
        assert slots.open == 0                       # a browser that left frees its slot
    asyncio.run(scenario())

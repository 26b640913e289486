"""Server-sent events for the unit's live pages (console, hall display, sim panel): each client
gets the page's snapshot at once and again whenever it changes, within the change feed's wake-up,
and a comment line every `HEARTBEAT_S` so a proxy or a TV browser never sees a silent connection.

A snapshot is JSON; it is sent only when it differs from the last one sent to that client, so a
feed that moves every second (the rating countdown) costs a comparison, not traffic. The number
of open streams is bounded: a page past the bound is refused with 503 and the page's script
(kiosk/api/static/live.js) opens it again after a pause (a browser's EventSource does not retry a
503 by itself), which keeps 20 consoles and a few hall TVs well inside the unit's
connection limits.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import StreamingResponse

from kiosk.live import ChangeFeed
from kiosk.refusals import Refused

HEARTBEAT_S = 15.0
RETRY_MS = 1000          # how soon a browser reconnects after the stream ends (host restart)


class StreamSlots:
    """At most `limit` streams open at once, over every page that shares this object."""

    def __init__(self, limit: int = 48) -> None:
        self.limit = limit
        self.open = 0


def event_stream(request: Request, feed: ChangeFeed, snapshot: Callable[[], dict[str, Any]],
                 slots: StreamSlots) -> StreamingResponse:
    if slots.open >= slots.limit:
        raise Refused("too_many_streams", f"{slots.limit} live pages are open already; retrying")

    async def body() -> AsyncIterator[bytes]:
        slots.open += 1
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            loop = asyncio.get_running_loop()
            sent: str | None = None
            sent_at = loop.time()
            version = -1
            while True:
                version = await feed.wait_past(version, HEARTBEAT_S)
                if feed.closed or await request.is_disconnected():
                    return   # the unit is stopping (the page reconnects to the next one), or the page left
                text = json.dumps(snapshot(), ensure_ascii=False, separators=(",", ":"))
                if text != sent:
                    sent, sent_at = text, loop.time()
                    yield f"data: {text}\n\n".encode("utf-8")
                elif loop.time() - sent_at >= HEARTBEAT_S:
                    sent_at = loop.time()
                    yield b": alive\n\n"
        finally:
            slots.open -= 1

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

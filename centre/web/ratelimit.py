"""Repeated wrong bearer tokens from one client address are answered 429 for a while.

Tokens are 256-bit, so guessing is hopeless anyway; the limit stops a misconfigured or hostile
client from filling the log and keeping the database busy with token look-ups.

Counted: a request that carried an `Authorization` header and was answered 401. Not counted:
successes, and requests without the header (health checks, dashboard sessions). While a client is
over the limit, every request of its that carries an `Authorization` header is refused before the
token is looked at, so a 429 never tells a right token from a wrong one. Units behind one NAT share
an address: a unit locked out this way keeps its events and uploads after Retry-After.
"""
from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque
from typing import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_FAILURES = 20
DEFAULT_WINDOW_S = 60.0
# Addresses remembered at once; beyond it the one that failed longest ago is forgotten first, so a
# flood from many addresses costs at most this many small deques.
DEFAULT_MAX_CLIENTS = 4096


class FailureLimiter:
    """Failures per client address in a sliding window; bounded in addresses and in failures each."""

    def __init__(self, max_failures: int = DEFAULT_MAX_FAILURES, window_s: float = DEFAULT_WINDOW_S,
                 max_clients: int = DEFAULT_MAX_CLIENTS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._monotonic = monotonic
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after_s(self, client: str) -> int | None:
        """Whole seconds until `client` may try again, or None if it is not over the limit."""
        now = self._monotonic()
        times = self._recent(client, now)
        if times is None or len(times) < self.max_failures:
            return None
        return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, client: str) -> None:
        now = self._monotonic()
        times = self._recent(client, now)
        if times is None:
            while len(self._failures) >= self.max_clients:
                self._failures.popitem(last=False)
            times = self._failures[client] = deque(maxlen=self.max_failures)
        times.append(now)
        self._failures.move_to_end(client)


class BadTokenLimit:
    """ASGI middleware around the app: counts 401s per client address, answers 429 over the limit."""

    def __init__(self, app: ASGIApp, limiter: FailureLimiter | None = None) -> None:
        self.app = app
        self.limiter = limiter or FailureLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(name == b"authorization" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        retry_after = self.limiter.retry_after_s(client)
        if retry_after is not None:
            await _too_many(send, retry_after)
            return

        async def send_counting_failures(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.limiter.failed(client)
            await send(message)

        await self.app(scope, receive, send_counting_failures)


async def _too_many(send: Send, retry_after_s: int) -> None:
    # The centre's error shape (centre/web/errors.py), written here because no handler runs this early.
    body = json.dumps({"error": {"code": "rate_limited", "message":
                                 f"too many wrong tokens from this address; retry after {retry_after_s} s"}}
                      ).encode("utf-8")
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after_s).encode())]})
    await send({"type": "http.response.body", "body": body})

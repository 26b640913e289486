"""Bounds on the server's connections that uvicorn's httptools protocol does not have.

What uvicorn 0.54 does on its own (uvicorn/protocols/http/httptools_impl.py): it closes a
connection idle `timeout_keep_alive` seconds after an answer, but arms no timer before a
connection's first request, and any byte received cancels the keep-alive timer; httptools takes
a request head of any size. So a client that opens a connection and sends nothing, or trickles its
headers a byte at a time, holds the connection (and a file descriptor) forever, and one endless
header grows the server's memory without bound. `limit_concurrency` only answers 503 to a request
that got through its head, and leaves the connection open.

This protocol class adds, at the layer that sees bytes arrive:
- a head deadline: the request line and headers must be complete HEAD_TIMEOUT_S after the
  connection opened or the previous answer went out, else the connection is closed. A request
  being answered, however long it takes, is never cut; its body's pace is bounded where the body
  is read (centre.web.bodies.BodySizeLimit);
- a head size: more than MAX_HEAD_BYTES before the headers end is answered 431 and closed;
- a connection cap: MAX_CONNECTIONS_PER_CLIENT open connections per client address (units in a
  hall and the browsers of an office may share one behind NAT: generous) and max_connections() in
  all; one beyond is closed as it opens, before a byte is read, so one client cannot take every
  file descriptor from the units and the dashboard.

Counts are per server process. uvicorn is given the class by its import path (`centre serve`,
also with --workers).
"""
from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections import Counter
from functools import cache
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("centre")

PROTOCOL_PATH = f"{__name__}:BoundedHttpToolsProtocol"
HEAD_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 64 * 1024
MAX_CONNECTIONS_PER_CLIENT = 256
MAX_CONNECTIONS = 4096
# File descriptors kept back from connections: the database, log files, the listening sockets.
RESERVED_DESCRIPTORS = 128


@cache
def max_connections() -> int:
    """MAX_CONNECTIONS, or fewer where the process may open fewer files than that."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - RESERVED_DESCRIPTORS))


def _head_too_large() -> bytes:
    body = json.dumps({"error": {"code": "too_large", "message":
                                 f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes"}}
                      ).encode("ascii")
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds above."""

    open_by_client: ClassVar[Counter[str]] = Counter()

    _client_address: str | None = None  # set once admitted
    _head_timer: asyncio.TimerHandle | None = None
    _awaiting_head = False
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        opened = self.open_by_client
        if opened[address] >= MAX_CONNECTIONS_PER_CLIENT or sum(opened.values()) >= max_connections():
            log.debug("connection from %s refused: %d open from it", address, opened[address])
            transport.abort()
            return
        self._client_address = address
        opened[address] += 1
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._client_address is None:
            return  # refused as it opened: uvicorn never saw it
        self.open_by_client[self._client_address] -= 1
        if self.open_by_client[self._client_address] <= 0:
            del self.open_by_client[self._client_address]
        self._client_address = None
        self._stop_awaiting_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._awaiting_head:
            return  # the head is complete (perhaps in this very data): what follows is a body
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._stop_awaiting_head()
            self.transport.write(_head_too_large())
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._stop_awaiting_head()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Unless a pipelined request (its head already read) is now being answered.
        if self.cycle is None or self.cycle.response_complete:
            self._await_head()

    def _await_head(self) -> None:
        self._stop_awaiting_head()
        if self.transport.is_closing():
            return
        self._awaiting_head, self._head_bytes = True, 0
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_overdue)

    def _stop_awaiting_head(self) -> None:
        self._awaiting_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self._awaiting_head and not self.transport.is_closing():
            log.debug("closing a connection from %s: no request head within %.0f s",
                      self._client_address, HEAD_TIMEOUT_S)
            self._awaiting_head = False
            self.transport.close()

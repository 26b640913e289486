"""Bounds on the local API's connections that uvicorn itself does not offer.

uvicorn closes a connection that stays idle `timeout_keep_alive` seconds after an answer, but it
has no deadline for a request's head: every byte received cancels that timer, so a client that
trickles its headers a byte at a time holds a connection forever (the attack of issue 15 held
1,100 of them for 40 s), and nothing stops one address from opening as many as the unit has file
descriptors. This wraps uvicorn's HTTP protocol class with:

- a head deadline: the request line and headers must be complete within HEAD_TIMEOUT_S of the
  connection opening or of the previous answer, else the connection is closed (a request being
  handled, however long it takes — a drain of the backlog — is never cut);
- a connection cap: at most MAX_CONNECTIONS_PER_CLIENT open connections per client address and
  MAX_CONNECTIONS in all; one beyond them is closed as it opens, before a byte is read. So one
  device on the LAN cannot crowd out the counters and staff PCs that use the unit.

A body's own pace is bounded where it is read (kiosk.api.bodies), its size there too.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 128
MAX_CONNECTIONS_PER_CLIENT = 32


def bounded_http_protocol(head_timeout_s: float = HEAD_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS,
                          max_per_client: int = MAX_CONNECTIONS_PER_CLIENT) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the bounds above; the counts are shared by every connection of
    the server the class is given to (uvicorn.Config(http=…))."""
    open_by_client: Counter[str] = Counter()

    class BoundedH11Protocol(H11Protocol):
        _address: str | None = None            # set once admitted
        _head_timer: asyncio.TimerHandle | None = None
        _awaited: Any = None                   # the request cycle current when the deadline was set

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if peer else "unknown"
            if sum(open_by_client.values()) >= max_connections or open_by_client[address] >= max_per_client:
                log.debug("connection from %s refused: %d open from it", address, open_by_client[address])
                transport.abort()
                return
            self._address = address
            open_by_client[address] += 1
            super().connection_made(transport)
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._address is None:
                return  # refused as it opened: uvicorn never saw it
            open_by_client[self._address] -= 1
            if open_by_client[self._address] <= 0:
                del open_by_client[self._address]
            self._address = None
            self._cancel_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._head_timer is not None and self.cycle is not self._awaited:
                self._cancel_head_timer()  # a new request's head is complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._await_head()

        def _await_head(self) -> None:
            self._cancel_head_timer()
            if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
                return  # closing, or a pipelined request is already being handled
            self._awaited = self.cycle
            self._head_timer = self.loop.call_later(head_timeout_s, self._head_overdue)

        def _head_overdue(self) -> None:
            self._head_timer = None
            if self.cycle is self._awaited and not self.transport.is_closing():
                log.debug("closing a connection from %s: no request head within %.0f s", self._address,
                          head_timeout_s)
                self.transport.close()

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

    return BoundedH11Protocol

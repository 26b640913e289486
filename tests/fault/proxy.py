"""A loopback TCP proxy that misbehaves on demand, between a unit and its centre (test helper).

It listens on 127.0.0.1 only and forwards to one upstream port on 127.0.0.1. Its `mode` can be
changed at any time from another thread and applies to every chunk of every connection, so a
keep-alive connection opened while the network was fine meets the next fault too:

- `pass`      forward as is
- `delay`     hold each chunk `delay_s` before forwarding it
- `throttle`  forward at most `rate_bps` bytes per second in each direction
- `blackhole` take the bytes and forward nothing, answer nothing (the caller's timeout fires)
- `refuse`    close every connection at once (as a crashed centre or a dead link)
- `reset`     answer with a TCP reset (SO_LINGER 0)
- `lose_answers` forward requests to the centre but drop its answers and close: the centre has
              stored a batch the unit never heard acknowledged, the case exactly-once is about
"""
from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter

MODES = ("pass", "delay", "throttle", "blackhole", "refuse", "reset", "lose_answers")
CHUNK = 16384
CONNECT_TIMEOUT_S = 5.0
START_TIMEOUT_S = 5.0
# A black-holed connection is held at most this long, so the proxy never keeps a socket forever.
BLACKHOLE_HOLD_S = 120.0


class FaultProxy:
    def __init__(self, upstream_port: int, *, delay_s: float = 0.5, rate_bps: int = 2048) -> None:
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.rate_bps = rate_bps
        self.mode = "pass"
        self.port = 0
        # How often each fault acted (per connection or chunk): proof that a fault was exercised.
        self.acted: Counter = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r}")
        self.mode = mode

    # --- life cycle (called from the test's thread) --------------------------------------

    def __enter__(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("fault proxy did not start")
        return self

    def __exit__(self, *_exc) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._shutdown)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._open())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def _shutdown(self) -> None:
        self._server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        self._loop.call_later(0.1, self._loop.stop)

    # --- connections ---------------------------------------------------------------------

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._connections.add(client_writer)
        try:
            if await self._refused_at_once(client_writer):
                return
            try:
                upstream_reader, upstream_writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.upstream_port), CONNECT_TIMEOUT_S)
            except (OSError, asyncio.TimeoutError):
                client_writer.transport.abort()  # the centre itself is down: the unit sees a dead link
                return
            self._connections.add(upstream_writer)
            try:
                await asyncio.gather(self._pump(client_reader, upstream_writer, client_writer, towards_centre=True),
                                     self._pump(upstream_reader, client_writer, client_writer, towards_centre=False))
            finally:
                self._connections.discard(upstream_writer)
                upstream_writer.transport.abort()
        finally:
            self._connections.discard(client_writer)
            client_writer.transport.abort()

    async def _refused_at_once(self, client_writer: asyncio.StreamWriter) -> bool:
        mode = self.mode
        if mode == "refuse":
            self.acted["refuse"] += 1
            client_writer.transport.abort()
            return True
        if mode == "reset":
            self.acted["reset"] += 1
            _reset(client_writer)
            return True
        return False

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    client_writer: asyncio.StreamWriter, *, towards_centre: bool) -> None:
        """Copy one direction chunk by chunk, applying the mode in force for each chunk."""
        while True:
            try:
                chunk = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                chunk = b""
            if not chunk:
                writer.transport.abort()
                return
            mode = self.mode
            if mode == "refuse":
                self.acted["refuse"] += 1
                client_writer.transport.abort()
                return
            if mode == "reset":
                self.acted["reset"] += 1
                _reset(client_writer)
                return
            if mode == "blackhole":
                self.acted["blackhole"] += 1
                await self._swallow(reader)
                client_writer.transport.abort()
                return
            if mode == "lose_answers" and not towards_centre:
                self.acted["lose_answers"] += 1
                client_writer.transport.abort()
                return
            if mode == "delay":
                self.acted["delay"] += 1
                await asyncio.sleep(self.delay_s)
            if mode == "throttle":
                self.acted["throttle"] += 1
                await self._write_throttled(writer, chunk)
            else:
                writer.write(chunk)
            try:
                await writer.drain()
            except (ConnectionError, OSError):
                return

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        """Read and discard until the other side gives up (or the hold limit passes)."""
        try:
            async with asyncio.timeout(BLACKHOLE_HOLD_S):
                while await reader.read(CHUNK):
                    pass
        except (TimeoutError, ConnectionError, OSError):
            pass

    async def _write_throttled(self, writer: asyncio.StreamWriter, chunk: bytes) -> None:
        slice_bytes = max(1, self.rate_bps // 10)
        for start in range(0, len(chunk), slice_bytes):
            writer.write(chunk[start:start + slice_bytes])
            await asyncio.sleep(0.1)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

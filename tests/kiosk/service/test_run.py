"""The API's listening socket: what the sockets it accepts are set up with."""
from __future__ import annotations

import asyncio
import socket

import pytest

from kiosk.service.run import ListenError, bind_listener


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "[::1]:0"])
def test_accepted_connections_send_without_waiting_for_acks(listen):
    """A reply written in two pieces (headers, body) must not wait for the client's delayed ACK:
    on a kept-alive connection that made every request ~40 ms. asyncio sets TCP_NODELAY on the
    connections uvicorn accepts from this socket only when the socket says it is TCP."""
    try:
        sock = bind_listener(listen)
    except ListenError:
        pytest.skip(f"{listen} is not available on this machine")

    async def accepted_nodelay() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                option = transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                accepted.set_result(option)
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        host, port = sock.getsockname()[:2]
        try:
            _, writer = await asyncio.open_connection(host, port)
            option = await asyncio.wait_for(accepted, 5)
            writer.close()
            return option
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0


def test_a_taken_address_is_a_clear_error():
    first = bind_listener("127.0.0.1:0")
    port = first.getsockname()[1]
    try:
        with pytest.raises(ListenError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_listener(f"127.0.0.1:{port}")
    finally:
        first.close()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_second_kiosk_run_on_a_state_dir_in_use_exits_at_once_naming_the_first(tmp_path):
    """It used to print an API URL and then log "in use by another kiosk process" every 2 s forever."""
    import os
    import subprocess
    import sys

    from tests.support.sim_unit import SimUnit

    first = SimUnit(tmp_path / "unit").start()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "run", "--sim", "--state-dir", str(tmp_path / "unit"),
             "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30,
            env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})
        assert second.returncode == 1
        assert "kiosk API" not in second.stdout
        assert f"pid {first.proc.pid}: " in second.stderr and "kiosk.cli run" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
        assert first.get("/healthz", headers={}).status_code == 200   # the first unit is untouched
    finally:
        first.stop()

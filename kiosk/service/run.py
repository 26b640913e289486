"""`kiosk run`: the unit's process. One asyncio loop holds the app, its drivers and the API server."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys

import uvicorn
from starlette.applications import Starlette

from kiosk.api.server import create_api
from kiosk.app import KioskApp
from kiosk.devices import open_devices
from kiosk.config import Settings, parse_listen
from sync.files import remove_durably, write_atomic

from kiosk.events import Holder, StoreBusy, store_holder
from kiosk.paths import api_url_file, events_db, voice_dir
from kiosk.service.http_limits import bounded_http_protocol
from kiosk.service.sync_link import SyncLink
from kiosk.service.systemd import Notifier
from kiosk.tasks import cancel_all

log = logging.getLogger(__name__)

URL_RETRY_S = 5.0
KEEP_ALIVE_S = 5               # uvicorn's default, said here: idle connections close after it
MAX_HEAD_BYTES = 16 * 1024     # a request line and headers larger than this are refused (h11)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: the kiosk owns the signals so it can close its store cleanly."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class StartRefused(Exception):
    """`kiosk run` cannot start; the message says why and what to do."""


class ListenError(StartRefused):
    pass


def bind_listener(listen: str) -> socket.socket:
    host, port = parse_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says
    # TCP. Without it a reply written in two pieces waits for the client's delayed ACK, and
    # every request on a kept-alive connection took ~40 ms instead of ~2.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ListenError(f"cannot listen on {listen}: {error.strerror or error}") from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


async def _prepare_voice(settings: Settings) -> None:
    """Render missing voice clips offline with espeak-ng, off the loop, without delaying start."""
    from kiosk.voice import ensure_clips

    try:
        made = await asyncio.to_thread(ensure_clips, voice_dir(settings.state_dir), settings.voice.voice)
    except Exception as error:  # a missing espeak-ng must not stop ratings, only the voice
        log.error("voice clips could not be prepared: %s", error)
        return
    if made:
        log.info("rendered %d voice clips", len(made))


def refuse_a_state_dir_in_use(settings: Settings) -> None:
    """One unit per state dir: a second `kiosk run` on it stops at once, naming the first."""
    holder = store_holder(events_db(settings.state_dir))
    if holder is not None:
        raise StartRefused(_in_use_message(settings, holder))


def _in_use_message(settings: Settings, holder: Holder | None) -> str:
    return (f"state dir {settings.state_dir} is in use by another kiosk process ({holder or 'pid unknown'});"
            " stop that one first, or give this one its own --state-dir")


async def _announce_url(settings: Settings, url: str) -> None:
    """Write the API's URL into the state dir; on a full or read-only disk, again every few
    seconds until it fits (the unit serves meanwhile; status falls back to the configured URL)."""
    path = api_url_file(settings.state_dir)
    complained = False
    while True:
        try:
            write_atomic(path, url.encode("ascii"))
            return
        except OSError as error:
            if not complained:
                log.warning("cannot write %s (%s); trying again every %.0f s", path, error.strerror or error,
                            URL_RETRY_S)
                complained = True
        await asyncio.sleep(URL_RETRY_S)


async def assemble(settings: Settings, *, sim: bool) -> tuple[KioskApp, SyncLink, Starlette]:
    """The unit as `kiosk run` runs it, started on the running loop, without the HTTP server:
    the app on its devices, its link to the centre, and the API to serve. Stop it the way serve()
    does: `await sync.stop()`, then `await app.stop()`. (Tests run it in-process through this.)"""
    loop = asyncio.get_running_loop()
    app = KioskApp(settings, open_devices(settings, sim=sim, loop=loop), sim=sim)
    try:
        await app.start()
    except BaseException:
        # Close what start opened (the store's worker thread is not a daemon: left open, the
        # process would never exit, and systemd would never restart it).
        await app.stop()
        raise
    sync = SyncLink(app)
    sync.start()
    return app, sync, create_api(app)


def api_server_config(api: Starlette) -> uvicorn.Config:
    """uvicorn for the local API, bounded (kiosk.service.http_limits): h11 on every machine (a Pi
    has no httptools), so its head-size limit holds everywhere; idle connections closed after
    KEEP_ALIVE_S; a request head due within its deadline; connections capped per address. Not
    uvicorn's limit_concurrency: it answers each request over it 503 and lets its connection
    stay, while a slow client never gets as far as a request; the cap closes excess connections."""
    return uvicorn.Config(api, log_level="warning", lifespan="off", access_log=False,
                          http=bounded_http_protocol(), timeout_keep_alive=KEEP_ALIVE_S,
                          h11_max_incomplete_event_size=MAX_HEAD_BYTES)


async def serve(settings: Settings, *, sim: bool, announce=print) -> int:
    loop = asyncio.get_running_loop()
    refuse_a_state_dir_in_use(settings)
    sock = bind_listener(settings.api.listen)
    try:
        app, sync, api = await assemble(settings, sim=sim)
    except StoreBusy as busy:  # started between the check and the open
        sock.close()
        raise StartRefused(_in_use_message(settings, busy.holder)) from None
    except BaseException:
        sock.close()
        raise
    server = _EmbeddedServer(api_server_config(api))
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    server_task = asyncio.create_task(server.serve(sockets=[sock]), name="api-server")
    background = []
    notifier = Notifier()
    if settings.voice.enabled and not sim:  # the sim speaker records clip ids; it needs no audio
        background.append(asyncio.create_task(_prepare_voice(settings), name="voice-clips"))
    try:
        while not server.started:
            if server_task.done():
                raise ListenError(f"the API server stopped during start: {server_task.exception()}")
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()[:2]
        shown_host = f"[{host}]" if ":" in host else host
        url = f"http://{shown_host}:{port}"
        # `kiosk status` finds the running unit here, even when --listen chose the port.
        background.append(asyncio.create_task(_announce_url(settings, url), name="api-url"))
        if sim:   # first: the panel is what a person trying the simulator opens
            announce(f"sim panel: {url}/sim/  (open it in a browser: the screen, the keys, the printer, the voice)")
        announce(f"kiosk API: {url}" + ("  (sim mode, token: sim)" if sim and settings.api.token == "sim"
                                        else ""))
        announce(f"state dir: {settings.state_dir}")
        sys.stdout.flush()
        # Store, display and API are up: systemd (Type=notify) may now call the unit started.
        notifier.notify("READY=1", f"STATUS=API on {url}")
        background.append(asyncio.create_task(notifier.ping_watchdog(), name="systemd-watchdog"))
        stop_waiter = asyncio.create_task(stopping.wait())
        await asyncio.wait({stop_waiter, server_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_waiter.cancel()
    finally:
        notifier.notify("STOPPING=1")
        app.changes.close()   # the live pages' streams end, so the server's stop is not held by them
        server.should_exit = True
        with contextlib.suppress(Exception):
            await server_task
        await cancel_all(background)
        await sync.stop()
        await app.stop()
        sock.close()
        with contextlib.suppress(OSError):
            remove_durably(api_url_file(settings.state_dir))
        notifier.close()
    log.info("kiosk stopped")
    return 0

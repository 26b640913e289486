"""The unit `kiosk run --sim` runs, in this process, driven over its HTTP API (test helper).

The same parts as the real process: settings resolved as `kiosk run --sim [--config …]
--state-dir DIR` resolves them, then `kiosk.service.run.assemble` (the function serve() itself
calls): KioskApp on sim devices, the real SQLite event store, the sync link and the Starlette API.
Only uvicorn and the socket are left out: requests go to the API through httpx's ASGI transport.

Everything runs on one asyncio loop in a background thread, like the process's one loop: the
app's timers, printer watch and storage recovery run between requests, and every request is
handled on that loop. The methods are SimUnit's (get/post/press/events/state/stop), answering
httpx responses (status_code, json(), content, text, headers, raise_for_status()), so a test
moves between the two by its fixture alone. What needs a real process (kill -9, signals,
start-up, a listening socket, another process calling the unit) stays on SimUnit.
"""
from __future__ import annotations

import asyncio
import gc
import threading
from pathlib import Path
from typing import Any, Coroutine

import httpx

from kiosk.cli import build_parser, resolve_settings
from kiosk.service.run import assemble
from tests.support.unit_calls import UnitCalls

REQUEST_TIMEOUT_S = 10.0
START_TIMEOUT_S = 20.0
# Where the ASGI client says it is (SimUnit's process listens on 127.0.0.1 too).
BASE_URL = "http://127.0.0.1"


class UnitApp(UnitCalls):
    def __init__(self, state_dir: Path, config: Path | None = None, token: str = "sim") -> None:
        self.state_dir = Path(state_dir)
        self.config = config
        self.token = token
        self.url = BASE_URL
        self.app: Any = None       # kiosk.app.KioskApp while started
        self.sync: Any = None      # kiosk.service.sync_link.SyncLink while started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> "UnitApp":
        """Start on the state dir (again after stop(): a clean restart on the same store)."""
        if self._loop is not None:
            raise RuntimeError("already started")
        argv = ["run", "--sim", "--state-dir", str(self.state_dir)]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        settings = resolve_settings(build_parser().parse_args(argv), for_run=True)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="unit-loop", daemon=True)
        self._thread.start()
        try:
            self._run(self._assemble(settings), START_TIMEOUT_S)
        except BaseException:
            self._close_loop()
            raise
        return self

    async def _assemble(self, settings) -> None:
        self.app, self.sync, api = await assemble(settings, sim=True)
        # raise_app_exceptions=False: an unhandled error is the 500 a client of uvicorn would get.
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api, raise_app_exceptions=False),
                                         base_url=self.url, timeout=REQUEST_TIMEOUT_S)

    def _run(self, coroutine: Coroutine, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """requests-style keywords (params, headers, json, data=bytes), as SimUnit takes them."""
        if self._client is None:
            raise RuntimeError("the unit is not running")
        kwargs.setdefault("headers", self.headers)
        if isinstance(kwargs.get("data"), (bytes, str)):
            kwargs["content"] = kwargs.pop("data")
        return self._run(self._client.request(method, path, **kwargs), REQUEST_TIMEOUT_S)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: dict | None = None, **kwargs) -> httpx.Response:
        return self.request("POST", path, json=json, **kwargs)

    def stop(self) -> int:
        """A clean stop, in serve()'s order after its server: the sync link, then the app (its
        store closed). 0, as `kiosk run` exits after SIGTERM. Safe to call twice."""
        if self._loop is None:
            return 0
        try:
            self._run(self._shutdown(), START_TIMEOUT_S)
        finally:
            self._close_loop()
        return 0

    async def _shutdown(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self.sync is not None:
            await self.sync.stop()
        if self.app is not None:
            await self.app.stop()

    def _close_loop(self) -> None:
        loop, self._loop = self._loop, None
        self._client = self.app = self.sync = None

        async def cancel_leftovers() -> None:
            leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)
            await loop.shutdown_asyncgens()
            await loop.shutdown_default_executor()

        asyncio.run_coroutine_threadsafe(cancel_leftovers(), loop).result(START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(START_TIMEOUT_S)
        loop.close()
        # KioskApp.start() freezes the collector's view of everything alive (right for a process
        # that lives with its start-up objects); in a test process, give the next tests it back.
        gc.unfreeze()

"""A sim unit in this process (tests.support.unit_app.UnitApp) whose console runs on a clock the
test moves, for sessions that expire and PIN locks that end, and helpers that talk to the
console as its page does (cookies, X-CSRF-Token, Origin)."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from kiosk.api.server import create_api
from kiosk.api.stream import StreamSlots
from kiosk.api.token_limit import BadTokenLimit
from kiosk.console.pins import PinLock
from kiosk.console.routes import Console
from kiosk.console.sessions import Sessions
from kiosk.service.run import assemble
from tests.support.paths import REPO
from tests.support.unit_app import REQUEST_TIMEOUT_S, UnitApp

ORIGIN = {"Origin": "http://127.0.0.1"}
SIM_PIN = "123456"


def free_port() -> int:
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    return port


def sim_config(folder: Path, *, role: str = "both", counter: str = "1", queue_lines: str = "") -> Path:
    """The built-in sim config with another role or counter, and more [queue] settings."""
    text = (REPO / "kiosk" / "defaults" / "sim.toml").read_text(encoding="utf-8")
    text = text.replace('role = "both"', f'role = "{role}"').replace('counter_id = "1"', f'counter_id = "{counter}"')
    text = text.replace("[queue]\n", "[queue]\n" + queue_lines)
    path = Path(folder) / f"{role}-{counter}.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ConsoleUnit(UnitApp):
    """UnitApp whose console (sessions, PIN lock) runs on `clock`; the unit's API and its limit
    of wrong tokens are the real ones, shared with the console as kiosk run shares them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = Clock()
        self.limit = BadTokenLimit()
        self.console: Console | None = None

    async def _assemble(self, settings) -> None:
        self.app, self.sync, _ = await assemble(settings, sim=True)
        self.console = Console(self.app, self.limit, StreamSlots(), sessions=Sessions(monotonic=self.clock),
                               pin_lock=PinLock(monotonic=self.clock))
        api = Starlette(routes=[*self.console.routes(), Mount("", create_api(self.app, token_limit=self.limit))])
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api, raise_app_exceptions=False),
                                         base_url=self.url, timeout=REQUEST_TIMEOUT_S)

    def request(self, method: str, path: str, **kwargs):
        """Cookies are the caller's own (Page keeps a browser's): httpx's jar is emptied first."""
        if self._client is not None:
            self._client.cookies.clear()
        return super().request(method, path, **kwargs)


class Page:
    """What the console page does: asks for its session, signs in, sends changes with the token."""

    def __init__(self, unit: UnitApp) -> None:
        self.unit = unit
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _keep(self, response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "Max-Age=0" in rest:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())} if self.cookies else {}

    def get(self, path: str, **kwargs):
        response = self.unit.get(path, headers=self._cookie_header(), **kwargs)
        self._keep(response)
        return response

    def post(self, path: str, body: dict | None = None, *, headers: dict | None = None):
        sent = {**ORIGIN, "X-CSRF-Token": self.csrf, **self._cookie_header(), **(headers or {})}
        response = self.unit.post(path, json={} if body is None else body, headers=sent)
        self._keep(response)
        return response

    def open(self) -> dict:
        answer = self.get("/console/api/session").json()
        self.csrf = answer["csrf"]
        return answer

    def sign_in(self, staff_id: str = "1001", pin: str = SIM_PIN):
        self.open()
        response = self.post("/console/api/sign-in", {"staff_id": staff_id, "pin": pin})
        if response.status_code == 200:
            self.csrf = response.json()["csrf"]
        return response

    def act(self, name: str, body: dict | None = None):
        return self.post(f"/console/api/{name}", body)

    def view(self) -> dict:
        return self.get("/console/api/state").json()

"""The sim panel's routes (`kiosk run --sim` only): the page (`/sim/`), its files, what it shows
(`/sim/api/panel` once, `/sim/api/stream` live), the screen and each slip as images, and its
controls. Mounted by kiosk.api.server beside the API's own routes.

No Bearer token: the panel is the simulator's own face on a laptop. The keys and the paper switch
are answered by the very handlers of the sim API (POST /v1/sim/keys/{n}/press, …), so a press on
the panel is a press through the API, event for event. A change must come from the panel's own
page (kiosk.console.guard.refuse_cross_site: another site's page cannot press the keys of a
sim unit on the same laptop), and each address is held to PageLimit's rate.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.api.bodies import Body, read_body
from kiosk.api.pages import CONTENT_POLICY, PageLimit, file_routes, live_script_route, refuse_unless_streaming
from kiosk.api.routes import ApiRoute, Parameter
from kiosk.api.sim import sim_routes
from kiosk.api.stream import StreamSlots, event_stream
from kiosk.console.guard import refuse_cross_site
from kiosk.refusals import Refused
from kiosk.simpanel.panel import SimPanel

PANEL_STREAMS = 8
# A person at the keys presses quickly, and the screen's image is fetched again with every change
# (a rating's countdown: each second).
REQUESTS_PER_MINUTE = 900
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_POLICY + "; frame-ancestors 'none'", "X-Frame-Options": "DENY"}
FILES = {"index.html": "The sim panel: the screen, the keys, the printer and the voice of this sim unit (HTML)",
         "sim.css": "The sim panel's style sheet", "sim.js": "The sim panel's script"}
SLIP = Parameter("slip", "path", {"type": "integer", "minimum": 1}, required=True)
Handler = Callable[[Request], Awaitable[Response]]


class OnlineBody(Body):
    online: bool


def _changing(app: Any, handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        refuse_cross_site(request)
        answer = await handler(request)
        app.refresh_screen()   # a switch thrown is a change the panel shows at once, commit or not
        return answer
    return endpoint


class PanelRoutes:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.panel = SimPanel(app)
        self.slots = StreamSlots(PANEL_STREAMS)

    async def current(self, request: Request) -> Response:
        await self.panel.ensure_started()
        return JSONResponse(self.panel.snapshot(), headers={"Cache-Control": "no-store"})

    async def stream(self, request: Request) -> Response:
        refuse_unless_streaming(request)
        await self.panel.ensure_started()
        return event_stream(request, self.app.changes, self.panel.snapshot, self.slots)

    async def slip(self, request: Request) -> Response:
        await self.panel.ensure_started()
        slips = self.panel.slips
        image = await asyncio.to_thread(slips.png, request.path_params["slip"]) if slips is not None else None
        if image is None:
            raise Refused("not_found", "no such slip (the panel keeps the latest ones)")
        return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    async def online(self, request: Request) -> Response:
        body = await read_body(request, OnlineBody)
        printer = self.app.devices.printer
        if not hasattr(printer, "online"):
            raise Refused("not_found", "this unit has no printer")
        printer.online = body.online
        return JSONResponse({"online": body.online})


def sim_panel_routes(app: Any, limit: PageLimit | None = None) -> list[ApiRoute]:
    limit = limit or PageLimit(REQUESTS_PER_MINUTE)
    routes = PanelRoutes(app)
    sim_api = {route.path: route for route in sim_routes(app)}

    def control(path: str, api_path: str, summary: str) -> ApiRoute:
        api = sim_api[api_path]
        return ApiRoute("POST", path, limit(_changing(app, api.endpoint)), summary, body=api.body,
                        parameters=api.parameters, public=True)

    return [
        *file_routes("/sim/", "kiosk.simpanel", FILES, limit=limit, page_headers=PAGE_HEADERS,
                     available=lambda: None),
        *live_script_route("/sim/", limit=limit, available=lambda: None),
        ApiRoute("GET", "/sim/api/panel", limit(routes.current),
                 "What the sim panel shows: keys, printer switches, slips, speech, latest events", public=True),
        ApiRoute("GET", "/sim/api/stream", limit(routes.stream),
                 "The same, as server-sent events whenever it changes (Accept: text/event-stream)",
                 media_type="text/event-stream", public=True),
        ApiRoute("GET", "/sim/api/screen.png", limit(sim_api["/v1/sim/display.png"].endpoint), "The screen now",
                 media_type="image/png", public=True),
        ApiRoute("GET", "/sim/api/slips/{slip:key_number}", limit(routes.slip), "A printed slip, drawn",
                 media_type="image/png", parameters=(SLIP,), public=True),
        control("/sim/api/keys/{key:key_number}/press", "/v1/sim/keys/{key:key_number}/press",
                "Press a rating key (as POST /v1/sim/keys/{key}/press)"),
        control("/sim/api/ticket-keys/{key:key_number}/press", "/v1/sim/ticket-keys/{key:key_number}/press",
                "Press a ticket key (as POST /v1/sim/ticket-keys/{key}/press)"),
        control("/sim/api/printer/paper", "/v1/sim/printer/paper",
                "Set the sim printer's paper (as POST /v1/sim/printer/paper)"),
        ApiRoute("POST", "/sim/api/printer/online", limit(_changing(app, routes.online)),
                 "Switch the sim printer on line or off line", body=OnlineBody, public=True),
    ]

"""The unit's local HTTP API (Starlette), served by uvicorn inside the kiosk's own event loop.

JSON in and out; every error is {"error": {"code", "message"}} with a 4xx/5xx status (one table:
`kiosk.api.errors`). All routes but /healthz need the staff token from the config as a Bearer token.
"""
from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.api.errors import error_response, refusal_response
from kiosk.api.openapi import OPENAPI_PATH, build_document
from kiosk.api.queue import queue_routes
from kiosk.api.routes import ApiRoute, Handler
from kiosk.api.sim import sim_routes
from kiosk.api.stream import StreamSlots
from kiosk.api.token_limit import BadTokenLimit
from kiosk.api.unit import unit_routes
from kiosk.app import KioskApp
# The module, not its function: kiosk.console.routes imports kiosk.api's modules, so either
# package may be imported first.
from kiosk.console import routes as console
from kiosk.hall import routes as hall
from kiosk.simpanel import routes as sim_panel
from kiosk.refusals import Refused


def create_api(app: KioskApp, token_limit: BadTokenLimit | None = None) -> Starlette:
    token = app.settings.api.token.encode("utf-8")
    limit = token_limit if token_limit is not None else BadTokenLimit()   # an empty one is falsy (len 0)

    def guarded(handler: Handler, *, public: bool) -> Handler:
        async def endpoint(request: Request) -> Response:
            if not public:
                address = request.client.host if request.client else "unknown"
                wait_s = limit.retry_after_s(address)
                if wait_s is not None:
                    return error_response("rate_limited", f"too many wrong tokens from this address; "
                                          f"retry after {wait_s} s", headers={"Retry-After": str(wait_s)})
                scheme, _, given = request.headers.get("authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), token):
                    limit.failed(address)
                    return error_response("unauthorized", "a valid Bearer token is required")
            try:
                return await handler(request)
            except Refused as refused:
                return refusal_response(refused)
        return endpoint

    document: dict = {}  # built on first request: start-up (and every key press) needs none of it

    async def openapi_document(request: Request) -> Response:
        if not document:
            document.update(build_document(routes))
        return JSONResponse(document)

    streams = StreamSlots()   # the staff consoles' streams (the hall's and the sim panel's have their own)
    described = [*unit_routes(app), *queue_routes(app), *(sim_routes(app) if app.sim else ()),
                 # The staff console: its own session cookie and CSRF token, not the Bearer token
                 # (public here); it counts wrong PINs in `limit` (kiosk.console.routes).
                 *console.console_routes(app, limit, streams),
                 *hall.hall_routes(app),   # the hall display: public, nothing private, its own bounds
                 *(sim_panel.sim_panel_routes(app) if app.sim else ()),   # the sim panel: --sim only
                 ApiRoute("GET", OPENAPI_PATH, openapi_document, "This document")]
    routes = [route.handled_by(guarded(route.endpoint, public=route.public)) for route in described]

    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(code, str(exc.detail), status=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response("internal", "internal error; see the unit's log")

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})

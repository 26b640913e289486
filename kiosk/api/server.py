"""The unit's local HTTP API (Starlette), served by uvicorn inside the kiosk's own event loop.

JSON in and out; every error is {"error": {"code", "message"}} with a 4xx/5xx status. All routes
but /healthz need the staff token from the config as a Bearer token.
"""
from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kiosk.app import KioskApp, Unavailable
from kiosk.rating.machine import RatingRefused

MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS_PAGE = 1000

Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignInBody(_Body):
    staff_id: str = Field(..., min_length=1, max_length=32)


class PauseBody(_Body):
    reason: str = Field("break", min_length=1, max_length=64)


class CompleteBody(_Body):
    service_item: str | None = Field(None, max_length=64)
    ticket: str | None = Field(None, max_length=16)


async def read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"request body over {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid", "body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(422, "invalid", f"{field}: {first['msg']}", field=field) from None


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(422, "invalid", f"{name} must be an integer", field=name) from None
    if not low <= value <= high:
        raise ApiError(422, "invalid", f"{name} must be between {low} and {high}", field=name)
    return value


def create_api(app: KioskApp) -> Starlette:
    token = app.settings.api.token.encode("utf-8")

    def guarded(handler: Handler, *, public: bool = False) -> Handler:
        async def endpoint(request: Request) -> Response:
            if not public:
                scheme, _, given = request.headers.get("authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), token):
                    return error_response(401, "unauthorized", "a valid Bearer token is required")
            try:
                return await handler(request)
            except ApiError as error:
                return error_response(error.status, error.code, error.message, **error.extra)
            except RatingRefused as refused:
                status = 422 if refused.code == "unknown_staff" else 409
                return error_response(status, refused.code, refused.message)
            except Unavailable as unavailable:
                return error_response(503, unavailable.code, unavailable.message)
        return endpoint

    def event_types(events: list[dict[str, Any]]) -> list[str]:
        return [event["type"] for event in events]

    async def healthz(request: Request) -> Response:
        ok = app.fault is None
        return JSONResponse({"status": "ok" if ok else "out_of_order",
                             "storage": "ok" if ok else app.fault.code}, status_code=200 if ok else 503)

    async def state(request: Request) -> Response:
        return JSONResponse(app.state())

    async def sign_in(request: Request) -> Response:
        body = await read_body(request, SignInBody)
        events = await app.sign_in(body.staff_id)
        return JSONResponse({"staff_id": body.staff_id, "events": event_types(events)})

    async def sign_out(request: Request) -> Response:
        await read_body(request, _Body)
        return JSONResponse({"events": event_types(await app.sign_out())})

    async def pause(request: Request) -> Response:
        body = await read_body(request, PauseBody)
        return JSONResponse({"paused": True, "events": event_types(await app.pause(body.reason))})

    async def resume(request: Request) -> Response:
        await read_body(request, _Body)
        return JSONResponse({"paused": False, "events": event_types(await app.resume())})

    async def complete(request: Request) -> Response:
        body = await read_body(request, CompleteBody)
        transaction_id = await app.complete_transaction(body.service_item, body.ticket)
        return JSONResponse({"transaction_id": transaction_id})

    async def events(request: Request) -> Response:
        after = _int_param(request, "after", 0, 0, 2**62)
        limit = _int_param(request, "limit", 100, 1, MAX_EVENTS_PAGE)
        if app.store is None:
            raise Unavailable(app.fault.code if app.fault else "storage_unavailable", "event store not open")
        return JSONResponse({"events": await app.store.read(after, limit)})

    async def sync_drain(request: Request) -> Response:
        await read_body(request, _Body)
        if app.sync is None:
            raise ApiError(409, "not_provisioned", "this unit has no link to a centre")
        result = await app.sync.drain_once()
        if result.get("outcome") == "not_provisioned":
            raise ApiError(409, "not_provisioned", result.get("error") or "run kiosk provision first")
        return JSONResponse(result)

    async def sim_press(request: Request) -> Response:
        key = request.path_params["key"]
        if not 1 <= key <= 5:
            raise ApiError(404, "unknown_key", "keys are numbered 1 to 5")
        return JSONResponse({"events": await app.press_rating_key(key)})

    async def sim_display(request: Request) -> Response:
        return Response(app.devices.display.snapshot_png(), media_type="image/png")

    async def sim_speech(request: Request) -> Response:
        return JSONResponse({"said": list(app.devices.speaker.said)})

    routes = [
        Route("/healthz", guarded(healthz, public=True), methods=["GET"]),
        Route("/v1/state", guarded(state), methods=["GET"]),
        Route("/v1/staff/sign-in", guarded(sign_in), methods=["POST"]),
        Route("/v1/staff/sign-out", guarded(sign_out), methods=["POST"]),
        Route("/v1/counter/pause", guarded(pause), methods=["POST"]),
        Route("/v1/counter/resume", guarded(resume), methods=["POST"]),
        Route("/v1/transactions/complete", guarded(complete), methods=["POST"]),
        Route("/v1/events", guarded(events), methods=["GET"]),
        Route("/v1/sync/drain", guarded(sync_drain), methods=["POST"]),
    ]
    if app.sim:
        routes += [
            Route("/v1/sim/keys/{key:int}/press", guarded(sim_press), methods=["POST"]),
            Route("/v1/sim/display.png", guarded(sim_display), methods=["GET"]),
            Route("/v1/sim/speech", guarded(sim_speech), methods=["GET"]),
        ]
    from kiosk.api.queue import queue_routes  # it builds on this module (ApiError, read_body)

    routes += queue_routes(app, guarded)
    from kiosk.api.openapi import OPENAPI_PATH, build_document  # it describes this module's routes

    document: dict = {}  # built on first request: start-up (and every key press) needs none of it

    async def openapi_document(request: Request) -> Response:
        if not document:
            document.update(build_document(app.sim))
        return JSONResponse(document)

    routes.append(Route(OPENAPI_PATH, guarded(openapi_document), methods=["GET"]))

    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response(500, "internal", "internal error; see the unit's log")

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})

"""The counter's own routes: health, state, staff, pause, transactions, the event log, sync."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.api.bodies import Body, CompleteBody, PauseBody, SignInBody, int_param, read_body
from kiosk.api.routes import ApiRoute, Parameter
from kiosk.app import KioskApp, fault_seq
from kiosk.refusals import Refused, Unavailable

MAX_EVENTS_PAGE = 1000


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def unit_routes(app: KioskApp) -> list[ApiRoute]:
    async def healthz(request: Request) -> Response:
        if app.fault is None:
            return JSONResponse({"status": "ok", "storage": "ok"})
        answer: dict[str, Any] = {"status": "out_of_order", "storage": app.fault.code}
        if (seq := fault_seq(app.fault)) is not None:
            answer["seq"] = seq   # where the stored hash chain breaks
        return JSONResponse(answer, status_code=503)

    async def state(request: Request) -> Response:
        return JSONResponse(app.state())

    async def sign_in(request: Request) -> Response:
        body = await read_body(request, SignInBody)
        events = await app.sign_in(body.staff_id)
        return JSONResponse({"staff_id": body.staff_id, "events": event_types(events)})

    async def sign_out(request: Request) -> Response:
        await read_body(request, Body)
        return JSONResponse({"events": event_types(await app.sign_out())})

    async def pause(request: Request) -> Response:
        body = await read_body(request, PauseBody)
        return JSONResponse({"paused": True, "events": event_types(await app.pause(body.reason))})

    async def resume(request: Request) -> Response:
        await read_body(request, Body)
        return JSONResponse({"paused": False, "events": event_types(await app.resume())})

    async def complete(request: Request) -> Response:
        body = await read_body(request, CompleteBody)
        transaction_id = await app.complete_transaction(body.service_item, body.ticket)
        return JSONResponse({"transaction_id": transaction_id})

    async def events(request: Request) -> Response:
        after = int_param(request, "after", 0, 0, 2**62)
        limit = int_param(request, "limit", 100, 1, MAX_EVENTS_PAGE)
        if app.store is None:
            raise Unavailable(app.fault.code if app.fault else "storage_unavailable", "event store not open")
        return JSONResponse({"events": await app.store.read(after, limit)})

    async def sync_drain(request: Request) -> Response:
        await read_body(request, Body)
        if app.sync is None:
            raise Refused("not_provisioned", "this unit has no link to a centre")
        result = await app.sync.drain_once()
        if result.get("outcome") == "not_provisioned":
            raise Refused("not_provisioned", result.get("error") or "run kiosk provision first")
        return JSONResponse(result)

    return [
        ApiRoute("GET", "/healthz", healthz, "Whether the unit can record events", public=True, responses=(
            ("503", 'Out of order: {"status": "out_of_order", "storage": CODE, "seq"?: N} (not an '
                    'error object; seq: where the stored hash chain breaks)'),)),
        ApiRoute("GET", "/v1/state", state, "Mode, staff, counter, paused, serving ticket, backlog, printer"),
        ApiRoute("POST", "/v1/staff/sign-in", sign_in, "Sign a staff member in", body=SignInBody),
        ApiRoute("POST", "/v1/staff/sign-out", sign_out, "Sign out", body=Body),
        ApiRoute("POST", "/v1/counter/pause", pause, "Pause the counter", body=PauseBody),
        ApiRoute("POST", "/v1/counter/resume", resume, "Resume the counter", body=Body),
        ApiRoute("POST", "/v1/transactions/complete", complete,
                 "Open the rating window of a finished transaction", body=CompleteBody),
        ApiRoute("GET", "/v1/events", events, "The hash-chained event log, in seq order", parameters=(
            Parameter("after", "query", {"type": "integer", "minimum": 0, "maximum": 2**62}),
            Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS_PAGE}))),
        ApiRoute("POST", "/v1/sync/drain", sync_drain, "Upload the backlog to the centre now", body=Body),
    ]

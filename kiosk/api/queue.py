"""Local API routes for the queue, tickets, the 一次性告知清单 and the sim printer (DESIGN.md,
"Queue and printing"). `kiosk.api` includes them; errors come out in its JSON shape."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Literal

from pydantic import Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kiosk.api.server import ApiError, _Body, read_body
from kiosk.app import KioskApp
from kiosk.queue.machine import QueueRefused

Handler = Callable[[Request], Awaitable[Response]]


class ActBody(_Body):
    # For the unit's own counter both are left out (the signed-in staff acts); a counter unit
    # acting through the hall's queue host names itself and its staff.
    counter_id: str | None = Field(None, min_length=1, max_length=16)
    staff_id: str | None = Field(None, min_length=1, max_length=32)


class TransferBody(ActBody):
    to_counter: str | None = Field(None, min_length=1, max_length=16)
    to_category: str | None = Field(None, pattern=r"^[A-Z]$")

    @model_validator(mode="after")
    def _one_target(self) -> "TransferBody":
        if (self.to_counter is None) == (self.to_category is None):
            raise ValueError("give exactly one of to_counter and to_category")
        return self


class TicketBody(_Body):
    category: str = Field(..., pattern=r"^[A-Z]$")


class ReprintBody(_Body):
    ticket: str = Field(..., pattern=r"^[A-Z][0-9]{3,5}$")


class NoticeBody(_Body):
    service_item: str = Field(..., min_length=1, max_length=64)
    copies: int | None = Field(None, ge=1, le=2)


class PaperBody(_Body):
    state: Literal["ok", "near_end", "out"]


def queue_routes(app: KioskApp, guarded: Callable[[Handler], Handler]) -> list[Route]:
    queue = app.queue

    def answering(handler: Handler) -> Handler:
        """The queue's refusals as API errors (409 queue_empty, 503 printer_unavailable, …)."""
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except QueueRefused as refused:
                extra = {k: v for k, v in refused.extra.items() if isinstance(v, str | int | bool)}
                raise ApiError(refused.status, refused.code, refused.message, **extra) from None
        return guarded(endpoint)

    def action(name: str) -> Handler:
        async def endpoint(request: Request) -> Response:
            body = await read_body(request, ActBody)
            return JSONResponse(await queue.act(name, body.counter_id, body.staff_id))
        return endpoint

    async def transfer(request: Request) -> Response:
        body = await read_body(request, TransferBody)
        return JSONResponse(await queue.act("transfer", body.counter_id, body.staff_id,
                                            to_counter=body.to_counter, to_category=body.to_category))

    async def snapshot(request: Request) -> Response:
        return JSONResponse(await queue.snapshot())

    async def issue(request: Request) -> Response:
        body = await read_body(request, TicketBody)
        return JSONResponse(await queue.issue_ticket(body.category))

    async def reprint(request: Request) -> Response:
        body = await read_body(request, ReprintBody)
        return JSONResponse(await queue.reprint(body.ticket))

    async def notice(request: Request) -> Response:
        body = await read_body(request, NoticeBody)
        return JSONResponse(await queue.print_notice(body.service_item, body.copies))

    routes = [
        Route("/v1/queue", answering(snapshot), methods=["GET"]),
        Route("/v1/queue/call-next", answering(action("call_next")), methods=["POST"]),
        Route("/v1/queue/recall", answering(action("recall")), methods=["POST"]),
        Route("/v1/queue/no-show", answering(action("no_show")), methods=["POST"]),
        Route("/v1/queue/transfer", answering(transfer), methods=["POST"]),
        Route("/v1/tickets", answering(issue), methods=["POST"]),
        Route("/v1/tickets/reprint", answering(reprint), methods=["POST"]),
        Route("/v1/notices/print", answering(notice), methods=["POST"]),
    ]
    if app.sim:
        routes += _sim_routes(app, guarded)
    return routes


def _sim_routes(app: KioskApp, guarded: Callable[[Handler], Handler]) -> list[Route]:
    printer: Any = app.devices.printer

    async def press(request: Request) -> Response:
        key = request.path_params["key"]
        if not app.queue.has_ticket_keys:
            raise ApiError(404, "no_ticket_keys", f"a {app.settings.unit.role} unit has no ticket keys")
        if not 1 <= key <= 5:
            raise ApiError(404, "unknown_key", "ticket keys are numbered 1 to 5")
        return JSONResponse({"events": await app.queue.press_ticket_key(key)})

    async def output(request: Request) -> Response:
        return Response(printer.output(), media_type="application/octet-stream")

    async def paper(request: Request) -> Response:
        body = await read_body(request, PaperBody)
        printer.paper = body.state
        return JSONResponse({"state": body.state})

    return [
        Route("/v1/sim/ticket-keys/{key:int}/press", guarded(press), methods=["POST"]),
        Route("/v1/sim/printer", guarded(output), methods=["GET"]),
        Route("/v1/sim/printer/paper", guarded(paper), methods=["POST"]),
    ]

"""Local API routes for the queue, tickets and the 一次性告知清单 (DESIGN.md, "Queue and printing")."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.api.bodies import (ActBody, CounterStateBody, NoticeBody, ReprintBody, TicketBody, TransferBody,
                              read_body)
from kiosk.api.routes import ApiRoute, Handler
from kiosk.app import KioskApp


def queue_routes(app: KioskApp) -> list[ApiRoute]:
    queue = app.queue

    def action(name: str) -> Handler:
        async def endpoint(request: Request) -> Response:
            body = await read_body(request, ActBody)
            return JSONResponse(await queue.act(name, body.counter_id, body.staff_id))
        return endpoint

    async def transfer(request: Request) -> Response:
        body = await read_body(request, TransferBody)
        return JSONResponse(await queue.act("transfer", body.counter_id, body.staff_id,
                                            to_counter=body.to_counter, to_category=body.to_category))

    async def counter_state(request: Request) -> Response:
        body = await read_body(request, CounterStateBody)
        return JSONResponse(await queue.counter_state(body.counter_id, body.closed, body.staff_id))

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

    return [
        ApiRoute("GET", "/v1/queue", snapshot, "Waiting, serving, last called, estimates"),
        ApiRoute("POST", "/v1/queue/call-next", action("call_next"), "Call the next ticket", body=ActBody),
        ApiRoute("POST", "/v1/queue/recall", action("recall"), "Call the serving ticket again", body=ActBody),
        ApiRoute("POST", "/v1/queue/no-show", action("no_show"), "The serving ticket did not come", body=ActBody),
        ApiRoute("POST", "/v1/queue/transfer", transfer, "Pass the serving ticket on", body=TransferBody),
        ApiRoute("POST", "/v1/queue/counter-state", counter_state,
                 "A counter calling through this host is closed for the day, or open", body=CounterStateBody),
        ApiRoute("POST", "/v1/tickets", issue, "Issue and print a ticket", body=TicketBody),
        ApiRoute("POST", "/v1/tickets/reprint", reprint, "Print a ticket again", body=ReprintBody),
        ApiRoute("POST", "/v1/notices/print", notice, "Print a 一次性告知清单", body=NoticeBody),
    ]

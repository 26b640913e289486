"""Routes that stand in for the devices on a sim unit (`kiosk run --sim`): the keypads, the screen,
the speaker and the printer."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kiosk.api.bodies import PaperBody, read_body
from kiosk.api.routes import KEY, ApiRoute
from kiosk.app import KioskApp
from kiosk.refusals import Refused


def sim_routes(app: KioskApp) -> list[ApiRoute]:
    printer: Any = app.devices.printer

    async def rating_key(request: Request) -> Response:
        key = request.path_params["key"]
        if not 1 <= key <= 5:
            raise Refused("unknown_key", "keys are numbered 1 to 5")
        return JSONResponse({"events": await app.press_rating_key(key)})

    async def display(request: Request) -> Response:
        return Response(app.devices.display.snapshot_png(), media_type="image/png")

    async def speech(request: Request) -> Response:
        return JSONResponse({"said": list(app.devices.speaker.said)})

    async def ticket_key(request: Request) -> Response:
        key = request.path_params["key"]
        if not app.queue.has_ticket_keys:
            raise Refused("no_ticket_keys", f"a {app.settings.unit.role} unit has no ticket keys")
        if not 1 <= key <= 5:
            raise Refused("unknown_key", "ticket keys are numbered 1 to 5")
        return JSONResponse({"events": await app.queue.press_ticket_key(key)})

    async def printer_output(request: Request) -> Response:
        return Response(printer.output(), media_type="application/octet-stream")

    async def paper(request: Request) -> Response:
        body = await read_body(request, PaperBody)
        printer.paper = body.state
        return JSONResponse({"state": body.state})

    return [
        ApiRoute("POST", "/v1/sim/keys/{key:key_number}/press", rating_key, "Press a rating key", parameters=(KEY,)),
        ApiRoute("GET", "/v1/sim/display.png", display, "The current screen", media_type="image/png"),
        ApiRoute("GET", "/v1/sim/speech", speech, "What was said, in order"),
        ApiRoute("POST", "/v1/sim/ticket-keys/{key:key_number}/press", ticket_key, "Press a ticket key",
                 parameters=(KEY,)),
        ApiRoute("GET", "/v1/sim/printer", printer_output, "Every byte sent to the printer",
                 media_type="application/octet-stream"),
        ApiRoute("POST", "/v1/sim/printer/paper", paper, "Set the sim printer's paper", body=PaperBody),
    ]

"""The unit's local API as an OpenAPI 3.1 document (DESIGN.md, "Local API"), served behind the API
token at GET /v1/openapi.json.

Starlette does not describe its routes, so OPERATIONS below does, with the same pydantic models the
handlers validate their bodies with. tests/fault/test_api_schemas.py checks that every route of the
app is here and nothing else is, and fuzzes a running sim unit against the document.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kiosk import __version__
from kiosk.api.server import MAX_EVENTS_PAGE, CompleteBody, PauseBody, SignInBody, _Body
from kiosk.api.queue import ActBody, NoticeBody, PaperBody, ReprintBody, TicketBody, TransferBody

OPENAPI_PATH = "/v1/openapi.json"
_COMPONENTS = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str              # "query" or "path"
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str               # as in the Starlette route, converters included ("{key:int}")
    summary: str
    body: type[BaseModel] | None = None
    parameters: tuple[Parameter, ...] = ()
    media_type: str = "application/json"  # of a success
    public: bool = False    # no token needed
    sim_only: bool = False  # only with `kiosk run --sim`
    responses: tuple[tuple[str, str], ...] = ()  # (status, description) beside 200 and the errors


KEY = Parameter("key", "path", {"type": "integer", "minimum": 1, "maximum": 5}, required=True)

OPERATIONS = (
    Operation("GET", "/healthz", "Whether the unit can record events", public=True, responses=(
        ("503", 'Out of order: {"status": "out_of_order", "storage": CODE} (not an error object)'),)),
    Operation("GET", OPENAPI_PATH, "This document"),
    Operation("GET", "/v1/state", "Mode, staff, counter, paused, serving ticket, backlog, printer"),
    Operation("POST", "/v1/staff/sign-in", "Sign a staff member in", SignInBody),
    Operation("POST", "/v1/staff/sign-out", "Sign out", _Body),
    Operation("POST", "/v1/counter/pause", "Pause the counter", PauseBody),
    Operation("POST", "/v1/counter/resume", "Resume the counter", _Body),
    Operation("POST", "/v1/transactions/complete", "Open the rating window of a finished transaction",
              CompleteBody),
    Operation("GET", "/v1/events", "The hash-chained event log, in seq order", parameters=(
        Parameter("after", "query", {"type": "integer", "minimum": 0, "maximum": 2**62}),
        Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS_PAGE}))),
    Operation("POST", "/v1/sync/drain", "Upload the backlog to the centre now", _Body),
    Operation("GET", "/v1/queue", "Waiting, serving, last called, estimates"),
    Operation("POST", "/v1/queue/call-next", "Call the next ticket", ActBody),
    Operation("POST", "/v1/queue/recall", "Call the serving ticket again", ActBody),
    Operation("POST", "/v1/queue/no-show", "The serving ticket did not come", ActBody),
    Operation("POST", "/v1/queue/transfer", "Pass the serving ticket on", TransferBody),
    Operation("POST", "/v1/tickets", "Issue and print a ticket", TicketBody),
    Operation("POST", "/v1/tickets/reprint", "Print a ticket again", ReprintBody),
    Operation("POST", "/v1/notices/print", "Print a 一次性告知清单", NoticeBody),
    Operation("POST", "/v1/sim/keys/{key:int}/press", "Press a rating key", parameters=(KEY,), sim_only=True),
    Operation("GET", "/v1/sim/display.png", "The current screen", media_type="image/png", sim_only=True),
    Operation("GET", "/v1/sim/speech", "What was said, in order", sim_only=True),
    Operation("POST", "/v1/sim/ticket-keys/{key:int}/press", "Press a ticket key", parameters=(KEY,),
              sim_only=True),
    Operation("GET", "/v1/sim/printer", "Every byte sent to the printer", media_type="application/octet-stream",
              sim_only=True),
    Operation("POST", "/v1/sim/printer/paper", "Set the sim printer's paper", PaperBody, sim_only=True),
)


def openapi_path(route_path: str) -> str:
    """"/v1/sim/keys/{key:int}/press" → "/v1/sim/keys/{key}/press"."""
    return _PATH_PARAMETER.sub(r"{\1}", route_path)


def operations(sim: bool) -> list[Operation]:
    return [operation for operation in OPERATIONS if sim or not operation.sim_only]


def build_document(sim: bool) -> dict[str, Any]:
    chosen = operations(sim)
    bodies = sorted({operation.body for operation in chosen if operation.body}, key=lambda model: model.__name__)
    refs, definitions = models_json_schema([(model, "validation") for model in bodies], ref_template=_COMPONENTS)
    schemas = {**definitions.get("$defs", {}), **_ERROR_SCHEMAS}
    paths: dict[str, dict[str, Any]] = {}
    for operation in chosen:
        paths.setdefault(openapi_path(operation.path), {})[operation.method.lower()] = _operation(
            operation, refs.get((operation.body, "validation")))
    return {
        "openapi": "3.1.0",
        "info": {"title": "counter kiosk local API", "version": __version__,
                 "description": "Errors are {\"error\": {\"code\", \"message\"}} with a 4xx/5xx status."},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                                     "description": "api.token from the unit's config"}}},
        "security": [{"token": []}],
    }


def _operation(operation: Operation, body_ref: dict[str, Any] | None) -> dict[str, Any]:
    success = {"description": "OK", "content": {operation.media_type: {}}}
    described: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": f"{operation.method.lower()}{openapi_path(operation.path).replace('/', '_')}",
        "responses": {"200": success, **{status: {"description": text} for status, text in operation.responses},
                      "default": _ERROR_RESPONSE},
    }
    if operation.parameters:
        described["parameters"] = [{"name": p.name, "in": p.where, "required": p.required, "schema": p.schema}
                                   for p in operation.parameters]
    if body_ref is not None:
        # read_body takes an empty body as {}: a body is required only when a field is.
        required = any(field.is_required() for field in operation.body.model_fields.values())
        described["requestBody"] = {"required": required, "content": {"application/json": {"schema": body_ref}}}
    if operation.public:
        described["security"] = []
    return described


_ERROR_SCHEMAS = {
    "ErrorDetail": {"type": "object", "required": ["code", "message"], "additionalProperties": True,
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
    "ErrorBody": {"type": "object", "required": ["error"],
                  "properties": {"error": {"$ref": _COMPONENTS.format(model="ErrorDetail")}}},
}
_ERROR_RESPONSE = {"description": 'An error: {"error": {"code": "…", "message": "…"}}',
                   "content": {"application/json": {"schema": {"$ref": _COMPONENTS.format(model="ErrorBody")}}}}

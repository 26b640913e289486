"""The unit's local API as an OpenAPI 3.1 document (DESIGN.md, "Local API"), served behind the API
token at GET /v1/openapi.json.

Starlette does not describe its routes, so each route describes itself (`kiosk.api.routes.ApiRoute`:
summary, body model, parameters), and the document is built from the app's own routes with the
same pydantic models the handlers validate their bodies with. tests/fault/test_api_schemas.py
fuzzes a running sim unit against it.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic.json_schema import models_json_schema

from kiosk import __version__
from kiosk.api.routes import ApiRoute

OPENAPI_PATH = "/v1/openapi.json"
_COMPONENTS = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


def openapi_path(route_path: str) -> str:
    """"/v1/sim/keys/{key:key_number}/press" → "/v1/sim/keys/{key}/press"."""
    return _PATH_PARAMETER.sub(r"{\1}", route_path)


def build_document(routes: Iterable[ApiRoute]) -> dict[str, Any]:
    chosen = list(routes)
    bodies = sorted({route.body for route in chosen if route.body}, key=lambda model: model.__name__)
    refs, definitions = models_json_schema([(model, "validation") for model in bodies], ref_template=_COMPONENTS)
    schemas = {**definitions.get("$defs", {}), **_ERROR_SCHEMAS}
    paths: dict[str, dict[str, Any]] = {}
    for route in chosen:
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = _operation(
            route, refs.get((route.body, "validation")))
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


def _operation(route: ApiRoute, body_ref: dict[str, Any] | None) -> dict[str, Any]:
    success = {"description": "OK", "content": {route.media_type: {}}}
    described: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}{openapi_path(route.path).replace('/', '_')}",
        "responses": {"200": success, **{status: {"description": text} for status, text in route.responses},
                      "default": _ERROR_RESPONSE},
    }
    if route.parameters:
        described["parameters"] = [{"name": p.name, "in": p.where, "required": p.required, "schema": p.schema}
                                   for p in route.parameters]
    if body_ref is not None:
        # read_body takes an empty body as {}: a body is required only when a field is.
        required = any(field.is_required() for field in route.body.model_fields.values())
        described["requestBody"] = {"required": required, "content": {"application/json": {"schema": body_ref}}}
    if route.public:
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

"""What the centre's OpenAPI document says where FastAPI cannot see for itself.

The document is not served (create_app passes openapi_url=None: the contract is PROTOCOL.md, and
the server faces the units' network). `app.openapi()` still builds it, and the tests fuzz the API
against it (tests/fault/test_api_schemas.py), so it must be true:

- routes that read their body by hand (centre.web.bodies.parse_body, forms, photos) declare it with
  `openapi_extra=json_body(Model)`, `form_body(...)` or `binary_body(...)`;
- every error is documented as PROTOCOL.md's `{"error": {"code", "message", …}}` (ERROR_RESPONSES,
  the app's default response), in place of FastAPI's own 422 shape, which the centre never sends;
- the dashboard's pages are HTML, and so are most of its refusals (DASHBOARD_RESPONSES).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

_DEFS_PREFIX = "#/$defs/"


class ErrorDetail(BaseModel):
    # Some errors carry more fields (expected_seq, field); they are part of the shape.
    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` written in place: a schema put inside the OpenAPI
    document resolves "#/..." against the document, where pydantic's `$defs` are not."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
                siblings = {key: value for key, value in node.items() if key != "$ref"}
                return {**resolve(definitions[ref.removeprefix(_DEFS_PREFIX)]), **resolve(siblings)}
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def json_body(model_or_schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    """openapi_extra for a route that parses a JSON body itself."""
    schema = model_or_schema if isinstance(model_or_schema, dict) else inline_schema(model_or_schema)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def form_body(*fields: str) -> dict[str, Any]:
    """openapi_extra for a dashboard form (application/x-www-form-urlencoded, text fields)."""
    schema = {"type": "object", "properties": {name: {"type": "string"} for name in fields}}
    return {"requestBody": {"required": True,
                            "content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


def binary_body(*media_types: str) -> dict[str, Any]:
    """openapi_extra for a route that takes raw bytes of one of `media_types`."""
    content = {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in media_types}
    return {"requestBody": {"required": True, "content": content}}


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified (If-None-Match)"}}

ERROR_DESCRIPTION = 'An error: {"error": {"code": "…", "message": "…", …}} (PROTOCOL.md)'
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorBody, "description": ERROR_DESCRIPTION},
}
DASHBOARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    303: {"description": "To the login page (not logged in), or to the page after a change"},
    "default": {"description": "A refusal as an HTML page (login failed, CSRF, read-only user, "
                               "not found), or a request error in PROTOCOL.md's JSON shape",
                "content": {"text/html": {"schema": {"type": "string"}},
                            "application/json": {"schema": inline_schema(ErrorBody)}}},
}

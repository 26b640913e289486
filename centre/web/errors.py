"""Every error the centre answers has the body {"error": {"code", "message", …}} (PROTOCOL.md).

Handlers here replace FastAPI's and Starlette's own, so a 404, a 405 or a validation failure looks
like any other error to a unit.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("centre")

# The database cannot take the request now: its disk is full, the server is down or restarting, or
# every pooled connection stayed busy. Passing trouble: 503, and a unit keeps its events and retries.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
DATABASE_RETRY_AFTER_S = 5

_CODES_BY_STATUS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 413: "too_large",
    415: "unsupported_media_type", 422: "invalid",
}


class ApiError(Exception):
    """An answer other than success. `extra` fields go into the error object (e.g. expected_seq)."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {message}", field=field)


def error_response(status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status,
                        headers=headers)


def field_path(loc: tuple[Any, ...]) -> str:
    """('events', 3, 'seq') → 'events[3].seq'; FastAPI's leading 'body'/'query' is kept as-is."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def database_cause(exc: Exception) -> str:
    """The driver's own first line ("database or disk is full", "connection refused"), without
    SQLAlchemy's statement and parameters."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = field_path(tuple(first.get("loc", ())))
        return error_response(422, "invalid", f"{field}: {first.get('msg', 'invalid')}", field=field)

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # One line, no traceback: the cause is outside the code, and an outage answers many requests.
        cause = database_cause(exc)
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, cause)
        where = "disk is full" if "full" in cause.lower() else "is unavailable"
        return error_response(503, "storage_unavailable", f"the centre's database {where}; retry later",
                              headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})

    for exception_class in DATABASE_UNAVAILABLE:
        app.add_exception_handler(exception_class, database_unavailable)

    @app.exception_handler(DataError)
    async def unstorable_value(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value of the request as data (PostgreSQL: a NUL character, text
        # over a column's length, a number out of range): the client's to fix, so not a 500. The
        # checks where input enters name the field; this catches what they do not foresee.
        log.warning("a value the database cannot store on %s %s: %s", request.method, request.url.path,
                    database_cause(exc))
        return error_response(422, "invalid", "request: a value the database cannot store",
                              field="request")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; see the centre's log")

"""Every refusal's HTTP status, in one table, and the error body DESIGN.md pins:
{"error": {"code", "message", …detail}} with a 4xx/5xx status.

The state machines and the queue refuse with a code (`kiosk.refusals`); only here does a code
become a status. A code missing from the table is a programming error: tests/kiosk/api/test_errors.py
checks that every code the unit can raise is here.
"""
from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from kiosk.refusals import Refused

STATUS_BY_CODE: dict[str, int] = {
    # the request itself
    "invalid_json": 400,
    "unauthorized": 401,
    "not_found": 404,
    "unknown_key": 404,
    "no_ticket_keys": 404,
    "unknown_item": 404,
    "unknown_ticket": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,       # a live stream asked for without Accept: text/event-stream
    "request_timeout": 408,
    "too_large": 413,
    "invalid": 422,
    "unknown_staff": 422,
    "unknown_category": 422,
    "unknown_counter": 422,
    "rate_limited": 429,
    # the staff console's sign-in and its session (kiosk.console)
    "wrong_pin": 401,
    "no_session": 401,
    "csrf_failed": 403,
    "cross_site": 403,
    "no_pin": 409,
    "pin_locked": 429,
    # the counter's or the queue's state
    "not_signed_in": 409,
    "paused": 409,
    "queue_empty": 409,
    "queue_closed": 409,
    "nothing_serving": 409,
    "not_queue_host": 409,
    "not_provisioned": 409,
    # the unit cannot do it now
    "printer_unavailable": 503,
    "print_failed": 503,
    "queue_host_unreachable": 503,
    "queue_host_error": 502,
    "too_many_streams": 503,
    "storage_unavailable": 503,
    "storage_corrupt": 503,
    "storage_busy": 503,
    "storage_error": 503,
    "internal": 500,
}


# Refusals answered before the request's body was read to its end: the connection closes after
# the answer, so the server does not go on reading (and discarding) the rest.
CLOSES_CONNECTION = frozenset({"too_large", "request_timeout"})


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 500)


def error_response(code: str, message: str, *, status: int | None = None,
                   headers: dict[str, str] | None = None, **detail: Any) -> JSONResponse:
    if code in CLOSES_CONNECTION:
        headers = {**(headers or {}), "Connection": "close"}
    return JSONResponse({"error": {"code": code, "message": message, **detail}},
                        status_code=status_for(code) if status is None else status, headers=headers)


def refusal_response(refused: Refused) -> JSONResponse:
    # Only plain values go on the wire; a refusal may carry richer detail for the log.
    detail = {key: value for key, value in refused.detail.items() if isinstance(value, str | int | bool)}
    return error_response(refused.code, refused.message, **detail)

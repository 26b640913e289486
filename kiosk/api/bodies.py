"""Request bodies (pydantic models, extra fields refused) and the bounded, checked reading of a
body or a query parameter. Every refusal here is a `Refused` with the API's code."""
from __future__ import annotations

import asyncio
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request

from kiosk.refusals import Refused

MAX_BODY_BYTES = 64 * 1024
BODY_TIMEOUT_S = 10.0


class Body(BaseModel):
    """An empty body (or {}); the base of every body, so unknown fields are an error."""
    model_config = ConfigDict(extra="forbid")


class SignInBody(Body):
    staff_id: str = Field(..., min_length=1, max_length=32)


class PauseBody(Body):
    reason: str = Field("break", min_length=1, max_length=64)


class CompleteBody(Body):
    service_item: str | None = Field(None, max_length=64)
    ticket: str | None = Field(None, max_length=16)


class ActBody(Body):
    # For the unit's own counter both are left out (the signed-in staff acts); a counter unit
    # acting through the hall's queue host names itself and its staff.
    counter_id: str | None = Field(None, min_length=1, max_length=16)
    staff_id: str | None = Field(None, min_length=1, max_length=32)


class TransferTarget(Body):
    """Where a transferred ticket goes (the staff console's 转移 takes only this)."""
    to_counter: str | None = Field(None, min_length=1, max_length=16)
    to_category: str | None = Field(None, pattern=r"^[A-Z]$")

    @model_validator(mode="after")
    def _one_target(self) -> "TransferTarget":
        if (self.to_counter is None) == (self.to_category is None):
            raise ValueError("give exactly one of to_counter and to_category")
        return self


class TransferBody(ActBody, TransferTarget):
    pass


class CounterStateBody(Body):
    # A counter calling through the hall's queue host says whether it is closed for the day.
    counter_id: str = Field(..., min_length=1, max_length=16)
    closed: bool
    staff_id: str | None = Field(None, min_length=1, max_length=32)


class TicketBody(Body):
    category: str = Field(..., pattern=r"^[A-Z]$")


class ReprintBody(Body):
    ticket: str = Field(..., pattern=r"^[A-Z][0-9]{3,5}$")


class NoticeBody(Body):
    service_item: str = Field(..., min_length=1, max_length=64)
    copies: int | None = Field(None, ge=1, le=2)


class PaperBody(Body):
    state: Literal["ok", "near_end", "out"]


def parse_json(raw: bytes) -> object:
    """The body as JSON ({} when empty); hostile JSON is a 400 like any other malformed body."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except RecursionError:  # e.g. 5,000 nested "[": the parser gives up deep inside
        raise Refused("invalid_json", "body is not valid JSON: nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Refused("invalid_json", f"body is not valid JSON: {error}") from None
    except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise Refused("invalid_json", "body is not valid JSON: a number too long") from None


def _too_large() -> Refused:
    return Refused("too_large", f"request body over {MAX_BODY_BYTES} bytes")


async def read_bounded(request: Request) -> bytes:
    """The body, read only up to the limit: a larger one is refused as soon as it says so
    (Content-Length) or gets there (chunked), never held whole in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 9 or int(declared) > MAX_BODY_BYTES):
        raise _too_large()
    chunks, size = [], 0
    try:
        # A body trickled a byte at a time would hold the connection (and its handler) forever.
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _too_large()
                chunks.append(chunk)
    except TimeoutError:
        raise Refused("request_timeout", f"request body not received within {BODY_TIMEOUT_S:.0f} s") from None
    return b"".join(chunks)


async def read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    payload = parse_json(await read_bounded(request))
    if not isinstance(payload, dict):
        raise Refused("invalid", "body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise Refused("invalid", f"{field}: {first['msg']}", field=field) from None


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise Refused("invalid", f"{name} must be an integer", field=name) from None
    if not low <= value <= high:
        raise Refused("invalid", f"{name} must be between {low} and {high}", field=name)
    return value

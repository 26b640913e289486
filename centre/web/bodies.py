"""Request bodies: a size cap, strict JSON, validation errors that name the field, and the exact
text of each element of a JSON array (so events can be kept exactly as the unit sent them)."""
from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from centre.web.errors import error_response, field_path, invalid

# A batch of 500 events is about 0.3-0.5 MB; 4 MiB leaves room for long free-text fields.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Far deeper than any body the centre takes (an event is three levels inside a batch, its data
# flat; a bundle three levels), far shallower than Python's recursion limit: past it, decoding,
# validating or hashing a body would be a RecursionError (100,000 nested "[": a 500 before this).
MAX_JSON_DEPTH = 32
# A body's pace: some of it every BODY_IDLE_TIMEOUT_S, all of it within BODY_TIMEOUT_S (4 MiB in
# 120 s is 35 KB/s; a unit's batch is under 0.5 MB).
BODY_IDLE_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 120.0

Model = TypeVar("Model", bound=BaseModel)


class BodySizeLimit:
    """ASGI middleware: answer 413 to a body over `max_bytes` before the app sees any of it, and
    408 to one that stops coming.

    A declared Content-Length over the limit is refused before a byte of the body is read; a
    chunked body is read only up to the limit. A body must keep coming: nothing for
    BODY_IDLE_TIMEOUT_S, or not all of it within BODY_TIMEOUT_S, and it is refused (else a client
    that sends its headers and then a byte now and then holds a request forever). Each refusal
    closes the connection: otherwise the server would go on reading (and discarding) the rest of
    a body of any size. A body within the limits is read here in full (FastAPI would buffer it
    anyway) and replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            body = await self._read(receive)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)
            return
        except TimeoutError:
            await error_response(408, "request_timeout", "the request body stopped coming",
                                 headers={"Connection": "close"})(scope, receive, send)
            return
        if body is None:
            return  # the client went away
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + BODY_TIMEOUT_S
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout(None) as deadline:
            while True:
                deadline.reschedule(min(give_up_at, loop.time() + BODY_IDLE_TIMEOUT_S))
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    raise _BodyTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "too_large",
                                  f"the request body is larger than {self.max_bytes} bytes",
                                  headers={"Connection": "close"})
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


# NaN, Infinity and overflowing numbers would not survive canonical_bytes, so they are refused.
_decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_whitespace = re.compile(r"[ \t\n\r]*")


def decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid("body", f"not UTF-8: {exc}") from exc


def decode_json(raw: bytes | str) -> Any:
    """Strict UTF-8 JSON, nested at most MAX_JSON_DEPTH levels, without a NUL character in any
    string (PostgreSQL's text cannot hold one); or 422 invalid naming the body or the field."""
    text = decode_text(raw) if isinstance(raw, bytes) else raw
    try:
        value = _decoder.decode(text)
    except RecursionError:  # the parser gave up deep inside: far past MAX_JSON_DEPTH
        raise invalid("body", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise invalid("body", f"not JSON: {exc}") from exc
    # JSON can only write a NUL as the escape \u0000: without one in the text, no string has it.
    if _nested_too_deep(value) or "\\u0000" in text:
        problem = _first_unstorable(value)
        if problem is not None:
            raise invalid(*problem)
    return value


def _nested_too_deep(value: Any) -> bool:
    """The quick check, without paths, that every upload pays."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                if depth >= MAX_JSON_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def _first_unstorable(value: Any) -> tuple[str, str] | None:
    """(field, why) of the first container too deep or string with a NUL, in document order."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return field_path(path), "contains a NUL character, which the centre cannot store"
            continue
        if not isinstance(node, (dict, list)):
            continue
        if len(path) >= MAX_JSON_DEPTH:
            return field_path(path), f"nested deeper than {MAX_JSON_DEPTH} levels"
        members = list(node.items() if isinstance(node, dict) else enumerate(node))
        for key, child in reversed(members):
            if isinstance(key, str) and "\x00" in key:
                return field_path(path), "a key contains a NUL character, which the centre cannot store"
            stack.append(((*path, key), child))
    return None


def validate(model: type[Model], data: Any) -> Model:
    """The pydantic model of `data`, or 422 invalid naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise invalid(field_path(tuple(first["loc"])), first["msg"]) from exc


def parse_body(model: type[Model], raw: bytes) -> Model:
    return validate(model, decode_json(raw))


def raw_array_items(text: str, key: str) -> list[str] | None:
    """The exact source text of each element of the array `key` of the JSON object `text`.

    `text` must already be known to be valid JSON. Like json.loads, a repeated key counts by its
    last occurrence. None when `text` is not an object or `key` is not an array in it.
    """
    def skip(i: int) -> int:
        return _whitespace.match(text, i).end()

    i = skip(0)
    if text[i] != "{":
        return None
    i = skip(i + 1)
    found: list[str] | None = None
    while text[i] != "}":
        name, i = json.decoder.scanstring(text, i + 1)  # text[i] is the key's opening quote
        i = skip(skip(i) + 1)  # past the colon
        if name == key and text[i] == "[":
            items = []
            i = skip(i + 1)
            while text[i] != "]":
                _, end = _decoder.raw_decode(text, i)
                items.append(text[i:end])
                i = skip(end)
                if text[i] == ",":
                    i = skip(i + 1)
            i += 1
            found = items
        else:
            _, i = _decoder.raw_decode(text, i)
            if name == key:
                found = None
        i = skip(i)
        if text[i] == ",":
            i = skip(i + 1)
    return found

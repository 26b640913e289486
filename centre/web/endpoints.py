"""What the route modules share: the clock, the app's database (one transaction on a worker
thread), cached responses (ETag, If-None-Match)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, TypeVar

from fastapi import Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from centre.storage.db import Database

Result = TypeVar("Result")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def database(request: Request) -> Database:
    return request.app.state.db


async def in_transaction(request: Request, work: Callable[[Session], Result]) -> Result:
    """`work(session)` in one transaction, on a worker thread: the database calls block."""
    db = database(request)

    def run() -> Result:
        with db.transaction() as session:
            return work(session)

    return await run_in_threadpool(run)


def cached_response(body: bytes, etag: str, media_type: str, request: Request) -> Response:
    # no-cache: a cache may keep it but must ask again (If-None-Match) before using it.
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weakly compared, as RFC 9110 says for GET)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False

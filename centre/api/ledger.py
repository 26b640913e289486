"""Admin endpoints for the 差评 ledger, appeals and the holiday calendar. Reading the ledger syncs
it first, so a 差评 uploaded a moment ago is already there."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from centre.dates.holidays import DAY_KINDS, CalendarError, calendar_listing, parse_calendar, store_calendar
from centre.dates.months import centre_time_zone
from centre.ledger.appeals import review_appeal, submit_appeal
from centre.ledger.entries import (
    LedgerError, close, ledger_entry, read_ledger, record_callback, rectify,
)
from centre.reports.download import month_of
from centre.web.auth import admin_only
from centre.web.bodies import decode_json, parse_body
from centre.web.endpoints import in_transaction, utcnow
from centre.web.errors import ApiError
from centre.web.fields import Name, RowId
from centre.web.openapi import json_body

router = APIRouter(dependencies=[Depends(admin_only)])

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note
    by: Name


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Name
    note: Note | None = None


class AppealBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evidence: Note
    by: Name


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["upheld", "rejected"]
    by: Name
    note: Note | None = None


# What parse_calendar reads (by hand, as it reads calendar files): {"day": [...]} or the list itself.
_CALENDAR_DAYS = {"type": "array", "items": {
    "type": "object", "required": ["date", "kind"],
    "properties": {"date": {"type": "string", "format": "date"}, "kind": {"enum": list(DAY_KINDS)},
                   "name": {"type": "string", "maxLength": 64}}}}
CALENDAR_SCHEMA = {"anyOf": [{"type": "object", "required": ["day"], "properties": {"day": _CALENDAR_DAYS}},
                             _CALENDAR_DAYS]}


async def in_ledger(request: Request, work) -> Any:
    """`work(session)` in a transaction, with the ledger's refusals as API errors."""
    def guarded(session):
        try:
            return work(session)
        except (LedgerError, CalendarError) as exc:
            status, code = (exc.status, exc.code) if isinstance(exc, LedgerError) else (422, "invalid")
            raise ApiError(status, code, str(exc)) from exc

    return await in_transaction(request, guarded)


@router.get("/api/v1/ledger")
async def list_ledger(request: Request,
                      status: Literal["open", "rectified", "overdue", "closed"] | None = Query(None),
                      month: str | None = Query(None, max_length=7)) -> dict:
    bounds = None if month is None else month_of(month).utc_bounds(centre_time_zone())
    now = utcnow()

    return {"entries": await in_ledger(request, lambda session: read_ledger(
        session, now, status=status, month_bounds=bounds))}


@router.get("/api/v1/ledger/{entry_id}")
async def get_ledger_entry(request: Request, entry_id: RowId) -> dict:
    return await in_ledger(request, lambda session: ledger_entry(session, entry_id, utcnow()))


async def _change_entry(request: Request, entry_id: int, body_model: type[BaseModel], change) -> dict:
    """Parse the body, `change(session, body, now)` the entry, and answer with the entry as it is now."""
    body = parse_body(body_model, await request.body())
    now = utcnow()

    def work(session):
        change(session, body, now)
        return ledger_entry(session, entry_id, now)

    return await in_ledger(request, work)


@router.post("/api/v1/ledger/{entry_id}/rectify", openapi_extra=json_body(NoteBody))
async def post_rectify(request: Request, entry_id: RowId) -> dict:
    return await _change_entry(request, entry_id, NoteBody, lambda session, body, now: rectify(
        session, entry_id, body.note, body.by, now))


@router.post("/api/v1/ledger/{entry_id}/callback", openapi_extra=json_body(NoteBody))
async def post_callback(request: Request, entry_id: RowId) -> dict:
    return await _change_entry(request, entry_id, NoteBody, lambda session, body, now: record_callback(
        session, entry_id, body.note, body.by, now))


@router.post("/api/v1/ledger/{entry_id}/close", openapi_extra=json_body(CloseBody))
async def post_close(request: Request, entry_id: RowId) -> dict:
    return await _change_entry(request, entry_id, CloseBody, lambda session, body, now: close(
        session, entry_id, body.by, now, body.note))


@router.post("/api/v1/ledger/{entry_id}/appeals", status_code=201, openapi_extra=json_body(AppealBody))
async def post_appeal(request: Request, entry_id: RowId) -> dict:
    body = parse_body(AppealBody, await request.body())
    now = utcnow()

    def work(session):
        appeal = submit_appeal(session, entry_id, body.evidence, body.by, now)
        return {"appeal_id": appeal.id, "entry": ledger_entry(session, entry_id, now)}

    return await in_ledger(request, work)


@router.post("/api/v1/appeals/{appeal_id}/review", openapi_extra=json_body(ReviewBody))
async def post_review(request: Request, appeal_id: RowId) -> dict:
    body = parse_body(ReviewBody, await request.body())
    now = utcnow()

    def work(session):
        appeal = review_appeal(session, appeal_id, body.decision, body.by, now, body.note)
        return ledger_entry(session, appeal.entry_id, now)

    return await in_ledger(request, work)


@router.get("/api/v1/holidays")
async def get_holidays(request: Request) -> dict:
    return {"days": await in_transaction(request, calendar_listing)}


@router.put("/api/v1/holidays", openapi_extra=json_body(CALENDAR_SCHEMA))
async def put_holidays(request: Request) -> dict:
    data = decode_json(await request.body())
    now = utcnow()

    def work(session):
        store_calendar(session, parse_calendar(data), now)
        return calendar_listing(session)

    return {"days": await in_ledger(request, work)}

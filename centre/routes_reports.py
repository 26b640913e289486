"""Admin endpoints for the monthly report, supervision scores and the callback list.

Names of who did something (`entered_by`, `drawn_by`, …) come in the body: the admin token is one
shared secret, so it cannot tell managers apart.
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from centre.bodies import parse_body
from centre.callbacks import (
    DEFAULT_CALLBACKS, MAX_CALLBACKS, MIN_CALLBACKS, CallbackError, callback_list, draw_callbacks,
    record_callback_result,
)
from centre.errors import ApiError
from centre.months import Month, MonthError
from centre.openapi import json_body
from centre.report_formats import MEDIA_TYPES, render_report
from centre.report_source import monthly_report
from centre.routes_admin import admin_only
from centre.supervision import SupervisionError, set_supervision, supervision_entries
from centre.web import in_transaction, utcnow

router = APIRouter(dependencies=[Depends(admin_only)])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MonthText = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class SupervisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: float = Field(ge=0, le=20)
    entered_by: Name
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class CallbackDrawBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drawn_by: Name
    count: int = Field(DEFAULT_CALLBACKS, ge=MIN_CALLBACKS, le=MAX_CALLBACKS)
    seed: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class CallbackResultBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    recorded_by: Name


def month_of(text: str) -> Month:
    try:
        return Month.parse(text)
    except MonthError as exc:
        raise ApiError(422, "invalid", str(exc), field="month") from exc


def report_filename(month: Month, by: str, fmt: str) -> str:
    return f"report-{month}{'-staff' if by == 'staff' else ''}.{fmt}"


async def render_monthly_report(request: Request, month: Month, by: str, fmt: str) -> Response:
    """The report as a download (also used by the dashboard)."""
    def work(session):
        return monthly_report(session, month, by), callback_list(session, month)

    report, callbacks = await in_transaction(request, work)
    body = render_report(report, fmt, callbacks)
    headers = {"Content-Disposition": f'attachment; filename="{report_filename(month, by, fmt)}"'}
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/api/v1/reports/{month}", response_class=Response,
            responses={200: {"content": {media_type: {} for media_type in MEDIA_TYPES.values()}}})
async def get_report(request: Request, month: MonthText,
                     format: Literal["json", "csv", "xlsx"] = Query("json"),
                     by: Literal["counter", "staff"] = Query("counter")) -> Response:
    return await render_monthly_report(request, month_of(month), by, format)


@router.get("/api/v1/supervision/{month}")
async def list_supervision(request: Request, month: MonthText) -> dict:
    parsed = month_of(month)
    entries = await in_transaction(request, lambda session: supervision_entries(session, parsed))
    return {"month": month, "entries": entries}


@router.put("/api/v1/supervision/{month}/{counter_id}", openapi_extra=json_body(SupervisionBody))
async def put_supervision(request: Request, month: MonthText,
                          counter_id: Annotated[str, Path(min_length=1, max_length=32)]) -> dict:
    body = parse_body(SupervisionBody, await request.body())
    parsed, now = month_of(month), utcnow()

    def work(session):
        try:
            set_supervision(session, parsed, counter_id, body.score, body.entered_by, now, body.note)
        except SupervisionError as exc:
            raise ApiError(422, "invalid", str(exc), field="score") from exc
        return supervision_entries(session, parsed)

    return {"month": month, "entries": await in_transaction(request, work)}


@router.get("/api/v1/callbacks/{month}")
async def get_callbacks(request: Request, month: MonthText) -> dict:
    parsed = month_of(month)
    drawn = await in_transaction(request, lambda session: callback_list(session, parsed))
    if drawn is None:
        raise ApiError(404, "not_drawn", f"the callback list of {month} has not been drawn")
    return drawn


@router.post("/api/v1/callbacks/{month}/draw", status_code=201,
             openapi_extra=json_body(CallbackDrawBody))
async def post_callback_draw(request: Request, month: MonthText) -> dict:
    body = parse_body(CallbackDrawBody, await request.body())
    parsed, now = month_of(month), utcnow()

    def work(session):
        try:
            return draw_callbacks(session, parsed, body.drawn_by, now, count=body.count, seed=body.seed)
        except CallbackError as exc:
            raise ApiError(409 if exc.code != "invalid" else 422, exc.code, str(exc)) from exc

    return await in_transaction(request, work)


@router.put("/api/v1/callbacks/{month}/{transaction_id}", openapi_extra=json_body(CallbackResultBody))
async def put_callback_result(request: Request, month: MonthText,
                              transaction_id: Annotated[str, Path(min_length=1, max_length=128)]) -> dict:
    body = parse_body(CallbackResultBody, await request.body())
    parsed, now = month_of(month), utcnow()

    def work(session):
        try:
            return record_callback_result(session, parsed, transaction_id, body.result, body.recorded_by, now)
        except CallbackError as exc:
            raise ApiError(404 if exc.code == "not_on_list" else 422, exc.code, str(exc)) from exc

    return await in_transaction(request, work)

"""Admin endpoints for the monthly report, supervision scores and the callback list.

Names of who did something (`entered_by`, `drawn_by`, …) come in the body: the admin token is one
shared secret, so it cannot tell managers apart.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from centre.reports.callbacks import (
    DEFAULT_CALLBACKS, MAX_CALLBACKS, MIN_CALLBACKS, CallbackError, callback_list, draw_callbacks,
    record_callback_result,
)
from centre.reports.download import month_of, render_monthly_report
from centre.reports.formats import MEDIA_TYPES
from centre.reports.supervision import SupervisionError, set_supervision, supervision_entries
from centre.web.auth import admin_only
from centre.web.bodies import parse_body
from centre.web.endpoints import in_transaction, utcnow
from centre.web.errors import ApiError
from centre.web.fields import MonthText, Name
from centre.web.openapi import json_body

router = APIRouter(dependencies=[Depends(admin_only)])

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


# What a callback that cannot be drawn or recorded answers, by CallbackError's code.
CALLBACK_STATUSES = {"invalid": 422, "already_drawn": 409, "nothing_to_draw": 409, "not_on_list": 404}


async def _change_month(request: Request, month: str, body_model: type[BaseModel], change) -> Any:
    """Parse the body, then `change(session, month, body, now)` in one transaction, with a refused
    supervision score or callback as an API error."""
    body = parse_body(body_model, await request.body())
    parsed, now = month_of(month), utcnow()

    def work(session):
        try:
            return change(session, parsed, body, now)
        except SupervisionError as exc:
            raise ApiError(422, "invalid", str(exc), field="score") from exc
        except CallbackError as exc:
            raise ApiError(CALLBACK_STATUSES[exc.code], exc.code, str(exc)) from exc

    return await in_transaction(request, work)


@router.put("/api/v1/supervision/{month}/{counter_id}", openapi_extra=json_body(SupervisionBody))
async def put_supervision(request: Request, month: MonthText,
                          counter_id: Annotated[str, Path(min_length=1, max_length=32)]) -> dict:
    def change(session, parsed, body, now):
        set_supervision(session, parsed, counter_id, body.score, body.entered_by, now, body.note)
        return supervision_entries(session, parsed)

    return {"month": month, "entries": await _change_month(request, month, SupervisionBody, change)}


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
    def change(session, parsed, body, now):
        return draw_callbacks(session, parsed, body.drawn_by, now, count=body.count, seed=body.seed)

    return await _change_month(request, month, CallbackDrawBody, change)


@router.put("/api/v1/callbacks/{month}/{transaction_id}", openapi_extra=json_body(CallbackResultBody))
async def put_callback_result(request: Request, month: MonthText,
                              transaction_id: Annotated[str, Path(min_length=1, max_length=128)]) -> dict:
    def change(session, parsed, body, now):
        return record_callback_result(session, parsed, transaction_id, body.result, body.recorded_by, now)

    return await _change_month(request, month, CallbackResultBody, change)

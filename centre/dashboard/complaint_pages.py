"""The dashboard's complaints register (投诉): the list (overdue first flagged), registering one,
and one complaint with its trail and the forms to reply, record a callback and close. Who acted
is the logged-in user, never a form field."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.complaints.register import (
    CHANNELS, CLASSES, INVALID_REASONS, SATISFACTION, ComplaintError, add_complaint, callback, close,
    complaint_with_trail, listing, reply,
)
from centre.dashboard.session import current_user, editor_or_refusal, to_login
from centre.dashboard.templating import render
from centre.web.endpoints import in_transaction, utcnow
from centre.web.fields import RowId
from centre.web.openapi import DASHBOARD_RESPONSES, form_body

router = APIRouter(prefix="/dashboard", default_response_class=HTMLResponse, responses=DASHBOARD_RESPONSES)
STATUS_LABELS = {"open": "待答复", "overdue": "已超期", "replied": "已答复", "closed": "已办结"}
LABELS = dict(channels=CHANNELS, classes=CLASSES, invalid_reasons=INVALID_REASONS, satisfaction=SATISFACTION,
              status_labels=STATUS_LABELS)
ADD_FIELDS = ("channel", "kind", "invalid_reason", "summary", "department", "cause", "first_handler", "counter_id",
              "staff_id", "complainant")


@router.get("/complaints")
async def complaints_page(request: Request, year: int | None = Query(None, ge=2000, le=9999),
                          error: str | None = None) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    now = utcnow()
    rows = await in_transaction(request, lambda session: listing(session, now, year=year))
    rows.sort(key=lambda row: not row["overdue"])  # stable: overdue first, then as received
    overdue = sum(row["overdue"] for row in rows)
    return render(request, "complaints.html", user, page="complaints", complaints=rows, overdue=overdue,
                  year=year, error=error, **LABELS)


@router.post("/complaints", openapi_extra=form_body(*ADD_FIELDS, "csrf_token"))
async def register_complaint(request: Request) -> Response:
    user, fields, refusal = await editor_or_refusal(request)
    if refusal is not None:
        return refusal
    given = {name: (fields.get(name) or "").strip() or None for name in ADD_FIELDS}
    kind, summary, channel = given.pop("kind"), given.pop("summary") or "", given.pop("channel")
    if kind != "invalid":
        given["invalid_reason"] = None
    try:
        added = await in_transaction(request, lambda session: add_complaint(
            session, kind=kind, summary=summary, channel=channel, actor=user.name, now=utcnow(), **given).id)
    except ComplaintError as exc:
        now = utcnow()
        rows = await in_transaction(request, lambda session: listing(session, now))
        return render(request, "complaints.html", user, page="complaints", complaints=rows,
                      overdue=sum(r["overdue"] for r in rows), year=None, error=str(exc), status_code=exc.status,
                      **LABELS)
    return RedirectResponse(f"/dashboard/complaints/{added}", status_code=303)


async def _complaint_page(request: Request, user, complaint_id: int, *, error: str | None = None,
                          status_code: int = 200) -> Response:
    try:
        shown = await in_transaction(request, lambda session: complaint_with_trail(session, complaint_id, utcnow()))
    except ComplaintError:
        return render(request, "not_found.html", user, status_code=404, what=f"投诉第 {complaint_id} 件")
    return render(request, "complaint.html", user, page="complaints", complaint=shown, error=error,
                  status_code=status_code, **LABELS)


@router.get("/complaints/{complaint_id}")
async def complaint_page(request: Request, complaint_id: RowId) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    return await _complaint_page(request, user, complaint_id)


async def _change(request: Request, complaint_id: int, change: Callable[[object, dict[str, str], str, datetime], object]
                  ) -> Response:
    user, fields, refusal = await editor_or_refusal(request)
    if refusal is not None:
        return refusal
    try:
        await in_transaction(request, lambda session: change(session, fields, user.name, utcnow()))
    except ComplaintError as exc:
        return await _complaint_page(request, user, complaint_id, error=str(exc), status_code=exc.status)
    return RedirectResponse(f"/dashboard/complaints/{complaint_id}", status_code=303)


@router.post("/complaints/{complaint_id}/reply", openapi_extra=form_body("text", "csrf_token"))
async def reply_complaint(request: Request, complaint_id: RowId) -> Response:
    return await _change(request, complaint_id, lambda s, f, who, now: reply(s, complaint_id, f.get("text", ""), who, now))


@router.post("/complaints/{complaint_id}/callback", openapi_extra=form_body("note", "satisfaction", "csrf_token"))
async def callback_complaint(request: Request, complaint_id: RowId) -> Response:
    return await _change(request, complaint_id, lambda s, f, who, now: callback(
        s, complaint_id, f.get("note", ""), f.get("satisfaction", ""), who, now))


@router.post("/complaints/{complaint_id}/close", openapi_extra=form_body("csrf_token"))
async def close_complaint(request: Request, complaint_id: RowId) -> Response:
    return await _change(request, complaint_id, lambda s, f, who, now: close(s, complaint_id, who, now))

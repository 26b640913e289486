"""The dashboard's 差评 ledger: the list, one entry with its trail, and the workflow forms
(rectify, callback, close, appeal, review). Who acted is the logged-in user, never a form field."""
from __future__ import annotations

from typing import Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.dashboard.session import current_user, editor_or_refusal, to_login
from centre.dashboard.templating import STATUS_NAMES, chosen_month, render
from centre.dates.months import centre_time_zone
from centre.ledger.appeals import review_appeal, submit_appeal
from centre.ledger.entries import (
    STATUSES, LedgerError, close, ledger_entry, read_ledger, record_callback, rectify,
)
from centre.storage.models import Appeal
from centre.web.endpoints import in_transaction, utcnow
from centre.web.fields import RowId
from centre.web.openapi import DASHBOARD_RESPONSES, form_body

# Every page returns its own response; the class and responses only tell the OpenAPI document so.
router = APIRouter(prefix="/dashboard", default_response_class=HTMLResponse, responses=DASHBOARD_RESPONSES)

DONE_MESSAGES = {"rectify": "已记录整改情况。", "callback": "已记录回访情况。", "close": "已办结。",
                 "appeal": "申诉已提交，等待其他主管审核。", "review": "申诉已审核。"}


@router.get("/ledger")
async def ledger_page(request: Request, month: str | None = Query(None, max_length=7),
                      status: str | None = Query(None, max_length=16)) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    chosen = chosen_month(month)
    wanted = status if status in STATUSES else None
    bounds, now = chosen.utc_bounds(centre_time_zone()), utcnow()

    entries = await in_transaction(request, lambda session: read_ledger(
        session, now, status=wanted, month_bounds=bounds))
    return render(request, "ledger.html", user, page="ledger", month=chosen, entries=entries,
                  status=wanted, statuses=STATUS_NAMES)


async def _entry_page(request: Request, user, entry_id: int, *, error: str | None = None,
                      status_code: int = 200, message: str | None = None) -> Response:
    try:
        entry = await in_transaction(request, lambda session: ledger_entry(session, entry_id, utcnow()))
    except LedgerError:
        return render(request, "not_found.html", user, status_code=404, what=f"差评台账第 {entry_id} 条")
    pending = next((appeal for appeal in entry["appeals"] if appeal["decision"] is None), None)
    upheld = any(appeal["decision"] == "upheld" for appeal in entry["appeals"])
    return render(request, "ledger_entry.html", user, page="ledger", entry=entry, error=error,
                  message=message, pending_appeal=pending, may_appeal=pending is None and not upheld,
                  status_code=status_code)


@router.get("/ledger/{entry_id}")
async def ledger_entry_page(request: Request, entry_id: RowId, done: str | None = Query(None, max_length=16)
                            ) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    return await _entry_page(request, user, entry_id, message=DONE_MESSAGES.get(done or ""))


async def _change(request: Request, entry_id: int, action: str,
                  change: Callable[[object, dict[str, str], str], int]) -> Response:
    """Run `change(session, form, actor)` (returning the entry id) for a manager, then show the entry."""
    user, fields, refusal = await editor_or_refusal(request)
    if refusal is not None:
        return refusal
    try:
        shown = await in_transaction(request, lambda session: change(session, fields, user.name))
    except LedgerError as exc:
        return await _entry_page(request, user, entry_id, error=_chinese_error(exc), status_code=exc.status)
    return RedirectResponse(f"/dashboard/ledger/{shown}?done={action}", status_code=303)


def _chinese_error(exc: LedgerError) -> str:
    return {
        "invalid_transition": "当前状态下不能进行此操作（可能已被他人处理），请查看最新状态。",
        "same_person": "申诉须由提交人以外的主管审核。",
        "unknown_entry": "没有这条台账记录。",
        "unknown_appeal": "没有这条申诉。",
        "invalid": "请填写必填内容。",
    }.get(exc.code, str(exc))


@router.post("/ledger/{entry_id}/rectify", openapi_extra=form_body("note", "csrf_token"))
async def rectify_entry(request: Request, entry_id: RowId) -> Response:
    def change(session, fields, actor):
        return rectify(session, entry_id, fields.get("note", ""), actor, utcnow()).id
    return await _change(request, entry_id, "rectify", change)


@router.post("/ledger/{entry_id}/callback", openapi_extra=form_body("note", "csrf_token"))
async def callback_entry(request: Request, entry_id: RowId) -> Response:
    def change(session, fields, actor):
        return record_callback(session, entry_id, fields.get("note", ""), actor, utcnow()).id
    return await _change(request, entry_id, "callback", change)


@router.post("/ledger/{entry_id}/close", openapi_extra=form_body("note", "csrf_token"))
async def close_entry(request: Request, entry_id: RowId) -> Response:
    def change(session, fields, actor):
        return close(session, entry_id, actor, utcnow(), fields.get("note", "").strip() or None).id
    return await _change(request, entry_id, "close", change)


@router.post("/ledger/{entry_id}/appeal", openapi_extra=form_body("evidence", "csrf_token"))
async def appeal_entry(request: Request, entry_id: RowId) -> Response:
    def change(session, fields, actor):
        return submit_appeal(session, entry_id, fields.get("evidence", ""), actor, utcnow()).entry_id
    return await _change(request, entry_id, "appeal", change)


@router.post("/ledger/{entry_id}/appeals/{appeal_id}/review",
             openapi_extra=form_body("decision", "note", "csrf_token"))
async def review_entry_appeal(request: Request, entry_id: RowId, appeal_id: RowId) -> Response:
    def change(session, fields, actor):
        if session.get(Appeal, appeal_id) is None or session.get(Appeal, appeal_id).entry_id != entry_id:
            raise LedgerError(f"no appeal {appeal_id} on entry {entry_id}", code="unknown_appeal", status=404)
        appeal = review_appeal(session, appeal_id, fields.get("decision", ""), actor, utcnow(),
                               fields.get("note", "").strip() or None)
        return appeal.entry_id
    return await _change(request, entry_id, "review", change)

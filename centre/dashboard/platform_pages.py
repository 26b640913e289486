"""The dashboard's 好差评报送 page: how many records for the platform are pending, sent and failed,
the latest errors, and 重新发送 for failed records (managers)."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.dashboard.session import current_user, editor_or_refusal, to_login
from centre.dashboard.templating import render
from centre.platform.outbox import outbox_status, resend
from centre.web.endpoints import in_transaction, utcnow
from centre.web.openapi import DASHBOARD_RESPONSES, form_body

router = APIRouter(prefix="/dashboard", default_response_class=HTMLResponse, responses=DASHBOARD_RESPONSES)

STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "merged": "随评价发送的原因", "withheld": "不报送（评价已作废）",
                 "dead": "发送失败"}
KIND_LABELS = {"rating": "评价", "reason": "差评原因", "rectification": "整改", "callback": "回访"}


@router.get("/platform")
async def platform_page(request: Request, resent: int | None = Query(None, ge=0, le=10**9)) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    status = await in_transaction(request, lambda session: outbox_status(session.connection()))
    message = None if resent is None else f"已将 {resent} 条记录重新排队发送。"
    return render(request, "platform.html", user, page="platform", status=status, labels=STATUS_LABELS,
                  kinds=KIND_LABELS, message=message)


@router.post("/platform/resend", openapi_extra=form_body("key", "csrf_token"))
async def platform_resend(request: Request) -> Response:
    """A failed record by its key, or every failed one (no key)."""
    _user, fields, refusal = await editor_or_refusal(request)
    if refusal is not None:
        return refusal
    key = fields.get("key", "").strip()[:128]
    count = await in_transaction(request, lambda session: resend(
        session.connection(), utcnow(), keys=[key] if key else None, dead=not key))
    return RedirectResponse(f"/dashboard/platform?resent={count}", status_code=303)

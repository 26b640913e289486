"""The citizen's phone pages: `GET /t/{ref}`, a ticket's place in the hall's queue.

No cookie is read or set, nothing of the dashboard or the admin API is reachable from here, and
each answer says not to be cached, indexed or passed on as a referrer (the reference is in the
URL). Unknown and malformed references get one and the same 404 page."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from centre.dashboard.session import form_fields
from centre.public.limits import PublicLimits
from centre.public.lookup import TicketPage, ticket_page
from centre.public.rating import (
    AT_COUNTER, EXPIRED, OFFER, REASONS, form_secret, form_token, store_rating, store_reason, token_valid,
)
from centre.web.endpoints import in_transaction, utcnow
from protocol.events import LEVEL_LABELS

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/phone-static"
REFRESH_S = 10      # how often the page reloads itself while the ticket waits or is called

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
_templates.globals.update(static=STATIC_PATH, refresh_s=REFRESH_S, level_labels=LEVEL_LABELS)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}

router = APIRouter(include_in_schema=False)


def _page(template: str, status_code: int = 200, headers: dict[str, str] | None = None, **values) -> HTMLResponse:
    body = _templates.get_template(template).render(**values)
    return HTMLResponse(body, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})})


def limits(request: Request) -> PublicLimits:
    return request.app.state.public_limits


def _admitted(request: Request) -> tuple[str, HTMLResponse | None]:
    guard = limits(request)
    client = guard.client(request.client.host if request.client else None)
    retry_after = guard.admit(client)
    if retry_after is not None:
        return client, _page("busy.html", 429, {"Retry-After": str(retry_after)}, retry_after=retry_after)
    return client, None


def _position(page: TicketPage, ref: str, secret: bytes | None, status_code: int = 200,
              notice: str | None = None) -> HTMLResponse:
    token = form_token(secret, ref) if secret is not None else None
    return _page("position.html", status_code, page=page, position=page.position, token=token, notice=notice,
                 position_ref=ref)


def _wants_form(page: TicketPage | None) -> bool:
    return page is not None and page.rating is not None and page.rating.state in (OFFER, REASONS)


@router.get("/t/{ref}", response_class=HTMLResponse)
async def position_page(ref: str, request: Request) -> HTMLResponse:
    client, refused = _admitted(request)
    if refused is not None:
        return refused
    now = utcnow()

    def read(session):
        page = ticket_page(session, ref, now)
        return page, form_secret(session) if _wants_form(page) else None

    page, secret = await in_transaction(request, read)
    if page is None:
        limits(request).missed(client)
        return _page("not_found.html", 404)
    return _position(page, ref, secret)


REFUSED_RATING = {AT_COUNTER: "本次业务已在窗口评价，感谢您的参与。", EXPIRED: "评价期限已过。"}


@router.post("/t/{ref}/rating", response_class=HTMLResponse, response_model=None)
async def rate(ref: str, request: Request) -> Response:
    """The page's rating form: a level, or after a 差评 its reason. Answered with the page again
    (303) once stored; a stale token, a second rating or one past its days with the page and why."""
    client, refused = _admitted(request)
    if refused is not None:
        return refused
    fields = await form_fields(request)
    now = utcnow()

    def work(session):
        page = ticket_page(session, ref, now)
        if page is None:
            return None, None, None
        secret = form_secret(session)
        if not token_valid(secret, ref, fields.get("token")):
            return page, secret, (403, "页面已过期，请重新评价。")
        state = page.rating.state if page.rating else None
        if state == OFFER and fields.get("level", "").isdecimal() and store_rating(
                session, ref, page.transaction, int(fields["level"]), now):
            return page, secret, None
        if state == REASONS and store_reason(session, ref, fields.get("reason", "")):
            return page, secret, None
        if state in (OFFER, REASONS):
            return page, secret, (422, "请选择一项。")
        return page, secret, (409, REFUSED_RATING.get(state, "本次业务已评价，感谢您的参与。"))

    page, secret, problem = await in_transaction(request, work)
    if page is None:
        limits(request).missed(client)
        return _page("not_found.html", 404)
    if problem is None:
        return RedirectResponse(f"/t/{ref}", status_code=303, headers=SECURITY_HEADERS)
    fresh = await in_transaction(request, lambda session: ticket_page(session, ref, now))
    return _position(fresh or page, ref, secret if _wants_form(fresh) else None, problem[0], problem[1])


def install_public_pages(app: FastAPI, public_limits: PublicLimits | None = None) -> None:
    """The phone pages, their own limits and their own static folder (nothing shared with the dashboard)."""
    app.state.public_limits = public_limits or PublicLimits()
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="phone-static")

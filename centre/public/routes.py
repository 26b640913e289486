"""The citizen's phone pages: `GET /t/{ref}`, a ticket's place in the hall's queue.

No cookie is read or set, nothing of the dashboard or the admin API is reachable from here, and
each answer says not to be cached, indexed or passed on as a referrer (the reference is in the
URL). Unknown and malformed references get one and the same 404 page."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from centre.public.limits import PublicLimits
from centre.public.lookup import ticket_page
from centre.web.endpoints import in_transaction, utcnow

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/phone-static"
REFRESH_S = 10      # how often the page reloads itself while the ticket waits or is called

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
_templates.globals.update(static=STATIC_PATH, refresh_s=REFRESH_S)

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


@router.get("/t/{ref}", response_class=HTMLResponse)
async def position_page(ref: str, request: Request) -> HTMLResponse:
    guard = limits(request)
    client = guard.client(request.client.host if request.client else None)
    retry_after = guard.admit(client)
    if retry_after is not None:
        return _page("busy.html", 429, {"Retry-After": str(retry_after)}, retry_after=retry_after)
    now = utcnow()
    page = await in_transaction(request, lambda session: ticket_page(session, ref, now))
    if page is None:
        guard.missed(client)
        return _page("not_found.html", 404)
    return _page("position.html", page=page, position=page.position)


def install_public_pages(app: FastAPI, public_limits: PublicLimits | None = None) -> None:
    """The phone pages, their own limits and their own static folder (nothing shared with the dashboard)."""
    app.state.public_limits = public_limits or PublicLimits()
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="phone-static")

"""Who is using the dashboard: the session cookie, the logged-in user, forms and the CSRF check.

CSRF: a synchronizer token lives in the session row; every form carries it in `csrf_token` and
every POST is refused (403) unless it matches. The login form, which comes before a session,
uses a double-submit cookie instead. The session cookie is HttpOnly and SameSite=Lax as well.
"""
from __future__ import annotations

import secrets
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from centre.dashboard.accounts import SESSION_LIFETIME, LoggedIn, csrf_matches, session_user
from centre.dashboard.templating import forbidden
from centre.web.endpoints import in_transaction, utcnow
from centre.web.tokens import same_secret

SESSION_COOKIE = "centre_session"
LOGIN_CSRF_COOKIE = "centre_login_csrf"


def cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def current_user(request: Request) -> LoggedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    now = utcnow()
    return await in_transaction(request, lambda session: session_user(session, token, now))


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dashboard/login?next={quote(target)}", status_code=303)


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as {name: first value} (no file uploads here)."""
    parsed = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


async def editor_or_refusal(request: Request) -> tuple[LoggedIn | None, dict[str, str], Response | None]:
    """For a POST that changes something: the user, the form, and a response if it is refused
    (not logged in → login page; viewer or bad CSRF token → 403 page)."""
    user = await current_user(request)
    if user is None:
        return None, {}, to_login(request)
    fields = await form_fields(request)
    if not csrf_matches(user, fields.get("csrf_token")):
        return user, fields, forbidden(request, user, "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")
    if not user.may_edit:
        return user, fields, forbidden(request, user, "您的账号为只读账号，不能修改任何数据。")
    return user, fields, None


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def login_csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie and submitted) and same_secret(cookie, submitted)


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()),
                        httponly=True, samesite="lax", secure=cookie_secure(request), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/dashboard/login")

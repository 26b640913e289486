"""What the dashboard's pages share: templates, the session cookie, the logged-in user, forms
and the CSRF check.

CSRF: a synchronizer token lives in the session row; every form carries it in `csrf_token` and
every POST is refused (403) unless it matches. The login form, which comes before a session,
uses a double-submit cookie instead. The session cookie is HttpOnly and SameSite=Lax as well.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from centre.accounts import SESSION_LIFETIME, LoggedIn, csrf_matches, session_user
from centre.months import Month, centre_time_zone
from centre.tokens import same_secret
from centre.web import in_transaction, utcnow

SESSION_COOKIE = "centre_session"
LOGIN_CSRF_COOKIE = "centre_login_csrf"
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
STATUS_NAMES = {"open": "待整改", "rectified": "已整改", "overdue": "已超期", "closed": "已办结"}
ROLE_NAMES = {"admin": "管理员", "manager": "主管", "viewer": "只读"}

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(level_names=LEVEL_NAMES, status_names=STATUS_NAMES, role_names=ROLE_NAMES)


def percent(rate: float | None, digits: int = 1) -> str:
    return "—" if rate is None else f"{rate * 100:.{digits}f}%"


def signed_points(change: float | None) -> str:
    return "—" if change is None else f"{change:+.2f}"


def local_time(iso_text: str | None) -> str:
    """An ISO instant as the centre's local time, to the minute."""
    if not iso_text:
        return "—"
    return datetime.fromisoformat(iso_text).astimezone(centre_time_zone()).strftime("%Y-%m-%d %H:%M")


templates.env.filters.update(percent=percent, signed=signed_points, local_time=local_time)


def month_choices(shown: Month, count: int = 24) -> list[Month]:
    """The months the picker offers: the last `count` up to this one, newest first, and the shown one."""
    months, month = [], this_month()
    for _ in range(count):
        months.append(month)
        month = month.previous()
    return months if shown in months else sorted([*months, shown], reverse=True)


templates.env.globals.update(month_choices=month_choices)


def cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, template: str, user: LoggedIn | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"user": user, **context}, status_code=status_code)


def this_month() -> Month:
    return Month.containing(utcnow(), centre_time_zone())


def chosen_month(text: str | None) -> Month:
    """The month in ?month=YYYY-MM, or this month if none (or an unreadable one) is given."""
    try:
        return Month.parse(text) if text else this_month()
    except ValueError:
        return this_month()


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


def forbidden(request: Request, user: LoggedIn | None, message: str) -> HTMLResponse:
    return render(request, "forbidden.html", user, status_code=403, message=message)


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

"""The dashboard's pages: login, overview, monthly report (with downloads) and fleet health.
The ledger's pages are in centre.dashboard.ledger_pages."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.dashboard.accounts import check_password, csrf_matches, end_session, login_blocked, start_session
from centre.dashboard.figures import SET_ASIDE_LABELS, fleet_warnings, overview
from centre.dashboard.session import (
    LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie_secure, current_user, form_fields, login_csrf_ok,
    new_login_csrf, set_session_cookie, to_login,
)
from centre.dashboard.templating import chosen_month, render
from centre.dates.months import centre_time_zone
from centre.reports.download import month_of, render_monthly_report
from centre.reports.formats import MEDIA_TYPES
from centre.reports.source import report_and_callbacks
from centre.units.fleet import fleet_health
from centre.web.endpoints import in_transaction, utcnow
from centre.web.fields import MonthText
from centre.web.openapi import DASHBOARD_RESPONSES, form_body

# Every page returns its own response; the class and responses only tell the OpenAPI document so.
router = APIRouter(prefix="/dashboard", default_response_class=HTMLResponse, responses=DASHBOARD_RESPONSES)
root_router = APIRouter()


@root_router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=303)


def _safe_next(target: str | None) -> str:
    # Only paths on this site: "//evil.example" or "https://…" would send a user elsewhere.
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard/"


def _login_page(request: Request, next_path: str, error: str | None = None, status_code: int = 200,
                name: str = "") -> Response:
    token = new_login_csrf()
    response = render(request, "login.html", None, status_code=status_code, csrf_token=token,
                      next_path=next_path, error=error, name=name)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=cookie_secure(request), path="/dashboard/login")
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = Query(None, max_length=500)) -> Response:
    return _login_page(request, _safe_next(next))


@router.post("/login", openapi_extra=form_body("name", "password", "next", "csrf_token"))
async def login(request: Request) -> Response:
    fields = await form_fields(request)
    name, password = fields.get("name", "").strip(), fields.get("password", "")
    next_path = _safe_next(fields.get("next"))
    if not login_csrf_ok(request, fields.get("csrf_token")):
        return _login_page(request, next_path, "登录页面已过期，请重新输入。", 403, name)
    client = request.client.host if request.client else "unknown"
    now = utcnow()

    def work(session):
        if login_blocked(session, name, client, now):
            return "blocked"
        user = check_password(session, name, password, client, now)
        return None if user is None else start_session(session, user, now)

    outcome = await in_transaction(request, work)
    if outcome == "blocked":
        return _login_page(request, next_path, "登录失败次数过多，请 15 分钟后再试。", 429, name)
    if outcome is None:
        return _login_page(request, next_path, "用户名或密码错误。", 401, name)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, outcome)
    return response


@router.post("/logout", openapi_extra=form_body("csrf_token"))
async def logout(request: Request) -> Response:
    user = await current_user(request)
    fields = await form_fields(request)
    if user is not None and csrf_matches(user, fields.get("csrf_token")):
        token = request.cookies.get(SESSION_COOKIE)
        await in_transaction(request, lambda session: end_session(session, token))
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def overview_page(request: Request, month: str | None = Query(None, max_length=7)) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    chosen, now, zone = chosen_month(month), utcnow(), centre_time_zone()
    figures = await in_transaction(request, lambda session: overview(session, chosen, now, zone))
    return render(request, "overview.html", user, page="overview", month=chosen, figures=figures)


@router.get("/report")
async def report_page(request: Request, month: str | None = Query(None, max_length=7)) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    chosen = chosen_month(month)

    report, callbacks = await in_transaction(request, lambda session: report_and_callbacks(
        session, chosen))
    return render(request, "report.html", user, page="report", month=chosen, report=report,
                  callbacks=callbacks)


@router.get("/report/{month}/download", response_class=Response,
            responses={200: {"content": {MEDIA_TYPES[fmt]: {} for fmt in ("xlsx", "csv")}}})
async def report_download(request: Request, month: MonthText,
                          format: Literal["xlsx", "csv"] = Query("xlsx"),
                          by: Literal["counter", "staff"] = Query("counter")) -> Response:
    if await current_user(request) is None:
        return to_login(request)
    return await render_monthly_report(request, month_of(month), by, format)


@router.get("/fleet")
async def fleet_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    now = utcnow()
    units = await in_transaction(request, fleet_health)
    for unit in units:
        unit["warnings"] = fleet_warnings(unit, now)
    units.sort(key=lambda unit: not unit["warnings"])  # stable: troubled units first, then by id
    troubled = sum(1 for unit in units if unit["warnings"])
    return render(request, "fleet.html", user, page="fleet", units=units, troubled=troubled,
                  set_aside_labels=SET_ASIDE_LABELS)

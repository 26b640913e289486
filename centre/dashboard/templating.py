"""The dashboard's templates (Jinja2, `templates/`), the names and filters they use, and the folder
of CSS and Chart.js the pages load (`static/`, mounted by centre.app at /static)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from centre.dashboard.accounts import LoggedIn
from centre.dates.months import Month, centre_time_zone
from centre.web.endpoints import utcnow
from protocol.events import LEVEL_LABELS

STATIC_DIR = Path(__file__).parent / "static"
STATUS_NAMES = {"open": "待整改", "rectified": "已整改", "overdue": "已超期", "closed": "已办结"}
ROLE_NAMES = {"admin": "管理员", "manager": "主管", "viewer": "只读"}

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(level_names=LEVEL_LABELS, status_names=STATUS_NAMES, role_names=ROLE_NAMES)


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


def this_month() -> Month:
    return Month.containing(utcnow(), centre_time_zone())


def chosen_month(text: str | None) -> Month:
    """The month in ?month=YYYY-MM, or this month if none (or an unreadable one) is given."""
    try:
        return Month.parse(text) if text else this_month()
    except ValueError:
        return this_month()


def month_choices(shown: Month, count: int = 24) -> list[Month]:
    """The months the picker offers: the last `count` up to this one, newest first, and the shown one."""
    months, month = [], this_month()
    for _ in range(count):
        months.append(month)
        month = month.previous()
    return months if shown in months else sorted([*months, shown], reverse=True)


templates.env.globals.update(month_choices=month_choices)


def render(request: Request, template: str, user: LoggedIn | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"user": user, **context}, status_code=status_code)


def forbidden(request: Request, user: LoggedIn | None, message: str) -> HTMLResponse:
    return render(request, "forbidden.html", user, status_code=403, message=message)

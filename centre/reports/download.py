"""The monthly report as an HTTP download, for the admin API (`GET /api/v1/reports/{month}`) and the
dashboard's download links alike: the month from the path, the file name, the response."""
from __future__ import annotations

from fastapi import Request, Response

from centre.dates.months import Month, MonthError
from centre.reports.formats import MEDIA_TYPES, render_report
from centre.reports.source import report_and_callbacks
from centre.web.endpoints import in_transaction
from centre.web.errors import ApiError

def month_of(text: str) -> Month:
    """The month, or 422 invalid naming the field `month`."""
    try:
        return Month.parse(text)
    except MonthError as exc:
        raise ApiError(422, "invalid", str(exc), field="month") from exc


def report_filename(month: Month, by: str, fmt: str) -> str:
    return f"report-{month}{'-staff' if by == 'staff' else ''}.{fmt}"


async def render_monthly_report(request: Request, month: Month, by: str, fmt: str) -> Response:
    """The month's report in `fmt` (csv, json or xlsx) as an attachment."""
    report, callbacks = await in_transaction(request, lambda session: report_and_callbacks(
        session, month, by))
    body = render_report(report, fmt, callbacks)
    headers = {"Content-Disposition": f'attachment; filename="{report_filename(month, by, fmt)}"'}
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)

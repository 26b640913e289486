"""Pulling a month's report rows out of the database and handing them to centre.scoring."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.ledger_appeals import upheld_transaction_ids
from centre.models import Event
from centre.months import Month, centre_time_zone
from centre.scoring import REPORT_EVENT_TYPES, ActivityRow, MonthlyReport, build_report
from centre.supervision import supervision_scores


def month_activity(session: Session, month: Month, zone_name: str | None = None) -> list[ActivityRow]:
    """Every completed, rated, missed and misuse event whose wall time falls in the month."""
    start, end = month.utc_bounds(centre_time_zone(zone_name))
    result = session.execute(
        select(Event.type, Event.counter_id, Event.staff_id, Event.transaction_id, Event.level,
               Event.wall_time_utc)
        .where(Event.type.in_(REPORT_EVENT_TYPES), Event.wall_time_utc >= start, Event.wall_time_utc < end)
    )
    return [ActivityRow(*row) for row in result]


def excluded_transactions(session: Session) -> frozenset[str]:
    """Transactions whose rating was taken out of scoring by an upheld appeal."""
    return upheld_transaction_ids(session)


def monthly_report(session: Session, month: Month, by: str = "counter",
                   zone_name: str | None = None) -> MonthlyReport:
    """The month's report, with last month built the same way for 约谈 and month-on-month change."""
    zone = centre_time_zone(zone_name)
    excluded = excluded_transactions(session)

    def build(which: Month, previous: MonthlyReport | None) -> MonthlyReport:
        return build_report(str(which), month_activity(session, which, zone.key), by=by,
                            supervision=supervision_scores(session, which),
                            excluded_transactions=excluded, previous=previous, time_zone=zone.key)

    return build(month, build(month.previous(), None))

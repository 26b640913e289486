"""Pulling a month's report rows out of the database and handing them to centre.reports.scoring."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from centre.dates.months import Month, centre_time_zone
from centre.ledger.appeals import upheld_transaction_ids
from centre.reports.callbacks import callback_list
from centre.reports.indicators import attach_indicators
from centre.reports.scoring import QR_CHANNEL, REPORT_EVENT_TYPES, ActivityRow, MonthlyReport, build_report
from centre.reports.supervision import supervision_scores
from centre.storage.models import CountedEvent, Event, QrRating
from protocol.events import EventType

def month_activity(session: Session, month: Month, zone_name: str | None = None) -> list[ActivityRow]:
    """Every completed, rated, missed, misuse and voided event the centre counts whose wall time
    falls in the month, and the ratings given on tickets' pages in it."""
    start, end = month.utc_bounds(centre_time_zone(zone_name))
    result = session.execute(
        select(CountedEvent.type, CountedEvent.counter_id, CountedEvent.staff_id, CountedEvent.transaction_id,
               CountedEvent.level, CountedEvent.wall_time_utc, CountedEvent.presses)
        .where(CountedEvent.type.in_(REPORT_EVENT_TYPES), CountedEvent.wall_time_utc >= start, CountedEvent.wall_time_utc < end)
    )
    return [ActivityRow(*row) for row in result] + qr_ratings(session, start, end)


def qr_ratings(session: Session, start: datetime, end: datetime) -> list[ActivityRow]:
    """Ratings given on the ticket's page in [start, end), but none of a transaction that has a
    keypad rating, whenever that was uploaded: the keypad's wins."""
    at_keypad = exists().where(Event.type == EventType.RATING_SUBMITTED,
                               Event.transaction_id == QrRating.transaction_id)
    result = session.execute(
        select(QrRating.counter_id, QrRating.staff_id, QrRating.transaction_id, QrRating.level, QrRating.rated_at)
        .where(QrRating.rated_at >= start, QrRating.rated_at < end, ~at_keypad))
    return [ActivityRow(EventType.RATING_SUBMITTED, counter, staff, transaction, level, at, channel=QR_CHANNEL)
            for counter, staff, transaction, level, at in result]


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

    report = build(month, build(month.previous(), None))
    attach_indicators(session, report, month, zone, excluded)
    return report


def report_and_callbacks(session: Session, month: Month, by: str = "counter", zone_name: str | None = None
                         ) -> tuple[MonthlyReport, dict[str, Any] | None]:
    """The month's report and its callback list (None until drawn): what every format carries."""
    return monthly_report(session, month, by, zone_name), callback_list(session, month)

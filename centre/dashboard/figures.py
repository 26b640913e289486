"""The numbers the dashboard's overview and fleet pages show, worked out from stored events.

Satisfaction follows the monthly report: ratings whose 差评 appeal was upheld are left out, 非常满意率
and 差评率 are shares of the counted ratings. Waiting time pairs each `ticket.issued` with the first
`ticket.called` of the same ticket on the same stream and local day (PROTOCOL: a ticket is
identified by stream, business day and number).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.dates.months import Month
from centre.ledger.appeals import upheld_transaction_ids
from centre.ledger.entries import ledger_listing
from centre.storage.models import CountedEvent
from protocol.events import BAD_LEVELS, EventType

STALE_AFTER = timedelta(minutes=10)
CLOCK_OFFSET_LIMIT_MS = 60_000
PAPER_WARNINGS = {"out": "缺纸", "near_end": "纸将用尽"}
# Why fleet health set an event aside (centre.storage.models.SetAside), as the fleet page says it.
SET_ASIDE_LABELS = {
    "other_counter": "窗口与登记不符",
    "future": "时间晚于接收一天以上",
    "before_enrolment": "时间早于注册一天以上",
    "unknown_type": "未知事件类型",
}


@dataclass
class RatingTally:
    ratings: int = 0
    very_satisfied: int = 0
    bad: int = 0
    waits_s: list[float] = field(default_factory=list)

    @property
    def very_satisfied_rate(self) -> float | None:
        return None if self.ratings == 0 else self.very_satisfied / self.ratings

    @property
    def bad_rate(self) -> float | None:
        return None if self.ratings == 0 else self.bad / self.ratings

    @property
    def average_wait_min(self) -> float | None:
        return None if not self.waits_s else sum(self.waits_s) / len(self.waits_s) / 60


def _ratings_by_day(session: Session, start: datetime, end: datetime, zone: ZoneInfo) -> dict[date, RatingTally]:
    excluded = upheld_transaction_ids(session)
    days: dict[date, RatingTally] = {}
    seen: set[str] = set()
    rows = session.execute(
        select(CountedEvent.transaction_id, CountedEvent.level, CountedEvent.wall_time_utc)
        .where(CountedEvent.type == EventType.RATING_SUBMITTED, CountedEvent.wall_time_utc >= start, CountedEvent.wall_time_utc < end)
        .order_by(CountedEvent.wall_time_utc, CountedEvent.id))
    for transaction_id, level, at in rows:
        if transaction_id is not None:
            if transaction_id in seen or transaction_id in excluded:  # the first rating counts
                continue
            seen.add(transaction_id)
        tally = days.setdefault(at.astimezone(zone).date(), RatingTally())
        tally.ratings += 1
        tally.very_satisfied += level == 5
        tally.bad += level in BAD_LEVELS
    return days


def _waits_by_day(session: Session, start: datetime, end: datetime, zone: ZoneInfo) -> dict[date, list[float]]:
    issued: dict[tuple, datetime] = {}
    waits: dict[date, list[float]] = {}
    rows = session.execute(
        select(CountedEvent.type, CountedEvent.stream_id, CountedEvent.ticket, CountedEvent.wall_time_utc)
        .where(CountedEvent.type.in_((EventType.TICKET_ISSUED, EventType.TICKET_CALLED)), CountedEvent.ticket.is_not(None),
               CountedEvent.wall_time_utc >= start, CountedEvent.wall_time_utc < end)
        .order_by(CountedEvent.wall_time_utc, CountedEvent.id))
    for type_, stream_id, ticket, at in rows:
        day = at.astimezone(zone).date()
        key = (stream_id, day, ticket)
        if type_ == EventType.TICKET_ISSUED:
            issued.setdefault(key, at)
        elif key in issued:
            waits.setdefault(day, []).append((at - issued.pop(key)).total_seconds())
    return waits


def overview(session: Session, month: Month, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Today and the month at a glance, the ledger's open and overdue counts, and the daily trend."""
    start, end = month.utc_bounds(zone)
    days = _ratings_by_day(session, start, end, zone)
    for day, waits in _waits_by_day(session, start, end, zone).items():
        days.setdefault(day, RatingTally()).waits_s.extend(waits)
    month_total = RatingTally()
    for tally in days.values():
        month_total.ratings += tally.ratings
        month_total.very_satisfied += tally.very_satisfied
        month_total.bad += tally.bad
        month_total.waits_s.extend(tally.waits_s)
    today = now.astimezone(zone).date()
    ledger = ledger_listing(session, now, zone_name=zone.key)
    trend_days = [start.astimezone(zone).date() + timedelta(days=n)
                  for n in range((end - start).days + 1)]
    trend_days = [day for day in trend_days if Month(day.year, day.month) == month]
    return {
        "today": days.get(today, RatingTally()) if Month(today.year, today.month) == month else None,
        "month": month_total,
        "ledger_open": sum(1 for entry in ledger if entry["status"] == "open"),
        "ledger_overdue": sum(1 for entry in ledger if entry["status"] == "overdue"),
        "trend": {
            "labels": [f"{day.month}月{day.day}日" for day in trend_days],
            "ratings": [days.get(day, RatingTally()).ratings for day in trend_days],
            "very_satisfied_rate": [_percent(days.get(day, RatingTally()).very_satisfied_rate)
                                    for day in trend_days],
            "bad_rate": [_percent(days.get(day, RatingTally()).bad_rate) for day in trend_days],
        },
    }


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


@dataclass(frozen=True)
class FleetWarning:
    text: str
    severe: bool  # ratings are being lost or not arriving, not just something to see to


def fleet_warnings(unit: dict[str, Any], now: datetime) -> list[FleetWarning]:
    """What is wrong with a unit (fleet health as centre.units.fleet reports it), in Chinese."""
    if unit["revoked"]:
        return []
    warnings = []
    last_seen = None if unit["last_seen"] is None else datetime.fromisoformat(unit["last_seen"])
    if last_seen is None:
        warnings.append(FleetWarning("从未上线" if unit["enrolled"] else "未注册", False))
    elif now - last_seen > STALE_AFTER:
        warnings.append(FleetWarning(f"失联 {_duration(now - last_seen)}", True))
    if unit["stream_stopped"]:
        warnings.append(FleetWarning("数据流已停止", True))
    if unit["set_aside"]["count"]:
        # Kept, not counted: someone should find out why the unit claims what it claims.
        warnings.append(FleetWarning(f"{unit['set_aside']['count']} 条事件未计入", False))
    if unit["paper"] in PAPER_WARNINGS:
        warnings.append(FleetWarning(PAPER_WARNINGS[unit["paper"]], unit["paper"] == "out"))
    offset = unit["clock_offset_ms"]
    if offset is not None and abs(offset) > CLOCK_OFFSET_LIMIT_MS:
        warnings.append(FleetWarning(f"时钟偏差 {offset / 1000:+.0f} 秒", False))
    return warnings


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时"
    return f"{minutes // 1440} 天"

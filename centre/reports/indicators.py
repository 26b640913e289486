"""The national standards' indicators (GB/T 39734-2020, GB/T 39735-2020) beside the monthly
report: per window (or staff member) and for the hall, as columns after DESIGN.md's pinned ones.

- good_rate (好评率): 非常满意 + 满意 ÷ counted ratings.
- unrated_rate (未评率): missed ÷ completed.
- rectification_rate (差评整改率): of the month's 差评 ledger entries that still count (not
  withdrawn with a voided rating, not taken out by an upheld appeal), those rectified.
- callback_rate (回访率): of the same entries, those with a callback recorded.
- callback_satisfaction_rate (回访满意率): callbacks the citizen was satisfied with ÷ callbacks.
  Empty: the ledger's callback is a note and records no satisfaction yet.
- wait_avg_s / wait_within_target: `ticket.issued` → the first `ticket.called` of the same ticket
  (same stream and day, as the overview's average wait), by the window and staff member that
  called; the share answered within the target ($CENTRE_WAIT_TARGET_S, default 30 s).
- handling_avg_s / handling_within_target: that window's latest `ticket.called` of the ticket →
  its `transaction.completed` (same ticket, window and day); the share within
  $CENTRE_HANDLING_TARGET_S (default 600 s).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.dates.months import Month
from centre.reports.scoring import MonthlyReport, ReportRow
from centre.storage.models import CountedEvent, LedgerEntry
from protocol.events import EventType

WAIT_TARGET_ENV = "CENTRE_WAIT_TARGET_S"
HANDLING_TARGET_ENV = "CENTRE_HANDLING_TARGET_S"
DEFAULT_WAIT_TARGET_S = 30.0
DEFAULT_HANDLING_TARGET_S = 600.0
BAD_LEVELS = (1, 2)
INDICATOR_COLUMNS = (
    "good_rate", "unrated_rate", "rectification_rate", "callback_rate", "callback_satisfaction_rate",
    "wait_avg_s", "wait_within_target", "handling_avg_s", "handling_within_target",
)
RATE_COLUMNS = frozenset(INDICATOR_COLUMNS) - {"wait_avg_s", "handling_avg_s"}


def target_s(env: str, default: float) -> float:
    text = os.environ.get(env, "")
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass
class Durations:
    seconds: list[float] = field(default_factory=list)

    def average(self) -> float | None:
        return None if not self.seconds else round(sum(self.seconds) / len(self.seconds), 1)

    def within(self, target: float) -> float | None:
        return None if not self.seconds else round(sum(s <= target for s in self.seconds) / len(self.seconds), 4)


@dataclass
class LedgerCounts:
    entries: int = 0
    rectified: int = 0
    called_back: int = 0


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _ticket_times(session: Session, start: datetime, end: datetime, zone: ZoneInfo
                  ) -> tuple[list[tuple[str | None, str | None, float]], list[tuple[str | None, str | None, float]]]:
    """(waits, handlings): each (counter, staff, seconds), from the month's ticket events in time order."""
    rows = session.execute(
        select(CountedEvent.type, CountedEvent.stream_id, CountedEvent.ticket, CountedEvent.counter_id,
               CountedEvent.staff_id, CountedEvent.wall_time_utc)
        .where(CountedEvent.type.in_((EventType.TICKET_ISSUED, EventType.TICKET_CALLED,
                                      EventType.TRANSACTION_COMPLETED)),
               CountedEvent.ticket.is_not(None), CountedEvent.wall_time_utc >= start, CountedEvent.wall_time_utc < end)
        .order_by(CountedEvent.wall_time_utc, CountedEvent.id))
    issued: dict[tuple[str, date, str], datetime] = {}
    called: dict[tuple[str | None, date, str], datetime] = {}
    waits, handlings = [], []
    for type_, stream_id, ticket, counter_id, staff_id, at in rows:
        day = at.astimezone(zone).date()
        if type_ == EventType.TICKET_ISSUED:
            issued.setdefault((stream_id, day, ticket), at)
        elif type_ == EventType.TICKET_CALLED:
            began = issued.pop((stream_id, day, ticket), None)
            if began is not None:
                waits.append((counter_id, staff_id, (at - began).total_seconds()))
            called[(counter_id, day, ticket)] = at
        else:
            began = called.pop((counter_id, day, ticket), None)
            if began is not None:
                handlings.append((counter_id, staff_id, (at - began).total_seconds()))
    return waits, handlings


def _ledger_counts(session: Session, start: datetime, end: datetime, excluded: frozenset[str]
                   ) -> list[tuple[str | None, str | None, bool, bool]]:
    """(counter, staff, rectified, called back) for each 差评 entry of the month whose rating counts."""
    counted = (select(CountedEvent.transaction_id)
               .where(CountedEvent.type == EventType.RATING_SUBMITTED, CountedEvent.level.in_(BAD_LEVELS)))
    rows = session.execute(
        select(LedgerEntry.transaction_id, LedgerEntry.counter_id, LedgerEntry.staff_id,
               LedgerEntry.rectified_at, LedgerEntry.callback_at)
        .where(LedgerEntry.rated_at >= start, LedgerEntry.rated_at < end,
               LedgerEntry.transaction_id.in_(counted)))
    return [(counter, staff, rectified is not None, callback is not None)
            for transaction, counter, staff, rectified, callback in rows if transaction not in excluded]


def _values(counted: int, good: int, missed: int, completed: int, ledger: LedgerCounts,
            waits: Durations, handlings: Durations, wait_target: float, handling_target: float) -> dict[str, Any]:
    return {
        "good_rate": _rate(good, counted),
        "unrated_rate": _rate(missed, completed),
        "rectification_rate": _rate(ledger.rectified, ledger.entries),
        "callback_rate": _rate(ledger.called_back, ledger.entries),
        "callback_satisfaction_rate": None,
        "wait_avg_s": waits.average(),
        "wait_within_target": waits.within(wait_target),
        "handling_avg_s": handlings.average(),
        "handling_within_target": handlings.within(handling_target),
    }


def _group(items: Iterable[tuple[str | None, str | None, float]], by: str) -> tuple[dict[str, Durations], Durations]:
    grouped: dict[str, Durations] = {}
    hall = Durations()
    for counter_id, staff_id, seconds in items:
        hall.seconds.append(seconds)
        key = counter_id if by == "counter" else staff_id
        if key:
            grouped.setdefault(key, Durations()).seconds.append(seconds)
    return grouped, hall


def attach_indicators(session: Session, report: MonthlyReport, month: Month, zone: ZoneInfo,
                      excluded: frozenset[str]) -> None:
    """Give each row of the month's report its indicators (columns after the pinned ones) and the
    report the hall's (`report.hall_indicators`)."""
    start, end = month.utc_bounds(zone)
    wait_target = target_s(WAIT_TARGET_ENV, DEFAULT_WAIT_TARGET_S)
    handling_target = target_s(HANDLING_TARGET_ENV, DEFAULT_HANDLING_TARGET_S)
    waits, handlings = _ticket_times(session, start, end, zone)
    waits_by, hall_waits = _group(waits, report.by)
    handlings_by, hall_handlings = _group(handlings, report.by)
    ledger_by: dict[str, LedgerCounts] = {}
    hall_ledger = LedgerCounts()
    for counter_id, staff_id, rectified, called_back in _ledger_counts(session, start, end, excluded):
        key = counter_id if report.by == "counter" else staff_id
        for counts in (hall_ledger, ledger_by.setdefault(key or "", LedgerCounts())):
            counts.entries += 1
            counts.rectified += rectified
            counts.called_back += called_back

    def of(row: ReportRow) -> dict[str, Any]:
        tally, key = row.tally, row.tally.key
        return _values(tally.counted_ratings, tally.levels[5] + tally.levels[4], tally.missed, tally.completed,
                       ledger_by.get(key, LedgerCounts()), waits_by.get(key, Durations()),
                       handlings_by.get(key, Durations()), wait_target, handling_target)

    for row in report.rows:
        row.indicators = of(row)
    counted = sum(row.tally.counted_ratings for row in report.rows)
    good = sum(row.tally.levels[5] + row.tally.levels[4] for row in report.rows)
    report.indicator_columns = INDICATOR_COLUMNS
    report.hall_indicators = {
        **_values(counted, good, sum(row.tally.missed for row in report.rows),
                  sum(row.tally.completed for row in report.rows), hall_ledger, hall_waits, hall_handlings,
                  wait_target, handling_target),
        "wait_target_s": wait_target, "handling_target_s": handling_target,
    }

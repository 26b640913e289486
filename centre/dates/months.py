"""Report months: "YYYY-MM" in the centre's time zone, and the UTC instants that bound them.

A month is taken from each event's wall time in the centre's time zone (DESIGN.md), so an event at
2026-11-30T23:30+08:00 belongs to November in Asia/Shanghai whatever offset the unit wrote.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TIME_ZONE_ENV = "CENTRE_TIME_ZONE"
DEFAULT_TIME_ZONE = "Asia/Shanghai"
_MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# A report also reads the month before and the month after, and their bounds must be dates that
# Python can shift between time zones: years near 1 or 9999 cannot be.
MIN_YEAR, MAX_YEAR = 1900, 9998


class MonthError(ValueError):
    """A month or time zone the reports cannot use."""


def centre_time_zone(name: str | None = None) -> ZoneInfo:
    """The zone named, else $CENTRE_TIME_ZONE, else Asia/Shanghai."""
    name = name or os.environ.get(TIME_ZONE_ENV) or DEFAULT_TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MonthError(f"unknown time zone {name!r} (e.g. {DEFAULT_TIME_ZONE})") from exc


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        match = _MONTH_PATTERN.match(text or "")
        if match is None:
            raise MonthError(f"a month is written YYYY-MM, e.g. 2026-11; got {text!r}")
        year = int(match.group(1))
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise MonthError(f"a month's year is {MIN_YEAR} to {MAX_YEAR}; got {text!r}")
        return cls(year, int(match.group(2)))

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> "Month":
        local = moment.astimezone(zone)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def previous(self) -> "Month":
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> "Month":
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def utc_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the month in `zone`, as UTC instants."""
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        following = self.next()
        end = datetime(following.year, following.month, 1, tzinfo=zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

"""Working days over the centre's holiday calendar (调休: weekend days worked, holidays off)."""
from __future__ import annotations

from datetime import date

from centre.dates.holidays import add_working_days
from tests.support.centre.calendars import CALENDAR


def test_working_days_skip_weekends_and_holidays_and_count_worked_weekend_days():
    # Fri 09-25 + 5: Sun 09-27 (worked), Mon 28, Tue 29, Wed 30, then the holiday, Thu 10-08.
    assert add_working_days(date(2026, 9, 25), 5, CALENDAR) == date(2026, 10, 8)
    assert add_working_days(date(2026, 9, 25), 5, {}) == date(2026, 10, 2)
    # Wed 09-30 + 15 working days: 10-08, 09, 10 (Sat, worked), 12..16, 19..23, 26, 27 → 10-27.
    assert add_working_days(date(2026, 9, 30), 15, CALENDAR) == date(2026, 10, 27)

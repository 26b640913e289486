"""Holiday calendars for the ledger's and the working-day tests."""
from __future__ import annotations

from centre.dates.holidays import parse_calendar

# Golden Week 2026 as the calendar would list it: 10-01..10-07 off, Sunday 09-27 and Saturday
# 10-10 worked in their place.
GOLDEN_WEEK = parse_calendar({"day": [
    *({"date": f"2026-10-0{d}", "kind": "off", "name": "国庆节"} for d in range(1, 8)),
    {"date": "2026-09-27", "kind": "work", "name": "国庆调休"},
    {"date": "2026-10-10", "kind": "work", "name": "国庆调休"},
]})
CALENDAR = {entry["day"]: entry["kind"] for entry in GOLDEN_WEEK}

"""The holiday calendar and working-day arithmetic for 差评 rectification deadlines.

China moves working days around public holidays (调休): a calendar lists the days off ("off") and
the weekend days worked in their place ("work"). Monday to Friday are working days unless listed
off; Saturday and Sunday are not unless listed as worked.

A calendar file (TOML or JSON) holds a list of days:
    [[day]]
    date = "2026-10-01"
    kind = "off"          # or "work"
    name = "国庆节"
"""
from __future__ import annotations

import json
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.storage.models import Holiday

DAY_KINDS = ("off", "work")


class CalendarError(ValueError):
    """A calendar that cannot be loaded."""


def is_working_day(day: date, calendar: Mapping[date, str]) -> bool:
    listed = calendar.get(day)
    if listed is not None:
        return listed == "work"
    return day.weekday() < 5


def add_working_days(start: date, days: int, calendar: Mapping[date, str]) -> date:
    """The `days`-th working day after `start` (the start day itself does not count)."""
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if is_working_day(current, calendar):
            counted += 1
    return current


def parse_calendar(data: Any) -> list[dict[str, Any]]:
    """[{day, kind, name}] from a decoded calendar file, or CalendarError naming the bad entry."""
    days = data.get("day") if isinstance(data, dict) else data
    if not isinstance(days, list):
        raise CalendarError('a calendar is a list of days: [[day]] date = "YYYY-MM-DD", kind = "off"|"work"')
    parsed = []
    for index, entry in enumerate(days):
        where = f"day[{index}]"
        if not isinstance(entry, dict):
            raise CalendarError(f"{where}: must be a table with date, kind and name")
        raw_date = entry.get("date")
        try:
            day = raw_date if isinstance(raw_date, date) else date.fromisoformat(str(raw_date))
        except ValueError:
            raise CalendarError(f"{where}.date: not a date (YYYY-MM-DD): {raw_date!r}") from None
        kind = entry.get("kind")
        if kind not in DAY_KINDS:
            raise CalendarError(f"{where}.kind: must be one of {', '.join(DAY_KINDS)}")
        name = str(entry.get("name") or "")
        if len(name) > 64:
            raise CalendarError(f"{where}.name: at most 64 characters")
        parsed.append({"day": day, "kind": kind, "name": name})
    return parsed


def read_calendar_file(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise CalendarError(f"{path}: {exc}") from exc
    return parse_calendar(data)


def store_calendar(session: Session, days: list[dict[str, Any]], now: datetime) -> int:
    """Add or replace the listed days (a day listed again takes its new kind); returns how many."""
    for entry in days:
        held = session.get(Holiday, entry["day"])
        if held is None:
            session.add(Holiday(day=entry["day"], kind=entry["kind"], name=entry["name"], loaded_at=now))
        else:
            held.kind, held.name, held.loaded_at = entry["kind"], entry["name"], now
    session.flush()
    return len(days)


def load_calendar(session: Session) -> dict[date, str]:
    return {day: kind for day, kind in session.execute(select(Holiday.day, Holiday.kind))}


def calendar_listing(session: Session) -> list[dict[str, Any]]:
    return [{"date": h.day.isoformat(), "kind": h.kind, "name": h.name}
            for h in session.scalars(select(Holiday).order_by(Holiday.day))]

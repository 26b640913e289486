"""Supervision scores (of 20) that a manager enters per window and month: routine checks 10, spot
checks 5, checks by senior leaders 5 (data/service_items.toml). Entries are only ever added; the
newest for a window and month counts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centre.dates.months import Month
from centre.reports.scoring import SUPERVISION_PART, natural_key
from centre.storage.models import SupervisionScore


class SupervisionError(ValueError):
    """A supervision score that cannot be entered."""


def set_supervision(session: Session, month: Month, counter_id: str, score: float, entered_by: str,
                    now: datetime, note: str | None = None) -> SupervisionScore:
    if not 0 <= score <= SUPERVISION_PART:
        raise SupervisionError(f"a supervision score is from 0 to {SUPERVISION_PART}; got {score}")
    if round(score, 2) != score:
        raise SupervisionError(f"a supervision score has at most two decimals; got {score}")
    if not counter_id.strip() or len(counter_id) > 32:
        raise SupervisionError("a window (counter id) is 1-32 characters")
    if not entered_by.strip() or len(entered_by) > 64:
        raise SupervisionError("say who enters the score (1-64 characters)")
    entry = SupervisionScore(month=str(month), counter_id=counter_id, score=score, note=note,
                             entered_by=entered_by, entered_at=now)
    session.add(entry)
    session.flush()
    return entry


def _latest_ids(month: Month):
    return (select(func.max(SupervisionScore.id))
            .where(SupervisionScore.month == str(month))
            .group_by(SupervisionScore.counter_id))


def supervision_scores(session: Session, month: Month) -> dict[str, float]:
    """Each window's current score for the month."""
    entries = session.scalars(select(SupervisionScore).where(SupervisionScore.id.in_(_latest_ids(month))))
    return {entry.counter_id: float(entry.score) for entry in entries}


def supervision_entries(session: Session, month: Month) -> list[dict[str, Any]]:
    """Every entry for the month, current ones marked, oldest first per window."""
    current = set(session.scalars(_latest_ids(month)))
    entries = session.scalars(select(SupervisionScore).where(SupervisionScore.month == str(month))
                              .order_by(SupervisionScore.id)).all()
    listed = [
        {"counter_id": e.counter_id, "score": float(e.score), "note": e.note, "entered_by": e.entered_by,
         "entered_at": e.entered_at.isoformat(), "current": e.id in current}
        for e in entries
    ]
    return sorted(listed, key=lambda e: natural_key(e["counter_id"]))

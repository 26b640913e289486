"""The monthly window (or staff) report, as pure functions over the month's event rows.

No database here: `centre.reports.source` pulls the rows, this module counts and scores them, and
`centre.reports.formats` writes CSV, JSON or XLSX. The scoring rules and the reasons for them are
in SCORING_RULES (printed in every report) and centre/REPORTS.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Iterable, Mapping

from protocol.events import EventType

REPORT_EVENT_TYPES = (EventType.TRANSACTION_COMPLETED, EventType.RATING_SUBMITTED, EventType.RATING_MISSED,
                      EventType.RATING_MISUSE, EventType.RATING_VOIDED)
# Counted in the misuse column, each for the presses it stands for (centre.storage.models.Event.presses).
MISUSE_EVENT_TYPES = (EventType.RATING_MISUSE, EventType.RATING_VOIDED)

# DESIGN.md "Monthly report (centre)": these columns, in this order. `--by staff` swaps the first
# two (the staff member, then the windows they worked at).
COUNTER_COLUMNS = (
    "counter_id", "staff_ids", "completed", "rated", "missed", "misuse", "appeals_upheld",
    "level_5", "level_4", "level_3", "level_2", "level_1", "points", "rating_score",
    "supervision_score", "total", "rank", "star", "interview",
)
STAFF_COLUMNS = ("staff_id", "counter_ids") + COUNTER_COLUMNS[2:]
# After the pinned columns (and the indicators): `rated` split by where the citizen rated, at the
# counter's keypad or afterwards on the ticket's page (扫码评价, centre.public.rating).
CHANNEL_COLUMNS = ("rated_keypad", "rated_qr")
KEYPAD_CHANNEL, QR_CHANNEL = "keypad", "qr"

POINTS_PER_LEVEL = {5: 1, 4: 0, 3: 0, 2: -2, 1: -4}
RATING_PART = 80
SUPERVISION_PART = 20
STAR_SHARE = Fraction(10, 100)
INTERVIEW_SHARE = Fraction(5, 100)
# Quality may move the rating part by 80 %, workload by the remaining 20 % (see SCORING_RULES).
WORKLOAD_SHARE = Fraction(1, 5)
STAR_LABEL = "服务明星"
INTERVIEW_LABEL = "约谈"

SCORING_RULES = (
    "评分方法 / scoring: points = 非常满意×(+1) + 不满意×(−2) + 非常不满意×(−4) (满意、基本满意 0). "
    "quality = (points ÷ counted ratings + 4) ÷ 5, from 0 (all 非常不满意) to 1 (all 非常满意); "
    "a window without counted ratings gets 0.8, the value of all 满意. "
    "workload = completed ÷ the most completed by any window (staff member) this month. "
    "rating_score = 80 × quality × (0.8 + 0.2 × workload), rounded to 0.01. "
    "Why: a rate, not a sum, so a window is not punished for the citizens it did not serve and "
    "one 差评 weighs the same wherever it falls; workload then adds up to a fifth so the busiest "
    "windows are not overtaken by quiet ones with the same quality. "
    "supervision_score (of 20) is entered by a manager per window and month (0 until entered; "
    "per staff member: the windows' scores weighted by the transactions they completed there). "
    "total = rating_score + supervision_score; rank 1 = highest total, equal totals share a rank. "
    "服务明星 = ranks within the top 10 % of ranked windows (rounded up); 约谈 = in the bottom 5 % "
    "(rounded up, ties included) this month and last month. Ranked: windows with completed or "
    "rated transactions. Excluded from levels and points: misuse and ratings whose 差评 appeal was "
    "upheld (own columns); rated = every rating given, so rated = levels + appeals_upheld. "
    "misuse counts key presses that were not a decision: each press outside a window or after the "
    "rating, each press a burst swallowed, and a rating the unit voided because a burst followed it "
    "(with its reason): such a rating is neither rated nor in the levels. "
    "A transaction's first rating counts; a second rating of it is ignored."
)


@dataclass(frozen=True)
class ActivityRow:
    """One stored event as the report needs it (centre.storage.models.Event's report columns)."""

    type: str
    counter_id: str | None
    staff_id: str | None
    transaction_id: str | None
    level: int | None
    wall_time_utc: datetime
    presses: int | None = None  # for misuse and voided: the presses it stands for (None: one)
    channel: str = KEYPAD_CHANNEL  # for ratings: KEYPAD_CHANNEL or QR_CHANNEL


@dataclass
class Tally:
    """What happened at one window (or for one staff member) in the month."""

    key: str
    members: set[str] = field(default_factory=set)  # staff at a window / windows of a staff member
    completed: int = 0
    rated: int = 0
    missed: int = 0
    misuse: int = 0
    appeals_upheld: int = 0
    levels: dict[int, int] = field(default_factory=lambda: {level: 0 for level in range(5, 0, -1)})
    completed_by_counter: dict[str, int] = field(default_factory=dict)
    rated_qr: int = 0  # of `rated`, those given on the ticket's page

    @property
    def counted_ratings(self) -> int:
        return sum(self.levels.values())

    @property
    def points(self) -> int:
        return sum(POINTS_PER_LEVEL[level] * count for level, count in self.levels.items())

    @property
    def ranked(self) -> bool:
        return self.completed > 0 or self.rated > 0


@dataclass
class ReportRow:
    tally: Tally
    rating_score: Decimal
    supervision_score: Decimal
    total: Decimal
    rank: int | None = None
    star: bool = False
    bottom: bool = False
    interview: bool = False
    # Month-on-month, against the same key last month (None: no row then, or no base to compare).
    previous_total: Decimal | None = None
    previous_very_satisfied_rate: float | None = None
    previous_bad_rate: float | None = None
    # Columns after the pinned ones (centre.reports.indicators), when the report was built from
    # the database; empty for a report of bare rows.
    indicators: dict[str, object] = field(default_factory=dict)

    @property
    def participation(self) -> float | None:
        return None if self.tally.completed == 0 else self.tally.rated / self.tally.completed

    @property
    def very_satisfied_rate(self) -> float | None:
        counted = self.tally.counted_ratings
        return None if counted == 0 else self.tally.levels[5] / counted

    @property
    def bad_rate(self) -> float | None:
        counted = self.tally.counted_ratings
        return None if counted == 0 else (self.tally.levels[2] + self.tally.levels[1]) / counted

    def columns(self, by: str) -> dict[str, object]:
        """The contract columns, in order (numbers as numbers, labels as text)."""
        tally = self.tally
        first = {"counter_id": tally.key, "staff_ids": ";".join(sorted(tally.members, key=natural_key))}
        if by == "staff":
            first = {"staff_id": tally.key, "counter_ids": ";".join(sorted(tally.members, key=natural_key))}
        return {
            **first,
            "completed": tally.completed, "rated": tally.rated, "missed": tally.missed,
            "misuse": tally.misuse, "appeals_upheld": tally.appeals_upheld,
            **{f"level_{level}": tally.levels[level] for level in range(5, 0, -1)},
            "points": tally.points,
            "rating_score": float(self.rating_score),
            "supervision_score": float(self.supervision_score),
            "total": float(self.total),
            "rank": self.rank,
            "star": STAR_LABEL if self.star else "",
            "interview": INTERVIEW_LABEL if self.interview else "",
            **self.indicators,
            "rated_keypad": tally.rated - tally.rated_qr, "rated_qr": tally.rated_qr,
        }

    def rates(self) -> dict[str, float | None]:
        """Participation and satisfaction rates with their change since last month."""
        return {
            "participation": _rounded_rate(self.participation),
            "very_satisfied_rate": _rounded_rate(self.very_satisfied_rate),
            "bad_rate": _rounded_rate(self.bad_rate),
            "very_satisfied_rate_change": _change(self.very_satisfied_rate, self.previous_very_satisfied_rate),
            "bad_rate_change": _change(self.bad_rate, self.previous_bad_rate),
            "total_change": (None if self.previous_total is None
                             else float(self.total - self.previous_total)),
        }


@dataclass
class MonthlyReport:
    month: str
    by: str  # "counter" or "staff"
    time_zone: str
    rows: list[ReportRow]
    indicator_columns: tuple[str, ...] = ()  # after the pinned columns, never between them
    hall_indicators: dict[str, object] | None = None

    @property
    def pinned_columns(self) -> tuple[str, ...]:
        return STAFF_COLUMNS if self.by == "staff" else COUNTER_COLUMNS

    @property
    def column_names(self) -> tuple[str, ...]:
        return self.pinned_columns + self.indicator_columns + CHANNEL_COLUMNS

    @property
    def stars(self) -> list[str]:
        return [row.tally.key for row in self.rows if row.star]

    @property
    def interviews(self) -> list[str]:
        return [row.tally.key for row in self.rows if row.interview]

    def row_for(self, key: str) -> ReportRow | None:
        return next((row for row in self.rows if row.tally.key == key), None)


def natural_key(text: str) -> tuple:
    """"2" before "10": windows and staff ids sort as people read them."""
    return tuple((0, int(part), "") if part.isdecimal() else (1, 0, part)
                 for part in _split_digits(text))


def _split_digits(text: str) -> list[str]:
    # isdecimal, not isdigit: "²" is a digit that int() cannot read.
    parts: list[str] = []
    for char in text:
        if parts and parts[-1][-1].isdecimal() == char.isdecimal():
            parts[-1] += char
        else:
            parts.append(char)
    return parts


def _rounded_rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _change(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 4)


def _cents(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP)


def tally_month(rows: Iterable[ActivityRow], by: str, excluded_transactions: frozenset[str] = frozenset()
                ) -> dict[str, Tally]:
    """Counts per window (`by="counter"`, the event's counter_id) or per staff member (`"staff"`).

    Events without the key are left out (a misuse while nobody was signed in has no staff member).
    A transaction counts once per event type: the first rating of it wins.
    """
    if by not in ("counter", "staff"):
        raise ValueError(f"a report is by counter or by staff, not {by!r}")
    tallies: dict[str, Tally] = {}
    seen: set[tuple[str, str]] = set()
    for row in sorted(rows, key=lambda r: r.wall_time_utc):
        key = row.counter_id if by == "counter" else row.staff_id
        member = row.staff_id if by == "counter" else row.counter_id
        if not key or row.type not in REPORT_EVENT_TYPES or row.presses == 0:  # a void of nothing held
            continue
        if row.transaction_id is not None and row.type != EventType.RATING_MISUSE:
            if (row.type, row.transaction_id) in seen:
                continue
            seen.add((row.type, row.transaction_id))
        tally = tallies.setdefault(key, Tally(key))
        if member:
            tally.members.add(member)
        if row.type == EventType.TRANSACTION_COMPLETED:
            tally.completed += 1
            if row.counter_id:
                tally.completed_by_counter[row.counter_id] = tally.completed_by_counter.get(row.counter_id, 0) + 1
        elif row.type == EventType.RATING_MISSED:
            tally.missed += 1
        elif row.type in MISUSE_EVENT_TYPES:
            tally.misuse += 1 if row.presses is None else row.presses
        elif row.level in POINTS_PER_LEVEL:
            tally.rated += 1
            tally.rated_qr += row.channel == QR_CHANNEL
            if row.transaction_id is not None and row.transaction_id in excluded_transactions:
                tally.appeals_upheld += 1
            else:
                tally.levels[row.level] += 1
    return tallies


def rating_score(tally: Tally, most_completed: int) -> Decimal:
    counted = tally.counted_ratings
    average_points = Fraction(tally.points, counted) if counted else Fraction(0)
    quality = (average_points + 4) / 5
    workload = Fraction(tally.completed, most_completed) if most_completed else Fraction(0)
    return _cents(RATING_PART * quality * (1 - WORKLOAD_SHARE + WORKLOAD_SHARE * workload))


def staff_supervision(tally: Tally, by_counter: Mapping[str, float]) -> Fraction:
    """A staff member's supervision score: their windows' scores weighted by their workload there."""
    weights = {counter: n for counter, n in tally.completed_by_counter.items() if n}
    total = sum(weights.values())
    if total == 0:
        return Fraction(0)
    return sum((Fraction(str(by_counter.get(counter, 0))) * n for counter, n in weights.items()),
               Fraction(0)) / total


def _rank(rows: list[ReportRow]) -> None:
    ranked = sorted((row for row in rows if row.tally.ranked), key=lambda row: -row.total)
    for index, row in enumerate(ranked):
        row.rank = index + 1 if index == 0 or row.total != ranked[index - 1].total else ranked[index - 1].rank
    if not ranked:
        return
    star_places = math.ceil(len(ranked) * STAR_SHARE)
    for row in ranked:
        row.star = row.rank <= star_places
    bottom_places = math.ceil(len(ranked) * INTERVIEW_SHARE)
    threshold = sorted(row.total for row in ranked)[bottom_places - 1]
    for row in ranked:
        # A window among the stars is never also at the bottom (only possible with one or two windows).
        row.bottom = row.total <= threshold and not row.star


def build_report(month: str, rows: Iterable[ActivityRow], *, by: str = "counter",
                 supervision: Mapping[str, float] | None = None,
                 excluded_transactions: frozenset[str] = frozenset(),
                 previous: MonthlyReport | None = None, time_zone: str = "Asia/Shanghai",
                 ) -> MonthlyReport:
    """The month's report. `supervision`: each window's score of 20; `previous`: last month's
    report built the same way (for 约谈 and month-on-month change), or None."""
    supervision = dict(supervision or {})
    tallies = tally_month(rows, by, excluded_transactions)
    if by == "counter":
        for counter_id in supervision:
            tallies.setdefault(counter_id, Tally(counter_id))
    most_completed = max((t.completed for t in tallies.values()), default=0)
    report_rows = []
    for key in sorted(tallies, key=natural_key):
        tally = tallies[key]
        score = rating_score(tally, most_completed) if tally.ranked else Decimal("0.00")
        if by == "counter":
            supervised = _cents(Fraction(str(supervision.get(key, 0))))
        else:
            supervised = _cents(staff_supervision(tally, supervision))
        report_rows.append(ReportRow(tally, score, supervised, score + supervised))
    _rank(report_rows)
    if previous is not None:
        for row in report_rows:
            before = previous.row_for(row.tally.key)
            if before is None:
                continue
            row.interview = row.bottom and before.bottom
            row.previous_total = before.total if before.tally.ranked else None
            row.previous_very_satisfied_rate = before.very_satisfied_rate
            row.previous_bad_rate = before.bad_rate
    report_rows.sort(key=lambda row: (row.rank is None, row.rank or 0, natural_key(row.tally.key)))
    return MonthlyReport(month=month, by=by, time_zone=time_zone, rows=report_rows)

"""A generated but realistic month: 30 windows in two buildings, uneven workload, 差评 clusters, an
upheld and a rejected appeal, a window that was poor two months running. The expected report is
worked out here from what was generated, independently of centre.reports.scoring, and compared
with what the API serves, on SQLite and PostgreSQL; and the month's callback list drawn from it."""
from __future__ import annotations

import copy
import csv
import io
import math
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from openpyxl import load_workbook

from tests.support.centre.event_writer import EventWriter
from tests.support.centre.fixtures import BACKENDS, database_template
from tests.support.centre.testkit import serve_in_thread

pytestmark = pytest.mark.timeout(240)

WINDOWS = [str(n) for n in range(1, 31)]
POOR_BOTH_MONTHS, POOR_IN_NOVEMBER = "13", "27"
CLUSTER_WINDOWS = ("7", "22")


@dataclass
class Truth:
    completed: int = 0
    rated: int = 0
    missed: int = 0
    misuse: int = 0
    appeals_upheld: int = 0
    levels: dict = field(default_factory=lambda: {5: 0, 4: 0, 3: 0, 2: 0, 1: 0})
    staff: set = field(default_factory=set)


def _unit(window: str) -> str:
    return f"{'a' if int(window) <= 15 else 'b'}-{int(window):02d}"  # building A: 1-15, B: 16-30


class Month:
    def __init__(self, writer: EventWriter, rng: random.Random, label: str) -> None:
        self.writer, self.rng, self.label = writer, rng, label
        self.truth = {w: Truth() for w in WINDOWS}
        self.transactions: list[str] = []
        self.bad: list[tuple[str, str, int]] = []  # (transaction, window, level)

    def serve(self, window: str, day: int, minute: int, level: int | None, *, when: str | None = None,
              in_month: bool = True) -> str:
        staff = f"{1000 + int(window)}" if minute < 240 or int(window) % 4 else f"{2000 + int(window)}"
        tx = f"{self.label}-w{window}-{len(self.writer.rows) + 1}"  # unique: one per event written
        hour, mins = 8 + minute // 60, minute % 60
        at = when or f"{self.label}-{day:02d}T{hour:02d}:{mins:02d}:00+08:00"
        data = {"transaction_id": tx, "staff_id": staff, "counter_id": window, "service_item": "TQ01"}
        self.writer.add(_unit(window), "transaction.completed", at, data)
        truth = self.truth[window] if in_month else None
        if level is None:
            self.writer.add(_unit(window), "rating.missed", at, data)
        else:
            self.writer.add(_unit(window), "rating.submitted", at, {**data, "level": level})
            if level <= 2:
                self.writer.add(_unit(window), "rating.reason", at,
                                {"transaction_id": tx, "reason_code": "510", "reason_label": "等待时间长"})
                self.bad.append((tx, window, level))
        if truth is not None:
            self.transactions.append(tx)
            truth.completed += 1
            truth.staff.add(staff)
            if level is None:
                truth.missed += 1
            else:
                truth.rated += 1
                truth.levels[level] += 1
        return tx

    def misuse(self, window: str, day: int) -> None:
        self.writer.add(_unit(window), "rating.misuse", f"{self.label}-{day:02d}T12:00:00+08:00",
                        {"key": 3, "why": "no_window", "counter_id": window})
        self.truth[window].misuse += 1


def _level(rng: random.Random, poor: bool) -> int | None:
    if rng.random() < 0.15:
        return None
    weights = [5, 10, 25, 30, 30] if poor else [70, 20, 7, 2, 1]
    return rng.choices([5, 4, 3, 2, 1], weights)[0]


def generate(writer: EventWriter, label: str, seed: int) -> Month:
    rng = random.Random(seed)
    month = Month(writer, rng, label)
    for window in WINDOWS:
        # Building B is the busier one; window 5 is the loans desk queue everyone waits for; window
        # 30 opened at the end of the month.
        workload = 3 if window == "30" else rng.randint(20, 45) + (25 if int(window) > 15 else 0)
        workload += 90 if window == "5" else 0
        poor = window == POOR_BOTH_MONTHS or (window == POOR_IN_NOVEMBER and label == "2026-11")
        for number in range(workload):
            month.serve(window, 2 + number % 27, (number * 7) % 480, _level(rng, poor))
        for _ in range(rng.randint(0, 3)):
            month.misuse(window, rng.randint(1, 28))
    if label == "2026-11":
        for window in CLUSTER_WINDOWS:  # an afternoon of complaints about one window
            for minute in range(300, 306):
                month.serve(window, 18, minute, 1 if minute % 2 else 2)
        # Events near the month's edges, with offsets other than +08:00: a month is Shanghai time.
        month.serve("1", 1, 0, 5, when="2026-10-31T16:30:00+00:00")      # 11-01 00:30 in Shanghai
        month.serve("1", 30, 0, 5, when="2026-11-30T23:50:00+08:00")
        month.serve("1", 30, 1, 1, when="2026-11-30T16:10:00+00:00", in_month=False)  # 12-01 00:10
    return month


def _cents(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def expected_rows(truth: dict[str, Truth], supervision: dict[str, Decimal]) -> dict[str, dict]:
    busiest = max(t.completed for t in truth.values())
    rows = {}
    for window, t in truth.items():
        counted = sum(t.levels.values())
        points = t.levels[5] - 2 * t.levels[2] - 4 * t.levels[1]
        quality = (Fraction(points, counted) + 4) / 5 if counted else Fraction(4, 5)
        rating = _cents(80 * quality * (Fraction(4, 5) + Fraction(t.completed, busiest) / 5))
        rows[window] = {"points": points, "rating_score": rating, "total": rating + supervision[window]}
    totals = sorted((r["total"] for r in rows.values()), reverse=True)
    for r in rows.values():
        r["rank"] = totals.index(r["total"]) + 1
    stars = math.ceil(len(rows) * 0.10)
    bottom_total = sorted(totals)[math.ceil(len(rows) * 0.05) - 1]
    for r in rows.values():
        r["star"] = r["rank"] <= stars
        r["bottom"] = r["total"] <= bottom_total
    return rows


@pytest.fixture(scope="module")
def generated() -> tuple[EventWriter, Month, Month]:
    """October and November, generated once for the module (each test gets its own copy)."""
    writer = EventWriter()
    october = generate(writer, "2026-10", seed=10)
    november = generate(writer, "2026-11", seed=11)
    return writer, october, november


@pytest.fixture(scope="module", params=BACKENDS)
def stored_months(request, tmp_path_factory, generated):
    writer = generated[0]
    with database_template(request.param, tmp_path_factory.mktemp("months"),
                           lambda db: copy.deepcopy(writer).store(db)) as template:
        yield template


@pytest.fixture
def hall(stored_months, generated):
    """A centre on a database of its own holding both months, and what was generated in them."""
    _writer, october, november = copy.deepcopy(generated)
    with stored_months.copy() as db_url, serve_in_thread(db_url) as centre:
        yield centre, october, november


def test_generated_month_matches_the_scores_worked_out_by_hand(hall):
    centre, october, november = hall
    admin = centre.admin()
    rng = random.Random(5)
    supervision = {"2026-10": {w: Decimal("16.00") for w in WINDOWS},
                   "2026-11": {w: Decimal(rng.randint(120, 200)) / 10 for w in WINDOWS}}
    for month, scores in supervision.items():
        for window, score in scores.items():
            answer = centre.client.put(f"/api/v1/supervision/{month}/{window}", headers=admin,
                                       json={"score": float(score), "entered_by": "王科长"})
            assert answer.status_code == 200, answer.text

    # Appeals on two of window 22's 差评: one upheld (leaves scoring), one rejected (stays).
    ledger = centre.client.get("/api/v1/ledger", params={"month": "2026-11"}, headers=admin).json()["entries"]
    november_bad = [b for b in november.bad if b[0] in {e["transaction_id"] for e in ledger}]
    assert len(ledger) == len(november.bad) - 1  # the 12-01 00:10 差评 is December's
    cluster = [e for e in ledger if e["counter_id"] == "22" and e["wall_time"].startswith("2026-11-18T13")]
    assert len(cluster) == 6 and all(e["reasons"] == ["等待时间长"] for e in cluster)
    upheld, rejected = cluster[0], cluster[1]
    for entry, decision in ((upheld, "upheld"), (rejected, "rejected")):
        made = centre.client.post(f"/api/v1/ledger/{entry['id']}/appeals", headers=admin,
                                  json={"evidence": "录像显示误按", "by": "窗口22组长"})
        assert made.status_code == 201, made.text
        reviewed = centre.client.post(f"/api/v1/appeals/{made.json()['appeal_id']}/review", headers=admin,
                                      json={"decision": decision, "by": "王科长"})
        assert reviewed.status_code == 200, reviewed.text
    november.truth["22"].levels[upheld["level"]] -= 1
    november.truth["22"].appeals_upheld += 1
    assert len(november_bad) == len(ledger)

    expected_oct = expected_rows(october.truth, supervision["2026-10"])
    expected_nov = expected_rows(november.truth, supervision["2026-11"])
    answer = centre.client.get("/api/v1/reports/2026-11", params={"format": "csv"}, headers=admin)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    got = {row["counter_id"]: row for row in csv.DictReader(io.StringIO(answer.text))}
    assert set(got) == set(WINDOWS)
    for window in WINDOWS:
        t, e, row = november.truth[window], expected_nov[window], got[window]
        assert row["staff_ids"] == ";".join(sorted(t.staff, key=int)), window
        assert [int(row[c]) for c in ("completed", "rated", "missed", "misuse", "appeals_upheld")] == \
            [t.completed, t.rated, t.missed, t.misuse, t.appeals_upheld], window
        assert [int(row[f"level_{n}"]) for n in (5, 4, 3, 2, 1)] == [t.levels[n] for n in (5, 4, 3, 2, 1)]
        assert int(row["points"]) == e["points"]
        assert Decimal(row["rating_score"]) == e["rating_score"], window
        assert Decimal(row["supervision_score"]) == supervision["2026-11"][window]
        assert Decimal(row["total"]) == e["total"] and int(row["rank"]) == e["rank"], window
        assert row["star"] == ("服务明星" if e["star"] else "")
        interview = e["bottom"] and not e["star"] and expected_oct[window]["bottom"]
        assert row["interview"] == ("约谈" if interview else ""), window
    assert sum(1 for r in got.values() if r["star"]) == 3
    assert [w for w, r in got.items() if r["interview"]] == [POOR_BOTH_MONTHS]
    assert got[POOR_IN_NOVEMBER]["interview"] == "" and expected_nov[POOR_IN_NOVEMBER]["bottom"]

    document = centre.client.get("/api/v1/reports/2026-11", headers=admin).json()
    rates = {r["counter_id"]: r for r in document["rates"]}
    t13 = november.truth["13"]
    assert rates["13"]["bad_rate"] == round((t13.levels[1] + t13.levels[2]) / sum(t13.levels.values()), 4)
    assert rates["13"]["total_change"] == float(expected_nov["13"]["total"] - expected_oct["13"]["total"])

    xlsx = centre.client.get("/api/v1/reports/2026-11", params={"format": "xlsx"}, headers=admin)
    assert xlsx.headers["content-disposition"] == 'attachment; filename="report-2026-11.xlsx"'
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert sheet.max_row == 31 and sheet.freeze_panes == "A2" and sheet["A1"].value == "窗口"


def test_callback_list_is_drawn_once_from_the_month_and_repeatable(hall):
    centre, _october, november = hall
    admin = centre.admin()
    assert centre.client.get("/api/v1/callbacks/2026-11", headers=admin).status_code == 404
    drawn = centre.client.post("/api/v1/callbacks/2026-11/draw", headers=admin,
                               json={"drawn_by": "王科长", "count": 7, "seed": "hall-2026-11"})
    assert drawn.status_code == 201, drawn.text
    listing = drawn.json()
    assert listing["seed"] == "hall-2026-11" and listing["candidates"] == len(november.transactions)
    chosen = [e["transaction_id"] for e in listing["entries"]]
    assert chosen == random.Random("hall-2026-11").sample(sorted(set(november.transactions)), 7)
    again = centre.client.post("/api/v1/callbacks/2026-11/draw", headers=admin, json={"drawn_by": "李四"})
    assert again.status_code == 409
    empty = centre.client.post("/api/v1/callbacks/2027-01/draw", headers=admin, json={"drawn_by": "王科长"})
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "nothing_to_draw"
    for count in (4, 11):
        refused = centre.client.post("/api/v1/callbacks/2026-12/draw", headers=admin,
                                     json={"drawn_by": "王科长", "count": count})
        assert refused.status_code == 422
    noted = centre.client.put(f"/api/v1/callbacks/2026-11/{chosen[0]}", headers=admin,
                              json={"result": "市民表示满意", "recorded_by": "李四"})
    assert noted.status_code == 200 and noted.json()["result"] == "市民表示满意"
    assert centre.client.put("/api/v1/callbacks/2026-11/not-drawn", headers=admin,
                             json={"result": "x", "recorded_by": "李四"}).status_code == 404
    assert centre.client.get("/api/v1/reports/2026-11").status_code == 401

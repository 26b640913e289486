"""Formula injection through the report downloads (issue 15.3). Events whose counter_id or staff_id
is `=cmd|' /C calc'!A0` or `=1+2` were live formulas in the XLSX (`<f>…</f>`) and raw in the CSV,
which a viewer downloads and opens in a spreadsheet. Now every text cell of the XLSX is text (no
<f> in any sheet, the quote prefix set), the CSV puts a single quote before a text cell that starts
with = + - @ tab or CR (OWASP's rule), numbers stay numbers (a negative points value too), and the
JSON keeps the values as they are. Through a real uvicorn on 127.0.0.1, logged in as a viewer."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime, timezone
from xml.etree import ElementTree

import pytest

from centre.dashboard.accounts import add_user
from centre.storage.models import Unit
from tests.fault.results import record
from tests.support.centre.event_writer import EventWriter
from tests.support.centre.testkit import serve_in_thread

MONTH = "2026-03"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SHEET_NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
VIEWER, PASSWORD = "查看员", "viewer-pass-1"

CALC = "=cmd|' /C calc'!A0"
# counter id → the staff id serving there; each counter one unit registered at it.
HOSTILE = {
    CALC: "=1+2",
    "=1+2": "@SUM(A1:A9)",
    "+1": "-2",
    "7": "\t=1",
    "8": "#REF!",
    "9": "10\x0101",   # a control character openpyxl refuses to write
}


def hostile_month(db) -> None:
    """Per counter: one 非常不满意 (−4 points) and one 满意, registered at the counter it names,
    so the report counts them."""
    enrolled = datetime(2026, 1, 1, tzinfo=timezone.utc)
    writer = EventWriter()
    with db.transaction() as session:
        for number, counter in enumerate(HOSTILE):
            session.add(Unit(unit_id=f"unit-{number}", role="counter", counter_id=counter,
                             created_at=enrolled, enrolled_at=enrolled))
    for number, (counter, staff) in enumerate(HOSTILE.items()):
        for minute, level in ((0, 1), (10, 4)):
            data = {"transaction_id": f"t{number}-{minute}", "staff_id": staff, "counter_id": counter,
                    "service_item": "TQ01"}
            at = f"{MONTH}-10T09:{minute:02d}:00+08:00"
            writer.add(f"unit-{number}", "transaction.completed", at, data)
            writer.add(f"unit-{number}", "rating.submitted", at, {**data, "level": level})
    writer.store(db)
    with db.transaction() as session:
        add_user(session, VIEWER, "viewer", PASSWORD, datetime.now(timezone.utc))


def sheet_cells(xlsx: bytes) -> tuple[list[str], dict[str, tuple[str | None, str]]]:
    """The XML of every worksheet and of the styles, and the first sheet's cells: reference →
    (type, text)."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        sheets = [archive.read(name).decode("utf-8") for name in sorted(archive.namelist())
                  if name.startswith("xl/worksheets/sheet") or name == "xl/styles.xml"]
    cells = {}
    for cell in ElementTree.fromstring(sheets[1]).iter(f"{{{SHEET_NS['s']}}}c"):
        text = "".join(node.text or "" for node in cell.iter() if node.tag in (
            f"{{{SHEET_NS['s']}}}t", f"{{{SHEET_NS['s']}}}v"))
        cells[cell.get("r")] = (cell.get("t"), text)
    return sheets, cells


def column_of(cells: dict, header: str) -> str:
    return next(ref.rstrip("0123456789") for ref, (_, text) in cells.items()
                if ref.endswith("1") and ref[:-1].isalpha() and text == header)


@pytest.mark.timeout(120)
def test_hostile_ids_are_text_in_the_downloads_never_formulas(tmp_path, request):
    with serve_in_thread(f"sqlite:///{tmp_path / 'centre.db'}") as centre:
        hostile_month(centre.db)
        client = centre.client
        token = CSRF_FIELD.search(client.get("/dashboard/login").text).group(1)
        assert client.post("/dashboard/login", data={"name": VIEWER, "password": PASSWORD,
                                                     "csrf_token": token}).status_code == 303
        downloads = {(fmt, by): client.get(f"/dashboard/report/{MONTH}/download",
                                           params={"format": fmt, "by": by})
                     for fmt in ("xlsx", "csv") for by in ("counter", "staff")}
        document = client.get(f"/api/v1/reports/{MONTH}", headers=centre.admin()).json()
    for key, answer in downloads.items():
        assert answer.status_code == 200, (key, answer.status_code, answer.text[:300])

    # XLSX: no formula anywhere, each hostile id a text cell holding exactly what was sent
    # (a control character shown as U+FFFD), and the points a number, negative included.
    for by, ids in (("counter", list(HOSTILE)), ("staff", list(HOSTILE.values()))):
        sheets, cells = sheet_cells(downloads["xlsx", by].content)
        assert all("<f>" not in xml and "<f " not in xml for xml in sheets)
        assert 'quotePrefix="1"' in sheets[0]  # xl/styles.xml sorts first
        key_column = "A"
        shown = {text: kind for ref, (kind, text) in cells.items()
                 if ref.startswith(key_column) and ref != f"{key_column}1"}
        for value in ids:
            assert shown.get(value.replace("\x01", "\ufffd")) == "inlineStr", (by, value, shown)
        points = column_of(cells, "评价积分")
        point_cells = [cells[ref] for ref in cells if ref.rstrip("0123456789") == points and ref != f"{points}1"]
        assert point_cells and all(kind in (None, "n") for kind, _ in point_cells), point_cells
        assert {int(text) for _, text in point_cells} == {-4}, point_cells  # −4 + 0 at each

    # CSV: hostile text cells start with a quote; numbers, negative ones too, are untouched.
    rows = list(csv.DictReader(io.StringIO(downloads["csv", "counter"].text)))
    by_counter = {row["counter_id"]: row for row in rows}
    assert set(by_counter) == {"'" + CALC, "'=1+2", "'+1", "7", "8", "9"}
    assert all(row["points"] == "-4" for row in rows)
    staff_rows = list(csv.DictReader(io.StringIO(downloads["csv", "staff"].text)))
    assert {row["staff_id"] for row in staff_rows} == {
        "'=1+2", "'@SUM(A1:A9)", "'-2", "'\t=1", "#REF!", "10\x0101"}
    for row in rows + staff_rows:
        assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row.values()), row
    # JSON is data, not a spreadsheet: the ids as the units sent them.
    assert {row["counter_id"] for row in document["rows"]} == set(HOSTILE)
    record(request.node.nodeid, f"{len(HOSTILE)} counters and staff with hostile ids; XLSX and CSV, "
           "by counter and by staff, downloaded by a viewer",
           {"formulas in the XLSX": 0, "CSV cells neutralised": sum(
               cell.startswith("'") for row in rows + staff_rows for cell in row.values()),
            "points": "numbers (-4)"})

"""The monthly report counts the page's ratings beside the keypad's (issue 18, item 2): in rated
and the levels, split in rated_keypad / rated_qr after the pinned columns; the keypad's rating of
a transaction wins, even when it was uploaded after the page's."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from centre.dates.months import centre_time_zone
from centre.reports.scoring import CHANNEL_COLUMNS, COUNTER_COLUMNS
from tests.centre.public.test_position_page import Hall, phones  # noqa: F401 (a fixture)
from tests.centre.public.test_rating_after import rate, served_ticket, token_of
from tests.support.centre.testkit import cli

pytestmark = pytest.mark.timeout(90)


def keypad(hall: Hall, transaction: str, level: int) -> None:
    hall.send(hall.counter, ("rating.submitted", {"transaction_id": transaction, "level": level,
                                                   "staff_id": "1001", "counter_id": "3"}))


def test_page_ratings_count_and_the_keypad_wins(phones, capsys):
    hall = Hall(phones)
    by_page = served_ticket(hall, "A001", "t-page")
    served_ticket(hall, "A002", "t-keypad")
    both = served_ticket(hall, "A003", "t-both")
    assert rate(phones, by_page, token_of(phones.client.get(f"/t/{by_page}").text), level="2").status_code == 303
    keypad(hall, "t-keypad", 5)
    assert rate(phones, both, token_of(phones.client.get(f"/t/{both}").text), level="1").status_code == 303
    keypad(hall, "t-both", 4)                      # uploaded after the page's rating: it wins

    month = datetime.now(centre_time_zone()).strftime("%Y-%m")
    report = phones.report(capsys, month)
    assert report["columns"][-len(CHANNEL_COLUMNS):] == list(CHANNEL_COLUMNS)
    assert report["columns"][:len(COUNTER_COLUMNS)] == list(COUNTER_COLUMNS)
    [row] = report["rows"]
    assert (row["completed"], row["rated"], row["rated_keypad"], row["rated_qr"]) == (3, 3, 2, 1)
    assert [row[f"level_{level}"] for level in range(5, 0, -1)] == [1, 1, 0, 1, 0]
    assert row["points"] == 1 + 0 - 2

    code, out, _err = cli(capsys, "report", "--month", month, "--db", phones.db.url)
    header, line = list(csv.reader(io.StringIO(out)))[:2]
    assert code == 0 and header[-2:] == ["rated_keypad", "rated_qr"] and line[-2:] == ["2", "1"]
    staff = phones.report(capsys, month, "--by", "staff")["rows"][0]
    assert (staff["staff_id"], staff["rated_keypad"], staff["rated_qr"]) == ("1001", 2, 1)

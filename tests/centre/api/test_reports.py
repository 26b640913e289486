"""The admin API's months and windows: a month the calendar cannot shift is invalid, and windows
named with any digits sort and list without an internal error."""
from __future__ import annotations

import pytest

from tests.support.centre.testkit import serve_in_thread

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("month", ["0000-01", "0001-01", "9999-12"])
def test_a_month_at_the_calendars_edge_is_invalid_not_an_internal_error(tmp_path, month):
    # A report also reads the month before and after: near year 1 or 9999 they are not dates.
    with serve_in_thread(f"sqlite:///{tmp_path / 'centre.db'}") as centre:
        for method, path in (("GET", f"/api/v1/reports/{month}"),
                             ("POST", f"/api/v1/callbacks/{month}/draw")):
            answer = centre.client.request(method, path, headers=centre.admin(), json={"drawn_by": "李主管"})
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["code"] == "invalid"


def test_windows_named_with_any_digits_sort_and_list_without_an_internal_error(tmp_path):
    # "²" is a digit to str.isdigit() that int() cannot read; "٣" is a decimal it can.
    with serve_in_thread(f"sqlite:///{tmp_path / 'centre.db'}") as centre:
        for window in ("10", "²", "2", "٣"):
            answer = centre.client.put(f"/api/v1/supervision/2026-11/{window}", headers=centre.admin(),
                                       json={"score": 18, "entered_by": "李主管"})
            assert answer.status_code == 200, answer.text
        assert [entry["counter_id"] for entry in answer.json()["entries"]] == ["2", "٣", "10", "²"]

"""A staff card at the counter signs its staff member in, as the API does, once they signed in on
the console with their PIN that day; before that the console offers the card's 工号 and asks for
the PIN."""
from __future__ import annotations

import time

import pytest

from tests.kiosk.console.console_unit import Page

pytestmark = pytest.mark.timeout(120)


def swipe(unit, text: str) -> None:
    """A card read on the sim reader, on the unit's loop, and a moment for its sign-in."""
    unit._loop.call_soon_threadsafe(unit.app.devices.badge_reader.swipe, text)
    time.sleep(0.3)


def signed_events(unit) -> list[dict]:
    return [e for e in unit.events() if e["type"].startswith("staff.")]


def test_a_card_asks_for_the_pin_first_each_day_then_signs_in_as_the_api_does(unit):
    page = Page(unit)
    assert page.open()["badge"] is None
    swipe(unit, "1001")
    assert signed_events(unit) == []
    assert page.open()["badge"] == "1001"          # the sign-in form offers the card's 工号
    assert page.sign_in("1001").status_code == 200
    assert page.open()["signed_in"] is True
    assert page.act("sign-out").status_code == 200

    swipe(unit, "1001")                             # PIN given today: the card signs in
    events = signed_events(unit)
    assert [e["type"] for e in events] == ["staff.signed_in", "staff.signed_out", "staff.signed_in"]
    assert events[-1]["data"] == events[0]["data"] == {"staff_id": "1001", "counter_id": "1"}
    swipe(unit, "1001")                             # already signed in: nothing more
    assert len(signed_events(unit)) == 3

    unit.post("/v1/staff/sign-out")
    unit.console.badges._pin_day["1001"] = "2000-01-01"   # the PIN was given on another day
    swipe(unit, "1001")
    assert [e["type"] for e in signed_events(unit)][-1] == "staff.signed_out"
    assert Page(unit).open()["badge"] == "1001"


def test_a_card_of_nobody_on_the_roster_does_nothing(unit):
    Page(unit).open()
    swipe(unit, "9999")
    assert signed_events(unit) == [] and Page(unit).open()["badge"] is None

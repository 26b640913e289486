"""What the dispenser says to the citizen who took a ticket (issue 14, item 12): the number and how
many are ahead, from offline clips like the calls; through the unit's sim keys and speaker too."""
from __future__ import annotations

import pytest

from kiosk.queue.speech import call_clips, count_clips, ticket_clips
from kiosk.voice import PHRASES
from tests.support.unit_app import UnitApp

from tests.support.paths import REPO

SIM_TOML = (REPO / "kiosk" / "defaults" / "sim.toml").read_text(encoding="utf-8")


def said_as_text(clips: list[str]) -> str:
    return "".join(PHRASES[clip] for clip in clips)


@pytest.mark.parametrize("count, text", [
    (0, "零"), (7, "七"), (10, "十"), (12, "十二"), (20, "二十"), (35, "三十五"), (100, "一百"), (105, "一百零五"),
    (110, "一百一十"), (999, "九百九十九"), (1001, "一千零一"), (2010, "二千零一十"), (9999, "九千九百九十九")])
def test_a_number_of_people_is_read_as_a_quantity(count, text):
    assert said_as_text(count_clips(count)) == text


def test_the_ticket_answer_and_every_clip_it_can_use_is_rendered():
    assert said_as_text(ticket_clips("B013", 12)) == "您的号码是B零一三号前面还有十二人等候请取走号票，留意叫号"
    assert said_as_text(ticket_clips("V001", 0)) == "您的号码是V零零一号前面无人等候请取走号票，留意叫号"
    used = {clip for n in range(0, 12_000, 7) for clip in ticket_clips(f"A{n % 1000:03d}", n)}
    used |= set(call_clips("Z9999", "12")) | {"ticket_unavailable"}
    assert used <= set(PHRASES)


def test_taking_a_ticket_at_the_keys_says_the_number_and_how_many_are_ahead(tmp_path):
    config = tmp_path / "unit.toml"
    config.write_text(SIM_TOML.replace("lockout_s = 3", "lockout_s = 0"), encoding="utf-8")
    unit = UnitApp(tmp_path / "state", config=config).start()
    try:
        for _ in range(12):                      # staff front end: no voice for these
            assert unit.post("/v1/tickets", {"category": "B"}).status_code == 200
        assert unit.get("/v1/sim/speech").json()["said"] == []
        assert unit.post("/v1/sim/ticket-keys/2/press").json()["events"] == ["ticket.issued"]
        assert unit.get("/v1/sim/speech").json()["said"] == [
            "ticket_your_number", "B", "0", "1", "3", "call_number",
            "ticket_ahead", "ten", "2", "ticket_people_waiting", "ticket_take"]
        unit.post("/v1/sim/printer/paper", {"state": "out"})
        assert "ticket.print_failed" in unit.post("/v1/sim/ticket-keys/1/press").json()["events"]
        assert unit.get("/v1/sim/speech").json()["said"][-1] == "ticket_unavailable"
    finally:
        unit.stop()

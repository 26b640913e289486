"""The fault tests' own verdicts must be able to fail: each check is shown a tampered copy."""
from __future__ import annotations

import copy
import uuid

import pytest

from tests.support.centre.testkit import SimulatedUnit, seal
from tests.fault.crash import Acknowledged
from tests.fault.harness import compare_exactly_once


def chained_events(count: int) -> list[dict]:
    unit = SimulatedUnit("checks")
    return [unit.record("rating.submitted", {"transaction_id": str(uuid.uuid4()), "level": 5})
            for _ in range(count)]


def test_identical_copies_pass():
    events = chained_events(5)
    assert compare_exactly_once(events, copy.deepcopy(events))["lost"] == 0


@pytest.mark.parametrize("tamper, complaint", [
    (lambda held: held[:-1], "lost"),
    (lambda held: held + [held[-1]], "in order without gaps"),
    (lambda held: held[:2] + held[3:], "in order without gaps"),
    (lambda held: [held[1], held[0], *held[2:]], "in order without gaps"),
    (lambda held: held[:2] + [seal({**held[2], "data": {"level": 1}})] + held[3:], "chain broken"),
    (lambda held: held[:2] + [{**held[2], "wall_time": "2000-01-01T00:00:00.000+08:00"}] + held[3:],
     "chain broken"),
], ids=["last-dropped", "last-doubled", "middle-dropped", "swapped", "data-altered-and-resealed",
        "wall-time-altered"])
def test_a_tampered_centre_copy_fails(tamper, complaint):
    events = chained_events(5)
    with pytest.raises(AssertionError, match=complaint):
        compare_exactly_once(events, tamper(copy.deepcopy(events)))


def test_an_acknowledged_action_missing_from_the_log_is_reported():
    events = chained_events(2)
    ack = Acknowledged()
    ack.types["rating.submitted"] = 2
    ack.identified.add(("rating.submitted", events[0]["data"]["transaction_id"]))
    assert ack.missing_from(events) == []
    ack.types["rating.submitted"] = 3
    ack.identified.add(("rating.submitted", "never-committed"))
    assert ack.missing_from(events) == ["rating.submitted: 3 acknowledged, 2 committed",
                                        "rating.submitted for never-committed"]

"""One vocabulary of event types (issue 13): the named constants are the wire strings, every type
PROTOCOL.md and docs/protocol-notes.md document is one, and a misspelt type fails loudly."""
from __future__ import annotations

import json
import re

import pytest

from kiosk.decision import Decision
from protocol.events import EVENT_TYPES, EventType
from tests.support.paths import REPO, SHARED


def documented_types() -> set[str]:
    texts = [(REPO / "docs" / "protocol-notes.md").read_text(encoding="utf-8"),
             (SHARED / "PROTOCOL.md").read_text(encoding="utf-8")]
    found = set()
    for text in texts:
        # a table row naming one type, or several ("`ticket.called` / `ticket.recalled` / …")
        for row in re.findall(r"^\| (`[a-z]+\.[a-z_]+`(?: / `[a-z]+\.[a-z_]+`)*)", text, flags=re.M):
            found |= set(re.findall(r"`([a-z]+\.[a-z_]+)`", row))
    return found


def test_every_documented_type_is_a_constant_and_no_constant_is_undocumented():
    if not (SHARED / "PROTOCOL.md").exists():
        pytest.skip("the shared PROTOCOL.md is not beside this checkout")
    documented = documented_types()
    assert {"rating.submitted", "ticket.voided", "printer.status"} <= documented
    assert documented == {str(member) for member in EventType}


def test_a_constant_is_its_wire_string():
    assert EventType.RATING_SUBMITTED == "rating.submitted"
    assert json.dumps({"type": EventType.TICKET_CALLED}) == '{"type": "ticket.called"}'
    assert "rating.missed" in EVENT_TYPES


def test_a_misspelt_type_is_refused_where_a_decision_is_made():
    with pytest.raises(ValueError):
        Decision().add("rating.submited", {})

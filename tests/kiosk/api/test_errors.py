"""One code → status table for every refusal the unit can make (issue 13): the machines carry no
HTTP, and no code they raise is missing from the API's table."""
from __future__ import annotations

import ast

from kiosk.api.errors import STATUS_BY_CODE, refusal_response, status_for
from kiosk.refusals import QueueRefused, RatingRefused, Refused, Unavailable
from tests.support.paths import REPO

REFUSALS = {"Refused", "RatingRefused", "QueueRefused", "Unavailable"}


def raised_codes() -> set[str]:
    """Every literal code passed to a refusal anywhere in kiosk/."""
    codes = set()
    for path in (REPO / "kiosk").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFUSALS
                    and node.args and isinstance(node.args[0], ast.Constant)):
                codes.add(node.args[0].value)
    return codes


def test_every_code_the_unit_raises_has_a_status():
    codes = raised_codes()
    assert {"queue_empty", "not_signed_in", "printer_unavailable", "too_large", "unknown_staff"} <= codes
    assert codes - set(STATUS_BY_CODE) == set()


def test_storage_fault_codes_have_a_status():
    from kiosk.app import STORAGE_FAULT_TEXT
    assert all(status_for(code) == 503 for code in STORAGE_FAULT_TEXT)


def test_refusals_share_one_base_and_carry_no_http_status():
    for kind in (RatingRefused, QueueRefused, Unavailable):
        refused = kind("queue_empty", "nobody waits", ticket="A001")
        assert isinstance(refused, Refused) and not hasattr(refused, "status")
        assert (refused.code, refused.message, refused.detail) == ("queue_empty", "nobody waits", {"ticket": "A001"})


def test_a_refusal_answers_its_tables_status_with_plain_detail_only():
    response = refusal_response(QueueRefused("print_failed", "voided", ticket="B001", rich=object()))
    assert response.status_code == 503
    assert response.body == b'{"error":{"code":"print_failed","message":"voided","ticket":"B001"}}'


def test_an_unknown_code_is_a_server_error_not_a_guess():
    assert status_for("no_such_code") == 500

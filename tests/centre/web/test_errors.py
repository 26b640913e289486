"""Every error the centre answers has PROTOCOL.md's shape, FastAPI's and Starlette's own included."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)


def test_every_error_has_the_protocol_shape(centre):
    answers = [
        centre.client.get("/no/such/path"),
        centre.client.delete("/api/v1/enrol"),
        centre.client.post("/api/v1/enrol", content=b"\xff\xfe"),
        centre.client.post("/api/v1/enrol", json={"token": "t"}),
    ]
    assert [a.status_code for a in answers] == [404, 405, 422, 422]
    for answer in answers:
        error = answer.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert [a.json()["error"]["code"] for a in answers] == ["not_found", "method_not_allowed",
                                                            "invalid", "invalid"]
    assert answers[3].json()["error"]["field"] == "unit_id"

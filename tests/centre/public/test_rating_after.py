"""Rating after the fact on the ticket's page (issue 18, item 2), through a served centre on SQLite
and PostgreSQL: offered once the transaction is completed and was not rated at the counter, once,
with a 差评's reason after it, for 7 days; a per-page token; the keypad's rating wins."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from centre.storage.models import Event, QrRating
from tests.centre.public.test_position_page import Hall, new_ref, phones  # noqa: F401 (a fixture)

pytestmark = pytest.mark.timeout(60)


def token_of(page_text: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page_text).group(1)


def served_ticket(hall: Hall, ticket: str = "A001", transaction: str = "t-1") -> str:
    ref = hall.issue(ticket, new_ref())
    hall.call(ticket)
    hall.send(hall.counter, ("transaction.completed", {"transaction_id": transaction, "staff_id": "1001",
                                                        "counter_id": "3", "ticket": ticket, "service_item": "TQ01"}))
    return ref


def stored(centre) -> list[tuple]:
    with centre.db.transaction() as session:
        return [tuple(row) for row in session.execute(
            select(QrRating.transaction_id, QrRating.level, QrRating.counter_id, QrRating.staff_id,
                   QrRating.reasons_json))]


def shift(centre, by: timedelta) -> None:
    """Every stored event as if it had happened `by` later (earlier when negative)."""
    with centre.db.transaction() as session:
        for event_id, at in session.execute(select(Event.id, Event.wall_time_utc)).all():
            session.execute(update(Event).where(Event.id == event_id).values(wall_time_utc=at + by))


def rate(centre, ref: str, token: str, **fields):
    return centre.client.post(f"/t/{ref}/rating", data={"token": token, **fields}, follow_redirects=False)


def test_one_rating_after_the_transaction_then_thanks_and_a_second_is_refused(phones):
    hall = Hall(phones)
    waiting = hall.issue("A002", new_ref())
    assert "请您对本次服务进行评价" not in phones.client.get(f"/t/{waiting}").text   # nothing to rate yet
    ref = served_ticket(hall)
    page = phones.client.get(f"/t/{ref}").text
    assert "请您对本次服务进行评价" in page
    assert [label for label in ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
            if f">{label}</button>" in page] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert "1001" not in page                                   # no staff member on the page
    token = token_of(page)
    answer = rate(phones, ref, token, level="5")
    assert answer.status_code == 303 and answer.headers["location"] == f"/t/{ref}"
    assert "set-cookie" not in answer.headers
    assert "感谢您的评价：非常满意" in phones.client.get(f"/t/{ref}").text
    again = rate(phones, ref, token, level="1")
    assert again.status_code == 409 and "本次业务已评价" in again.text
    assert stored(phones) == [("t-1", 5, "3", "1001", None)]


def test_a_bad_rating_takes_one_reason(phones):
    hall = Hall(phones)
    ref = served_ticket(hall)
    assert rate(phones, ref, token_of(phones.client.get(f"/t/{ref}").text), level="2").status_code == 303
    page = phones.client.get(f"/t/{ref}").text
    assert "请选择不满意的原因" in page and ">其他</button>" in page
    assert rate(phones, ref, token_of(page), reason="no-such").status_code == 422
    assert rate(phones, ref, token_of(page), reason="other").status_code == 303
    assert rate(phones, ref, token_of(page), reason="other").status_code == 409
    [(_tx, level, _counter, _staff, reasons)] = stored(phones)
    assert level == 2 and json.loads(reasons) == [{"code": "other", "label": "其他"}]
    assert "请选择不满意的原因" not in phones.client.get(f"/t/{ref}").text


def test_the_keypad_rating_wins_and_no_form_is_offered(phones):
    hall = Hall(phones)
    ref = served_ticket(hall)
    token = token_of(phones.client.get(f"/t/{ref}").text)
    hall.send(hall.counter, ("rating.submitted", {"transaction_id": "t-1", "level": 4, "staff_id": "1001",
                                                   "counter_id": "3", "ticket": "A001"}))
    page = phones.client.get(f"/t/{ref}").text
    assert "您已在窗口评价" in page and "请您对本次服务进行评价" not in page
    refused = rate(phones, ref, token, level="1")
    assert refused.status_code == 409 and "已在窗口评价" in refused.text
    assert stored(phones) == []


def test_a_form_without_its_pages_token_is_refused(phones):
    hall = Hall(phones)
    ref, other = served_ticket(hall), served_ticket(hall, "A002", "t-2")
    for token in ("", "1.abc", token_of(phones.client.get(f"/t/{other}").text)):
        refused = rate(phones, ref, token, level="1")
        assert refused.status_code == 403 and "页面已过期" in refused.text
    assert phones.client.post(f"/t/{new_ref()}/rating", data={"level": "1"}).status_code == 404
    assert stored(phones) == []


def test_the_rating_is_offered_for_seven_days(phones):
    hall = Hall(phones)
    ref = served_ticket(hall)
    token = token_of(phones.client.get(f"/t/{ref}").text)
    shift(phones, -timedelta(days=7, minutes=1))
    page = phones.client.get(f"/t/{ref}").text
    assert "业务已办结" in page and "请您对本次服务进行评价" not in page
    refused = rate(phones, ref, token, level="5")
    assert refused.status_code == 409 and "评价期限已过" in refused.text
    shift(phones, timedelta(minutes=2))
    assert "请您对本次服务进行评价" in phones.client.get(f"/t/{ref}").text   # six days and 23 hours on

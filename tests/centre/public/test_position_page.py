"""The position page `/t/{ref}` (issue 18, item 1) through the real upload route and a served
centre, on SQLite and PostgreSQL: a ticket's queue position from the hall host's events, the call
to a window, the end of the transaction, the hall's old data, and what strangers get."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from centre.public.limits import PublicLimits
from centre.storage.models import TicketRef, Unit
from tests.support.centre.testkit import now_utc

pytestmark = pytest.mark.timeout(60)


def new_ref() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture
def phones(centre):
    """The served centre with the phone pages' limits as new."""
    centre.app.state.public_limits = PublicLimits()
    yield centre
    centre.app.state.public_limits = PublicLimits()


class Hall:
    """A queue host (a dispenser) and a counter unit, uploading through the real route."""

    def __init__(self, centre, host_id: str = "hall-host") -> None:
        self.centre = centre
        self.host = centre.new_unit(host_id, role="dispenser", counter=None)
        self.counter = centre.new_unit(f"{host_id}-counter-3", role="counter", counter="3")

    def send(self, unit, *events: tuple[str, dict]) -> None:
        recorded = [unit.record(type_, data) for type_, data in events]
        response = self.centre.upload(unit, unit.batch(recorded))
        assert response.status_code == 200, response.text

    def issue(self, ticket: str, ref: str | None, *, ahead: int = 0, wait_min: int = 0, **extra) -> str:
        data = {"ticket": ticket, "category": ticket[0], "priority": False, "waiting_ahead": ahead,
                "estimated_wait_min": wait_min, "surge": False, **extra}
        if ref is not None:
            data["ref"] = ref
        self.send(self.host, ("ticket.issued", data))
        return ref

    def call(self, ticket: str, counter: str = "3") -> None:
        self.send(self.host, ("ticket.called", {"ticket": ticket, "counter_id": counter, "staff_id": "1001",
                                                 "category": ticket[0]}))


def test_a_ticket_is_followed_from_waiting_to_called_to_done(phones):
    hall = Hall(phones)
    first = hall.issue("A001", new_ref())
    second = hall.issue("A002", new_ref(), ahead=1, wait_min=6)
    hall.issue("B001", new_ref())

    page = phones.client.get(f"/t/{second}")
    assert page.status_code == 200
    assert "A002" in page.text and "前面还有 <strong>1</strong> 人" in page.text
    assert "预计等候约 <strong>6</strong> 分钟" in page.text
    assert 'http-equiv="refresh"' in page.text
    assert "大厅数据已超过1分钟未更新" not in page.text

    hall.call("A001")
    called = phones.client.get(f"/t/{first}").text
    assert "请到3号窗口" in called
    assert "您前面没有人在等候" in phones.client.get(f"/t/{second}").text

    hall.send(hall.counter, ("transaction.completed", {"transaction_id": "t-1", "staff_id": "1001",
                                                        "counter_id": "3", "ticket": "A001"}))
    done = phones.client.get(f"/t/{first}").text
    assert "业务已办结" in done and "请到3号窗口" not in done
    assert 'http-equiv="refresh"' not in done   # nothing more to wait for


def test_no_show_and_transfer(phones):
    hall = Hall(phones)
    gone, moved, behind = hall.issue("A001", new_ref()), hall.issue("A002", new_ref()), hall.issue("C001", new_ref())
    hall.send(hall.host, ("ticket.no_show", {"ticket": "A001", "counter_id": "3", "staff_id": "1001", "recalls": 2}))
    assert "此号已过号" in phones.client.get(f"/t/{gone}").text
    hall.call("A002")
    hall.send(hall.host, ("ticket.transferred", {"ticket": "A002", "from_counter": "3", "to_category": "C",
                                                  "staff_id": "1001"}))
    # A002 now waits in C behind nobody who came later: C001 was issued after it.
    assert "您前面没有人在等候" in phones.client.get(f"/t/{moved}").text
    assert "前面还有 <strong>1</strong> 人" in phones.client.get(f"/t/{behind}").text


def test_the_page_says_when_the_halls_data_is_old(phones):
    hall = Hall(phones)
    ref = hall.issue("A001", new_ref())
    with phones.db.transaction() as session:
        session.execute(update(Unit).where(Unit.unit_id == hall.host.unit_id)
                        .values(last_seen=now_utc() - timedelta(seconds=90)))
    page = phones.client.get(f"/t/{ref}").text
    assert "大厅数据已超过1分钟未更新" in page and "请留意大厅叫号" in page


def test_strangers_learn_nothing_and_nothing_is_shared(phones):
    hall = Hall(phones)
    ref = hall.issue("A001", new_ref())
    unknown = phones.client.get(f"/t/{new_ref()}")
    malformed = phones.client.get("/t/1")
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.text == malformed.text and "未找到此排队号" in unknown.text
    page = phones.client.get(f"/t/{ref}")
    for answer in (page, unknown):
        assert "set-cookie" not in answer.headers
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
    # No staff member's id or name, no unit id on the page.
    assert "1001" not in page.text and hall.host.unit_id not in page.text
    # A dashboard session is neither needed nor made.
    assert phones.client.get("/phone-static/phone.css").status_code == 200


def test_requests_and_misses_are_limited_per_address(phones):
    hall = Hall(phones)
    ref = hall.issue("A001", new_ref())
    phones.app.state.public_limits = PublicLimits(requests_per_minute=5, misses_per_ten_minutes=2)
    assert [phones.client.get(f"/t/{ref}").status_code for _ in range(6)] == [200] * 5 + [429]
    phones.app.state.public_limits = PublicLimits(requests_per_minute=100, misses_per_ten_minutes=2)
    answers = [phones.client.get(f"/t/{new_ref()}").status_code for _ in range(3)]
    assert answers == [404, 404, 429]
    refused = phones.client.get(f"/t/{ref}")       # a guesser is refused even a right reference
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "访问过于频繁" in refused.text


def test_references_are_indexed_once_and_only_when_usable(phones):
    hall = Hall(phones)
    ref = hall.issue("A001", new_ref())
    hall.issue("A002", "short")                       # too short to be unguessable: not indexed
    hall.issue("A003", None)                          # a unit from before references
    other = Hall(phones, "other-hall")
    other.issue("Z009", ref)                          # another unit cannot take the ticket over
    with phones.db.transaction() as session:
        rows = session.execute(select(TicketRef.ref, TicketRef.unit_id, TicketRef.seq)).all()
    assert rows == [(ref, hall.host.unit_id, 1)]
    assert "A001" in phones.client.get(f"/t/{ref}").text
    assert phones.client.get("/t/short").status_code == 404


def test_calling_the_next_ticket_at_a_window_ends_the_last_one_there(phones):
    """A counter that is not connected to the centre sends no transaction.completed: as at the unit,
    the window's next call means the last citizen there was served."""
    hall = Hall(phones)
    first, _second = hall.issue("A001", new_ref()), hall.issue("A002", new_ref())
    hall.call("A001")
    hall.call("A002", counter="4")            # another window: A001 is still being served at 3
    assert "请到3号窗口" in phones.client.get(f"/t/{first}").text
    hall.issue("A003", new_ref())
    hall.call("A003")
    assert "业务已办结" in phones.client.get(f"/t/{first}").text


def test_the_per_address_allowance_can_be_raised_for_a_shared_address(monkeypatch):
    from centre.public.limits import REQUESTS_ENV, REQUESTS_PER_MINUTE

    monkeypatch.setenv(REQUESTS_ENV, "5000")
    assert PublicLimits().requests.max_failures == 5000
    for wrong in ("", "0", "-3", "lots"):
        monkeypatch.setenv(REQUESTS_ENV, wrong)
        assert PublicLimits().requests.max_failures == REQUESTS_PER_MINUTE

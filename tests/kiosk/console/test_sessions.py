"""The console's sessions and PIN lock on their own, on a clock the test moves."""
from __future__ import annotations

from kiosk.console.pins import FORGET_AFTER_S, LOCK_S, MAX_WRONG_PINS, PinLock
from kiosk.console.sessions import SESSION_LIFETIME_S, Sessions
from tests.kiosk.console.console_unit import Clock


def test_a_session_is_a_random_token_kept_only_as_a_digest_and_it_expires():
    clock = Clock()
    sessions = Sessions(monotonic=clock)
    token, session = sessions.start("1001", sign_in_seq=7)
    other, _ = sessions.start("1001", sign_in_seq=7)
    assert token != other and len(token) >= 40 and session.csrf != token
    assert token not in repr(sessions._by_digest)               # only its sha256 is kept
    assert sessions.get(token) == session and session.seconds_left(clock()) == int(SESSION_LIFETIME_S)
    assert sessions.get("guessed") is None and sessions.get(None) is None and sessions.get("x" * 10_000) is None
    clock.now += SESSION_LIFETIME_S - 1
    assert sessions.get(token) == session
    clock.now += 1
    assert sessions.get(token) is None and len(sessions) == 1    # expired, and forgotten on the way
    sessions.end(other)
    assert sessions.get(other) is None and len(sessions) == 0


def test_sessions_are_bounded_the_oldest_going_first():
    sessions = Sessions(limit=3, monotonic=Clock())
    tokens = [sessions.start(str(n), 1)[0] for n in range(5)]
    assert len(sessions) == 3
    assert [sessions.get(token) is not None for token in tokens] == [False, False, True, True, True]


def test_five_wrong_pins_lock_for_five_minutes_and_a_right_one_clears_the_count():
    clock = Clock()
    lock = PinLock(monotonic=clock)
    for _ in range(MAX_WRONG_PINS - 1):
        lock.failed("1001")
    assert lock.retry_after_s("1001") is None and lock.tries_left("1001") == 1
    lock.succeeded("1001")
    assert lock.tries_left("1001") == MAX_WRONG_PINS
    for _ in range(MAX_WRONG_PINS):
        lock.failed("1001")
    assert lock.retry_after_s("1001") == int(LOCK_S)
    assert lock.retry_after_s("1002") is None                    # per staff ID
    clock.now += LOCK_S - 0.5
    assert lock.retry_after_s("1001") == 1
    clock.now += 0.5
    assert lock.retry_after_s("1001") is None and lock.tries_left("1001") == MAX_WRONG_PINS


def test_old_wrong_pins_are_forgotten():
    clock = Clock()
    lock = PinLock(monotonic=clock)
    for _ in range(MAX_WRONG_PINS - 1):
        lock.failed("1001")
    clock.now += FORGET_AFTER_S
    lock.failed("1001")
    assert lock.retry_after_s("1001") is None and lock.tries_left("1001") == MAX_WRONG_PINS - 1

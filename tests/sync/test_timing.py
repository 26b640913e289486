"""Retry backoff: exponential from 1 s, full jitter, capped at 5 minutes."""
from __future__ import annotations

from datetime import datetime

from sync.timing import Backoff, wall_now


def test_backoff_doubles_from_one_second_with_full_jitter_and_caps_at_five_minutes():
    ceilings = Backoff(rng=lambda: 1.0)
    assert [ceilings.next_delay() for _ in range(12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    halves = Backoff(rng=lambda: 0.5)
    assert [halves.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    halves.reset()
    assert halves.next_delay() == 0.5
    many = Backoff(rng=lambda: 1.0)
    for _ in range(5000):
        delay = many.next_delay()
    assert delay == 300  # no overflow after days of failures


def test_wall_now_is_rfc3339_with_offset_and_milliseconds():
    now = wall_now()
    assert datetime.fromisoformat(now).utcoffset() is not None and len(now.split(".")[1]) == 3 + 6

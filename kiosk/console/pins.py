"""Checking a staff member's PIN on the console: against the roster's `pin_hash` (the centre's
bundle, else the config), with the lockout DESIGN.md asks for.

Five wrong PINs in a row lock that staff ID for five minutes (even the right PIN is refused
meanwhile, so a lock confirms nothing); a right PIN clears the count. The counts are in memory:
a restart of the unit clears them, which is no help to a guesser, who is still held to the unit's
per-address limit (kiosk.api.token_limit: wrong PINs count there like wrong tokens).

scrypt is slow on purpose (0.1 s here, more on a Pi) and takes 32 MiB: it runs in a worker
thread, one check at a time, so sign-ins never stall a key press on the event loop and a burst of
them cannot take the unit's memory.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Callable

from protocol.pins import verify_pin

MAX_WRONG_PINS = 5
LOCK_S = 5 * 60.0
# Wrong PINs older than this are forgotten, so a slip on Monday and four on Friday lock nobody.
FORGET_AFTER_S = 60 * 60.0
MAX_TRACKED = 1024


@dataclass
class _Failures:
    count: int
    last_at: float
    locked_until: float = float("-inf")


class PinLock:
    """Wrong PINs per staff ID and the locks they earn."""

    def __init__(self, max_wrong: int = MAX_WRONG_PINS, lock_s: float = LOCK_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_wrong = max_wrong
        self.lock_s = lock_s
        self._monotonic = monotonic
        self._by_staff: dict[str, _Failures] = {}

    def retry_after_s(self, staff_id: str) -> int | None:
        """Whole seconds until `staff_id` may try a PIN again; None when it may now."""
        failures = self._current(staff_id)
        if failures is None:
            return None
        left = failures.locked_until - self._monotonic()
        return max(1, math.ceil(left)) if left > 0 else None

    def tries_left(self, staff_id: str) -> int:
        failures = self._current(staff_id)
        return self.max_wrong - (failures.count if failures else 0)

    def failed(self, staff_id: str) -> None:
        now = self._monotonic()
        failures = self._current(staff_id)
        if failures is None:
            while len(self._by_staff) >= MAX_TRACKED:
                del self._by_staff[next(iter(self._by_staff))]
            failures = self._by_staff[staff_id] = _Failures(0, now)
        failures.count += 1
        failures.last_at = now
        if failures.count >= self.max_wrong:
            failures.locked_until = now + self.lock_s
            failures.count = 0    # after the lock, five more tries

    def succeeded(self, staff_id: str) -> None:
        self._by_staff.pop(staff_id, None)

    def _current(self, staff_id: str) -> _Failures | None:
        failures = self._by_staff.get(staff_id)
        if failures is None:
            return None
        now = self._monotonic()
        if now >= failures.locked_until and now - failures.last_at >= FORGET_AFTER_S:
            del self._by_staff[staff_id]
            return None
        return failures


class PinChecker:
    """One scrypt at a time, in a worker thread."""

    def __init__(self) -> None:
        self._one_at_a_time = asyncio.Semaphore(1)

    async def matches(self, pin: str, pin_hash: str) -> bool:
        async with self._one_at_a_time:
            return await asyncio.to_thread(verify_pin, pin, pin_hash)

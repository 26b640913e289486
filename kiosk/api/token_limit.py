"""Wrong API tokens, counted per client address: after MAX_FAILURES of them within one window of
WINDOW_S, that address is answered 429 `rate_limited` until its window ends.

The staff token is short enough to be typed, so unlike the centre's 256-bit tokens it could be
guessed by a device on the hall's LAN that tries for long enough; 20 guesses a minute per address
makes that hopeless. While an address is over the limit even the right token is refused, so a 429
never tells a right guess from a wrong one. Only requests to routes that need the token count
(/healthz does not). Memory stays bounded: at most MAX_ADDRESSES windows are kept, and the one
opened longest ago is forgotten first.
"""
from __future__ import annotations

import math
import time
from typing import Callable

MAX_FAILURES = 20
WINDOW_S = 60.0
MAX_ADDRESSES = 1024


class BadTokenLimit:
    """Fixed windows per address: the first failure opens one, MAX_FAILURES fill it."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 max_addresses: int = MAX_ADDRESSES, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._monotonic = monotonic
        self._windows: dict[str, tuple[float, int]] = {}   # address → (window opened at, failures)

    def __len__(self) -> int:
        return len(self._windows)

    def retry_after_s(self, address: str) -> int | None:
        """Whole seconds until `address` may present a token again; None when it may now."""
        window = self._current(address)
        if window is None or window[1] < self.max_failures:
            return None
        return max(1, math.ceil(window[0] + self.window_s - self._monotonic()))

    def failed(self, address: str) -> None:
        window = self._current(address)
        if window is None:
            while len(self._windows) >= self.max_addresses:
                del self._windows[next(iter(self._windows))]   # dicts keep insertion order
            self._windows[address] = (self._monotonic(), 1)
        else:
            self._windows[address] = (window[0], window[1] + 1)

    def _current(self, address: str) -> tuple[float, int] | None:
        window = self._windows.get(address)
        if window is not None and self._monotonic() >= window[0] + self.window_s:
            del self._windows[address]
            return None
        return window

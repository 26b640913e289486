"""Time helpers shared by the uploader and the bundle refresher: retry backoff and wall time."""
from __future__ import annotations

import random
from datetime import datetime
from typing import Callable

from protocol.times import rfc3339

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0


def wall_now() -> str:
    """Now as RFC 3339 with the local offset, as PROTOCOL.md wants every time."""
    return rfc3339(datetime.now().astimezone())


class Backoff:
    """Exponential backoff with full jitter: the n-th consecutive failure waits a uniformly random
    time in [0, min(cap, base·2^(n-1))]. Jitter keeps a hall's units from retrying in lockstep after
    the centre comes back."""

    def __init__(self, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S,
                 rng: Callable[[], float] = random.random) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng
        self.failures = 0

    def ceiling(self) -> float:
        """The longest wait the current failure count allows."""
        if self.failures == 0:
            return 0.0
        exponent = min(self.failures - 1, 62)  # 2**62 s is past any cap; avoids float overflow
        return min(self.cap_s, self.base_s * 2.0 ** exponent)

    def next_delay(self) -> float:
        """Count one more failure and pick how long to wait before the next try."""
        self.failures += 1
        return self._rng() * self.ceiling()

    def reset(self) -> None:
        self.failures = 0

"""How much one client address may ask of the public pages (DESIGN: rate-limited, no enumeration).

Every request counts against a per-minute allowance; a reference the centre does not know counts
again against a much smaller one, so guessing references (hopeless anyway at 128 random bits) is
also slow and cheap to refuse. Phones on mobile data share addresses behind carrier NAT, so the
allowance is far above what one phone polling every 10 s asks. Counted per process, like the
other limits (centre/web/ratelimit.py)."""
from __future__ import annotations

import os
import time
from typing import Callable

from centre.dashboard.accounts import client_key
from centre.web.ratelimit import FailureLimiter

REQUESTS_PER_MINUTE = 600
MISSES_PER_TEN_MINUTES = 30
# A deployment where many phones share an address (one hall's Wi-Fi behind NAT) raises it here.
REQUESTS_ENV = "CENTRE_PUBLIC_REQUESTS_PER_MINUTE"


def allowed_requests_per_minute() -> int:
    text = os.environ.get(REQUESTS_ENV, "")
    return int(text) if text.isdecimal() and 0 < int(text) <= 10_000_000 else REQUESTS_PER_MINUTE


class PublicLimits:
    def __init__(self, requests_per_minute: int | None = None,
                 misses_per_ten_minutes: int = MISSES_PER_TEN_MINUTES,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.requests = FailureLimiter(requests_per_minute or allowed_requests_per_minute(), 60.0,
                                       monotonic=monotonic)
        self.misses = FailureLimiter(misses_per_ten_minutes, 600.0, monotonic=monotonic)

    @staticmethod
    def client(address: str | None) -> str:
        return client_key(address or "unknown")

    def admit(self, client: str) -> int | None:
        """None if `client` may be answered (the request is counted), else seconds to wait."""
        retry_after = self.misses.retry_after_s(client) or self.requests.retry_after_s(client)
        if retry_after is None:
            self.requests.failed(client)
        return retry_after

    def missed(self, client: str) -> None:
        self.misses.failed(client)

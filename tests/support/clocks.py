"""A kiosk.clock.Clock for tests: its wall clock can be stepped and its monotonic clock moves only
when told (so a rating window's end, or a burst's quiet, is reached without waiting for it)."""
from __future__ import annotations

from datetime import datetime, timedelta

from protocol.times import rfc3339


class SteppedClock:
    def __init__(self, boot_id: str, *, synced: bool) -> None:
        self.boot_id = boot_id
        self.synced = synced
        self.wall_offset = timedelta(0)
        self.mono_s = 1000.0
        self._ticks = 0

    def wall_time(self) -> str:
        return rfc3339(datetime.now().astimezone() + self.wall_offset)

    def monotonic(self) -> float:
        return self.mono_s

    def mono_ns(self) -> int:
        # Strictly increasing, as CLOCK_MONOTONIC is between two events of one boot.
        self._ticks += 1
        return int(self.mono_s * 1e9) + self._ticks

    def clock_synced(self) -> bool:
        return self.synced

"""Turning raw key edges into presses: software debounce and burst detection (pure, no I/O).

gpiozero's MockPin ignores bounce_time and real contacts chatter, so debouncing is ours. A press
closer than `debounce_s` to the previous raw edge on any key is the same press (a finger that
brushes two keys is one decision). A burst (more than `burst_presses` within `burst_window_s`:
chatter, a child hammering the keys) is reported once and then swallowed until the keys go quiet,
so misuse is visible without letting it flood the log.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum


class PressVerdict(Enum):
    PRESS = "press"          # a real press: handle it
    BOUNCE = "bounce"        # same press as the previous edge: ignore silently
    BURST_START = "burst"    # this press starts a burst: log misuse(burst) once
    IN_BURST = "in_burst"    # part of an ongoing burst: ignore silently


@dataclass
class PressFilter:
    debounce_s: float
    burst_presses: int
    burst_window_s: float

    def __post_init__(self) -> None:
        self._last_edge = float("-inf")
        self._recent: deque[float] = deque()
        self._in_burst = False

    def classify(self, now: float) -> PressVerdict:
        previous, self._last_edge = self._last_edge, now
        if now - previous < self.debounce_s:
            return PressVerdict.BOUNCE
        recent = self._recent
        while recent and now - recent[0] >= self.burst_window_s:
            recent.popleft()
        if self._in_burst and not recent:
            self._in_burst = False
        recent.append(now)
        if self._in_burst:
            return PressVerdict.IN_BURST
        if len(recent) > self.burst_presses:
            self._in_burst = True
            return PressVerdict.BURST_START
        return PressVerdict.PRESS

"""Turning raw key edges into presses: software debounce and burst detection (pure, no I/O).

gpiozero's MockPin ignores bounce_time and real contacts chatter, so debouncing is ours. A press
closer than `debounce_s` to the previous raw edge on any key is the same press (a finger that
brushes two keys is one decision). A burst (more than `burst_presses` within `burst_window_s`:
chatter, a child hammering the keys) is swallowed from the press that reveals it until the keys
have been quiet for `burst_window_s`; the machine then records it once, with how many presses it
swallowed, so misuse is visible without letting it flood the log. A burst that goes on for more
than `BURST_REPORT_S` (a key that chatters for good) is recorded that often while it lasts.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

BURST_REPORT_S = 60.0


class PressVerdict(Enum):
    PRESS = "press"          # a real press: handle it
    BOUNCE = "bounce"        # same press as the previous edge: ignore silently
    BURST_START = "burst"    # this press reveals a burst: it and the burst's later presses are dropped
    IN_BURST = "in_burst"    # part of an ongoing burst: dropped


@dataclass
class Burst:
    started_at: float        # the first press within the window that revealed the burst
    reported_from: float     # when the part not yet recorded began
    dropped: int = 0         # presses swallowed since then (the revealing one included)


class PressFilter:
    def __init__(self, debounce_s: float, burst_presses: int, burst_window_s: float) -> None:
        self.debounce_s = debounce_s
        self.burst_presses = burst_presses
        self.burst_window_s = burst_window_s
        self._last_edge = float("-inf")
        self._recent: deque[float] = deque()
        self.burst: Burst | None = None

    def classify(self, now: float) -> PressVerdict:
        """The verdict on an edge at `now`. Ask `end_burst(now)` first: a burst whose keys went
        quiet before this edge is over, and this edge may be a real press again."""
        previous, self._last_edge = self._last_edge, now
        if now - previous < self.debounce_s:
            return PressVerdict.BOUNCE
        recent = self._recent
        while recent and now - recent[0] >= self.burst_window_s:
            recent.popleft()
        recent.append(now)
        if self.burst is not None:
            self.burst.dropped += 1
            return PressVerdict.IN_BURST
        if len(recent) > self.burst_presses:
            self.burst = Burst(started_at=recent[0], reported_from=now, dropped=1)
            return PressVerdict.BURST_START
        return PressVerdict.PRESS

    def burst_due(self) -> float | None:
        """When the ongoing burst is next to be recorded: its end if the keys stay quiet, or its
        report time if it goes on that long."""
        if self.burst is None:
            return None
        return min(self._recent[-1] + self.burst_window_s, self.burst.reported_from + BURST_REPORT_S)

    def end_burst(self, now: float) -> Burst | None:
        """The burst (or its part so far) due to be recorded at `now`, if any; an ended burst is
        forgotten, a long one goes on counting afresh."""
        burst, due = self.burst, self.burst_due()
        if burst is None or due is None or now < due:
            return None
        if now >= self._recent[-1] + self.burst_window_s:
            self.burst = None
        else:
            self.burst = Burst(started_at=burst.started_at, reported_from=now)
        return burst

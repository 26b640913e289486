"""A one-line textual progress bar for `kiosk sync --once` (stderr), with no dependency.

On a terminal it redraws in place, at most ten times a second; into a file or a pipe (a log, a
test) it stays silent until the end and then writes one line, so logs never fill with \\r frames.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

BAR_WIDTH = 30
REDRAW_INTERVAL_S = 0.1


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty() if live is None else live
        self._clock = clock
        self._drawn_at = float("-inf")
        self._last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        self._last = (done, total)
        now = self._clock()
        if self._live and (now - self._drawn_at >= REDRAW_INTERVAL_S or done >= total):
            self._drawn_at = now
            self._stream.write("\r" + render(done, total))
            self._stream.flush()

    def finish(self) -> None:
        if self._last is None:
            return
        line = render(*self._last)
        self._stream.write(("\r" + line if self._live else line) + "\n")
        self._stream.flush()


def render(done: int, total: int) -> str:
    fraction = 1.0 if total <= 0 else min(1.0, done / total)
    filled = round(fraction * BAR_WIDTH)
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} events ({fraction:.0%})"

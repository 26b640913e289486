"""The progress bar `kiosk sync --once` draws on stderr."""
from __future__ import annotations

import io

from sync.progress import ProgressBar, render


def test_progress_bar_renders_and_redraws_only_on_a_terminal():
    assert render(0, 0) == "[" + "#" * 30 + "] 0/0 events (100%)"
    assert render(250, 1000) == "[" + "#" * 8 + "-" * 22 + "] 250/1000 events (25%)"
    quiet = io.StringIO()
    bar = ProgressBar(quiet)  # StringIO is not a tty
    bar(10, 100)
    bar(100, 100)
    assert quiet.getvalue() == ""
    bar.finish()
    assert quiet.getvalue() == render(100, 100) + "\n"

    live = io.StringIO()
    ticks = iter([0.0, 0.01, 0.5, 0.6])
    bar = ProgressBar(live, live=True, clock=lambda: next(ticks))
    bar(1, 100)    # drawn
    bar(2, 100)    # too soon after the last frame: skipped
    bar(50, 100)   # drawn
    bar(100, 100)  # the end is always drawn
    assert live.getvalue().count("\r") == 3 and "2/100" not in live.getvalue()

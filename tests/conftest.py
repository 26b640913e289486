"""Shared test setup. SDL must be headless before pygame opens anything: no window, no sound
card, on a laptop, in CI and on a Pi alike."""
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"


def pytest_xdist_auto_num_workers(config) -> int:
    """`pytest -n auto`: two workers a core. Most of the suite's time is waiting, not computing:
    real unit and centre processes starting, timeouts and windows running out, a browser loading a
    page; a 2-core machine ran 975 tests in 6 min 26 s with two workers and 5 min 11 s with four."""
    return min(8, 2 * (os.cpu_count() or 1))

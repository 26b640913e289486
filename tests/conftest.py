"""Shared test setup. SDL must be headless before pygame opens anything: no window, no sound
card, on a laptop, in CI and on a Pi alike."""
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

"""Percentiles for every benchmark. Kept apart from bench/_common.py, whose HTTP client and centre
helpers would add to the RSS that bench/press_latency.py measures in its own process."""
from __future__ import annotations


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]

"""Percentiles of timing samples (milliseconds), the same interpolation as storage/facts.py."""

from __future__ import annotations

import math
from collections.abc import Sequence

PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = (len(sorted_values) - 1) * p
    low, high = math.floor(rank), math.ceil(rank)
    value = sorted_values[low]
    return value + (sorted_values[high] - value) * (rank - low)


def summarize(samples_ms: Sequence[float]) -> dict:
    """n, p50, p95, p99, min, max and mean of `samples_ms`, rounded to microseconds."""
    values = sorted(samples_ms)
    figures = {name: percentile(values, p) for name, p in PERCENTILES.items()}
    figures.update(min=values[0], max=values[-1], mean=sum(values) / len(values))
    return {"n": len(values), **{k: round(v, 3) for k, v in figures.items()}}


def ratios(figure: dict, floor: dict) -> dict:
    """figure / floor for each percentile (None when the floor is zero)."""
    return {name: (round(figure[name] / floor[name], 2) if floor[name] > 0 else None)
            for name in PERCENTILES}

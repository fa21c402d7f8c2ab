"""Small statistics helpers: medians of repetitions, percentiles, PASS/MISS marks."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["mark", "median", "percentile", "ratio"]


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear between closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is 0 or NaN."""
    if b == 0 or math.isnan(b) or math.isnan(a):
        return math.nan
    return a / b


def mark(passed: bool | None) -> str:
    """``PASS``, ``MISS`` or ``n/a`` (not measured)."""
    if passed is None:
        return "n/a"
    return "PASS" if passed else "MISS"

"""Small statistics helpers: medians of repetitions, percentiles, PASS/MISS marks."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

__all__ = ["mark", "median", "percentile", "ratio", "steady_rate"]


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


def steady_rate(done: Iterable[tuple[float, int]], first: int) -> float:
    """Pairs per second after the first ``first`` pairs completed; NaN if nothing follows.

    ``done`` holds ``(seconds since start, pairs)``. With ``first`` one
    window's worth of pairs, this is the rate a rolling window sustains, the
    same whether a pacer sends each window's share at its start or spreads it
    evenly: the rate runs from the moment the first window's worth is done to
    the last completion, and everything completed in between counts.
    """
    ordered = sorted(done)
    count = 0
    for index, (t, pairs) in enumerate(ordered):
        count += pairs
        if count >= first:
            rest = ordered[index + 1 :]
            if not rest or rest[-1][0] <= t:
                return math.nan
            return sum(p for _, p in rest) / (rest[-1][0] - t)
    return math.nan

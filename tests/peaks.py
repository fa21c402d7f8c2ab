"""Measuring peaks in tests: sends in any window, and the highest value a gauge reached."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

__all__ = ["Peak", "peak_in_window", "watch_peak"]


def peak_in_window(times: list[float], per: float) -> int:
    """The most send times that fall in any closed span of ``per`` seconds."""
    times = sorted(times)
    return max(
        (bisect.bisect_right(times, t + per) - i for i, t in enumerate(times)),
        default=0,
    )


class Peak:
    """The highest value seen so far (``value``)."""

    value = 0


@asynccontextmanager
async def watch_peak(read: Callable[[], int], interval: float = 0.0) -> AsyncIterator[Peak]:
    """Sample ``read()`` every ``interval`` seconds (every loop pass for 0) while
    the block runs; the yielded :class:`Peak` holds the highest value seen."""
    peak = Peak()

    async def watch() -> None:
        while True:
            peak.value = max(peak.value, read())
            await asyncio.sleep(interval)

    watcher = asyncio.ensure_future(watch())
    try:
        yield peak
    finally:
        watcher.cancel()

"""Rate limiting and arrival bookkeeping, on the event loop's clock.

HubSpot's ten-secondly limit is a true rolling window: no span of the window's
length may hold more than the limit. `RollingWindowLimiter` enforces exactly
that with a deque of admission times; `ArrivalLog` records every arrival and
keeps the busiest window seen (``peak_window``) so tests can check a client's
pacing independently of what the limiter admitted.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Sequence

__all__ = ["ArrivalLog", "DailyCounter", "RollingWindowLimiter", "peak_in_window"]


def peak_in_window(times: Sequence[float], window: float) -> int:
    """The largest number of `times` (sorted ascending) inside any span ``[t, t + window)``."""
    peak = 0
    start = 0
    for end, now in enumerate(times):
        while now - times[start] >= window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


class ArrivalLog:
    """Every request arrival time, plus the busiest rolling window so far."""

    __slots__ = ("_peak", "_recent", "_times", "_window")

    def __init__(self, window: float) -> None:
        self._times = array("d")
        self._recent: deque[float] = deque()
        self._window = window
        self._peak = 0

    def __repr__(self) -> str:
        return (
            f"<ArrivalLog arrivals={len(self._times)} window={self._window}s "
            f"in_window={len(self._recent)} peak={self._peak}>"
        )

    def __len__(self) -> int:
        return len(self._times)

    @property
    def peak(self) -> int:
        """Most arrivals seen inside one window span."""
        return self._peak

    @property
    def window(self) -> float:
        """The span ``peak`` is measured over, in seconds."""
        return self._window

    def record(self, now: float) -> None:
        """Note one arrival at loop time `now` (non-decreasing between calls)."""
        self._times.append(now)
        recent = self._recent
        window = self._window
        while recent and now - recent[0] >= window:
            recent.popleft()
        recent.append(now)
        if len(recent) > self._peak:
            self._peak = len(recent)

    def set_window(self, window: float) -> None:
        """Measure ``peak`` over a new span, recomputed over all arrivals so far."""
        if window == self._window:
            return
        self._window = window
        self._peak = peak_in_window(self._times, window)
        self._recent = deque(t for t in self._times if self._times[-1] - t < window)

    def times(self) -> list[float]:
        """All arrival times, in order."""
        return self._times.tolist()

    def clear(self) -> None:
        """Forget every arrival."""
        self._times = array("d")
        self._recent.clear()
        self._peak = 0


class RollingWindowLimiter:
    """At most `limit` admissions inside any span of `window` seconds."""

    __slots__ = ("_admitted", "count_rejected", "limit", "window")

    def __init__(self, limit: int, window: float, *, count_rejected: bool = False) -> None:
        self.limit = limit
        self.window = window
        self.count_rejected = count_rejected
        self._admitted: deque[float] = deque()

    def __repr__(self) -> str:
        return f"<RollingWindowLimiter {len(self._admitted)}/{self.limit} per {self.window}s>"

    def _expire(self, now: float) -> None:
        admitted = self._admitted
        window = self.window
        while admitted and now - admitted[0] >= window:
            admitted.popleft()

    def try_admit(self, now: float) -> bool:
        """Admit one request arriving at `now`, or refuse it when the window is full."""
        self._expire(now)
        if len(self._admitted) >= self.limit:
            if self.count_rejected:
                self._admitted.append(now)
            return False
        self._admitted.append(now)
        return True

    def remaining(self, now: float) -> int:
        """Admissions still possible at `now`."""
        self._expire(now)
        return max(0, self.limit - len(self._admitted))

    def clear(self) -> None:
        """Forget every admission."""
        self._admitted.clear()


class DailyCounter:
    """A plain count of admitted requests against a daily allowance (no midnight reset)."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def __repr__(self) -> str:
        return f"<DailyCounter {self.used}/{self.limit}>"

    @property
    def exhausted(self) -> bool:
        """True once the allowance is used up."""
        return self.limit is not None and self.used >= self.limit

    @property
    def remaining(self) -> int:
        """Requests left today (0 when unlimited is not meaningful; check `limit`)."""
        return 0 if self.limit is None else max(0, self.limit - self.used)

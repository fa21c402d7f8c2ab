"""The rolling-window primitive: one client's own send log, its margin and its token bucket.

HubSpot's limit is a *rolling* window: any span of ``per`` seconds may hold at
most ``requests`` requests, counted when they arrive (docs/hubspot.md, "Rate
limits"). A :class:`Window` logs its last ``requests`` send times, and that
log is the guarantee: a request may leave once fewer than ``share`` were sent
in the last ``per + margin`` seconds. In front of it stands an
:class:`aiolimiter.AsyncLimiter`, a token bucket of capacity ``burst``
refilling at ``requests / per``: by default the whole window (it never holds
what the log admits); smaller, it spreads the traffic. A bucket alone would
let twice the limit into one rolling window; the log bounds every window.

``margin`` allows for network jitter: two requests sent one window apart may
*arrive* less than a window apart by the spread of their one-way trips. Unless
a :class:`RateLimit` gives one, it is the spread of recent round trips (which
bounds that) plus a small floor; before any, 2.5 % of the window (<= 0.25 s).
"""

from __future__ import annotations

import asyncio
import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from hubassoc._validation import check_seconds

__all__ = ["FREE_TIER", "MIN_MARGIN", "RateLimit", "Signal", "Window"]

#: The smallest derived margin: covers timer granularity and scheduling noise.
MIN_MARGIN = 0.005
#: Round-trip samples the derived margin is computed from (several windows' worth,
#: so that one calm window does not shrink it below what a burst needs).
_RTT_SAMPLES = 512


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A rolling-window rate limit: at most ``requests`` in any ``per`` seconds.

    Attributes:
        requests: requests allowed in any window (HubSpot: 100, 190, 250 or
            110 for public apps).
        per: the window, in seconds (HubSpot: 10).
        margin: seconds added to the window to allow for arrival jitter; by
            default (``None``) derived from the spread of observed round trips.
        burst: the most requests that may leave at once: the capacity of the
            token bucket, which refills at ``requests / per``. By default
            (``None``) the whole window, so an idle client sends a window's
            worth at once; a smaller burst spreads the traffic.

    Raises:
        TypeError: ``requests`` or ``burst`` is not an int, ``per`` or
            ``margin`` not a number.
        ValueError: ``requests`` < 1, ``per`` <= 0, ``margin`` < 0, or
            ``burst`` not between 1 and ``requests``.
    """

    requests: int
    per: float
    margin: float | None = None
    burst: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise TypeError(f"requests must be an int, not {self.requests!r}")
        if self.requests < 1:
            raise ValueError(f"requests must be >= 1, not {self.requests!r}")
        check_seconds(self.per, "per", positive=True)
        if self.margin is not None:
            check_seconds(self.margin, "margin")
        if self.burst is not None:
            if isinstance(self.burst, bool) or not isinstance(self.burst, int):
                raise TypeError(f"burst must be an int, not {self.burst!r}")
            if not 1 <= self.burst <= self.requests:
                raise ValueError(
                    f"burst must be between 1 and requests ({self.requests}), not {self.burst!r}"
                )

    @property
    def initial_margin(self) -> float:
        """The margin before any round trip is observed: the given one, or 2.5 % (<= 0.25 s)."""
        if self.margin is not None:
            return self.margin
        return min(0.25, 0.025 * self.per)

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"190/10"`` (requests per seconds).

        Raises:
            ValueError: the text is not ``REQUESTS/SECONDS``.
        """
        requests, sep, per = text.partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(requests), float(per))
        except (TypeError, ValueError):
            raise ValueError(
                f"rate limit {text!r} is not REQUESTS/SECONDS, e.g. '190/10'"
            ) from None


#: HubSpot's Free and Starter tier: 100 requests per rolling 10 seconds.
FREE_TIER = RateLimit(100, 10.0)


class Window:
    """One client's rolling window under ``limit``: the send log, the margin, the bucket.

    The log holds send times in sending order (so sorted) and at most
    ``limit.requests`` of them; it may hold slots reserved in the near future
    (a shared budget's).
    """

    __slots__ = ("_margin", "_rtts", "bucket", "limit", "sent")

    def __init__(self, limit: RateLimit, previous: Window | None = None) -> None:
        self.limit = limit
        burst = limit.burst or limit.requests
        # Capacity `burst`, refilling at requests/per (aiolimiter's rate is
        # max_rate / time_period).
        #: The token bucket; ``has_capacity()`` is whether a token is ready.
        self.bucket = AsyncLimiter(burst, burst * limit.per / limit.requests)
        old_sent = previous.sent if previous is not None else ()
        #: Send times, oldest first.
        self.sent: deque[float] = deque(old_sent, maxlen=limit.requests)
        self._rtts: deque[float] = (
            previous._rtts if previous is not None else deque(maxlen=_RTT_SAMPLES)
        )
        self._margin: float | None = None

    def __repr__(self) -> str:
        limit = self.limit
        return (
            f"<Window {limit.requests}/{limit.per:g}s margin={self.margin * 1000:.1f}ms "
            f"sent_in_log={len(self.sent)}>"
        )

    @property
    def margin(self) -> float:
        """Seconds added to the window for arrival jitter (see the module docstring)."""
        cached = self._margin
        if cached is None:
            limit, rtts = self.limit, self._rtts
            if limit.margin is not None:
                cached = limit.margin
            elif len(rtts) < 2:
                cached = limit.initial_margin
            else:
                # Never more than a tenth of the window, so one slow answer
                # cannot cost the window's end.
                cached = min(MIN_MARGIN + max(rtts) - min(rtts), 0.1 * limit.per)
            self._margin = cached
        return cached

    @property
    def span(self) -> float:
        """The window plus the margin: how far apart ``requests`` sends must be."""
        return self.limit.per + self.margin

    def observe_rtt(self, seconds: float) -> None:
        """Note one round trip (from the send time to the answer)."""
        self._rtts.append(seconds)
        self._margin = None

    def count(self, after: float, until: float) -> int:
        """Sends in ``(after, until]`` (by bisection: the log is sorted)."""
        sent = self.sent
        return bisect_right(sent, until) - bisect_right(sent, after)

    def in_window(self, now: float) -> int:
        """Sends in the window ending at ``now`` (``per + margin`` seconds)."""
        return self.count(now - self.span, math.inf)

    def free_at(self, share: int) -> float:
        """The earliest time one more request may leave with at most ``share`` sends
        per window (0.0: any time): the send ``share`` places back must be a full
        window (plus the margin) ago."""
        sent = self.sent
        if len(sent) < share:
            return 0.0
        return sent[-share] + self.span

    def record(self, at: float) -> float:
        """Log a send at ``at``; return the logged time (distinct from the last)."""
        sent = self.sent
        if sent and at <= sent[-1]:
            # Send times name requests (observe() gets one back): keep them distinct.
            at = sent[-1] + 1e-9
        sent.append(at)
        return at


class Signal:
    """Wakes whoever waits when something they wait on may have changed."""

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None

    def fire(self) -> None:
        """Wake every waiter."""
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)

    async def wait(self, within: float) -> bool:
        """Wait at most ``within`` seconds for :meth:`fire`; return whether it came."""
        future = self._future
        if future is None or future.done():
            future = self._future = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(future), within)
        except TimeoutError:
            return False
        return True

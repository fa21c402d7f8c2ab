"""Pacing requests under HubSpot's rolling window, so that HubSpot never answers 429.

HubSpot's ten-second limit is a *rolling* window: any span of ``per`` seconds
may hold at most ``requests`` requests, counted when they arrive. A token
bucket of ``requests`` per ``per`` with a full burst lets twice that into one
window (a full burst at the end of one period, another at the start of the
next). So the :class:`Pacer` combines two things:

* an :class:`aiolimiter.AsyncLimiter` that spreads requests out at the
  window's rate with only a small burst, so traffic is smooth; and
* a log of the last ``requests`` send times, which holds any request that
  would make ``requests + 1`` sends within ``per + margin`` seconds. This is
  the guarantee: no span of ``per`` seconds ever holds more than ``requests``.

``margin`` allows for network jitter: two requests sent exactly one window
apart may *arrive* less than a window apart.

In adaptive mode (``rate_limit=None`` on the client) the pacer starts at the
Free tier (100 per 10 s), adopts what HubSpot advertises in
``X-HubSpot-RateLimit-Max`` and ``-Interval-Milliseconds``, and, when
``-Remaining`` shows other processes of the same app using the window, lowers
its own share to what is left. A rolling-window 429 pauses the whole pacer;
a DAILY 429 makes every later :meth:`Pacer.acquire` fail at once.

All time comes from the running loop, so tests drive the pacer on a virtual
clock.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from hubassoc._errors import DailyLimitError

__all__ = ["FREE_TIER", "Pacer", "RateLimit"]

logger = logging.getLogger("hubassoc")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A rolling-window rate limit: at most ``requests`` in any ``per`` seconds.

    Attributes:
        requests: requests allowed in any window (HubSpot: 100, 190, 250 or
            110 for public apps).
        per: the window, in seconds (HubSpot: 10).
        margin: seconds added to the window to allow for arrival jitter; by
            default 2.5 % of the window, at most 0.25 s.

    Raises:
        ValueError: ``requests`` < 1, ``per`` <= 0 or ``margin`` < 0.
    """

    requests: int
    per: float
    margin: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise TypeError(f"requests must be an int, not {self.requests!r}")
        if self.requests < 1:
            raise ValueError(f"requests must be >= 1, not {self.requests!r}")
        if not (isinstance(self.per, int | float) and math.isfinite(self.per) and self.per > 0):
            raise ValueError(f"per must be a positive number of seconds, not {self.per!r}")
        if self.margin is not None and not self.margin >= 0:
            raise ValueError(f"margin must be >= 0, not {self.margin!r}")

    @property
    def jitter_margin(self) -> float:
        """The margin in force: the given one, or the default for this window."""
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

# Share of the window at which -Remaining makes the adaptive pacer look at
# who else is using the window.
_LOW_REMAINING = 0.25


class Pacer:
    """Decides when each request may leave; see the module docstring.

    ``Pacer(None)`` does not pace at all (it still stops at the daily limit);
    ``Pacer(limit)`` holds to ``limit``; ``Pacer(None, adaptive=True)`` starts
    at :data:`FREE_TIER` and follows the server's headers.
    """

    __slots__ = (
        "_adaptive",
        "_fifo",
        "_heard_headers",
        "_limit",
        "_paused_until",
        "_sent",
        "_share",
        "_smoother",
        "daily_error",
        "pauses",
    )

    def __init__(self, limit: RateLimit | None, *, adaptive: bool = False) -> None:
        self._adaptive = adaptive
        self._heard_headers = False
        self._limit: RateLimit | None = None
        self._smoother: AsyncLimiter | None = None
        self._sent: deque[float] = deque()
        self._share = 0  # requests we may send per window (< limit when sharing the app)
        self._paused_until = 0.0
        #: The DAILY 429 that stopped this pacer, if one did (read on every
        #: coalesced call, so a plain attribute rather than a property).
        self.daily_error: DailyLimitError | None = None
        # One acquirer at a time, in arrival order: requests leave in FIFO order.
        self._fifo = asyncio.Lock()
        #: How many times a 429 paused the pacer.
        self.pauses = 0
        if limit is None and adaptive:
            limit = FREE_TIER
        if limit is not None:
            self._set_limit(limit)

    def __repr__(self) -> str:
        if self._limit is None:
            state = "unlimited"
        else:
            state = (
                f"{self._limit.requests}/{self._limit.per:g}s, share={self._share}, "
                f"sent_in_log={len(self._sent)}"
            )
        if self.daily_error is not None:
            state += ", daily limit reached"
        mode = "adaptive" if self._adaptive else "fixed"
        return f"<Pacer {mode} [{state}]>"

    @property
    def limit(self) -> RateLimit | None:
        """The rate limit in force, or ``None`` when not pacing."""
        return self._limit

    @property
    def share(self) -> int:
        """Requests this pacer lets out per window (the limit, less others' use)."""
        return self._share

    def _set_limit(self, limit: RateLimit) -> None:
        self._limit = limit
        self._share = limit.requests
        span = limit.per + limit.jitter_margin
        # A small burst keeps traffic smooth; the log below is the guarantee.
        burst = max(1, min(10, limit.requests // 20))
        self._smoother = AsyncLimiter(burst, burst * span / limit.requests)
        sent = self._sent
        self._sent = deque(sent, maxlen=limit.requests)

    async def acquire(self) -> float:
        """Wait until one request may leave; return the loop time it leaves at.

        Raises:
            DailyLimitError: the daily limit was reached earlier.
        """
        loop = asyncio.get_running_loop()
        if self.daily_error is not None:
            raise self.daily_error
        if self._limit is None:
            # Not pacing, but a 429 still holds everybody for its pause.
            now = loop.time()
            while self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                now = loop.time()
            return now
        async with self._fifo:
            smoothed_under: RateLimit | None = None
            while True:
                if self.daily_error is not None:
                    raise self.daily_error
                limit, smoother = self._limit, self._smoother
                assert limit is not None and smoother is not None
                if smoothed_under is not limit:
                    # Once per limit: a new limit (adopted while we waited) has a new smoother.
                    await smoother.acquire()
                    smoothed_under = limit
                    continue
                now = loop.time()
                wait_until = self._paused_until
                share, sent = self._share, self._sent
                if len(sent) >= share:
                    # The send `share` places back must be a full window ago.
                    wait_until = max(wait_until, sent[-share] + limit.per + limit.jitter_margin)
                if wait_until <= now:
                    sent.append(now)
                    return now
                await asyncio.sleep(wait_until - now)

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a rolling-window 429)."""
        until = asyncio.get_running_loop().time() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1

    def stop_for_the_day(self, error: DailyLimitError) -> None:
        """Fail every later :meth:`acquire` with ``error`` (after a DAILY 429)."""
        self.daily_error = error

    def observe(self, sent_at: float, headers: Mapping[str, str]) -> None:
        """Learn from a response's ``X-HubSpot-RateLimit-*`` headers.

        ``sent_at`` is what :meth:`acquire` returned for the request.
        """
        if not self._adaptive:
            return
        max_text = headers.get("X-HubSpot-RateLimit-Max")
        if max_text is None:
            if not self._heard_headers and self._limit is not None:
                self._heard_headers = True  # say it once
                logger.info(
                    "the server sends no X-HubSpot-RateLimit-* headers: pacing stays at "
                    "%d requests per %gs; pass rate_limit=RateLimit(...) to set it, or "
                    "rate_limit=False for a server without limits",
                    self._limit.requests,
                    self._limit.per,
                )
            return
        self._heard_headers = True
        try:
            requests = int(max_text)
            interval_text = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
            per = int(interval_text) / 1000 if interval_text else None
            remaining_text = headers.get("X-HubSpot-RateLimit-Remaining")
            remaining = int(remaining_text) if remaining_text is not None else None
        except ValueError:
            return  # a malformed header teaches nothing
        limit = self._limit
        if limit is None:
            return
        if requests >= 1 and (
            requests != limit.requests or (per is not None and per > 0 and per != limit.per)
        ):
            self._set_limit(RateLimit(requests, per if per and per > 0 else limit.per))
            limit = self._limit
            assert limit is not None
        if remaining is None:
            return
        if remaining > limit.requests * _LOW_REMAINING:
            self._share = limit.requests
            return
        # What the server had counted when our request arrived is our own sends
        # of the window before it plus everybody else's; what is left to us is
        # our own count plus what remains.
        window_start = sent_at - limit.per
        own = sum(1 for t in self._sent if window_start < t <= sent_at)
        self._share = max(1, min(limit.requests, own + remaining))

    def observe_daily_remaining(self, headers: Mapping[str, str]) -> bool:
        """Whether ``X-HubSpot-RateLimit-Daily-Remaining`` says the day's budget is spent."""
        text = headers.get("X-HubSpot-RateLimit-Daily-Remaining")
        if text is None:
            return False
        try:
            return int(text) <= 0
        except ValueError:
            return False

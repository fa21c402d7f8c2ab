"""Pacing requests under HubSpot's rate limits, so that HubSpot never answers 429.

The :class:`Pacer` is what the transport talks to (:meth:`~Pacer.acquire`
before each request; :meth:`~Pacer.observe`, :meth:`~Pacer.failed` or
:meth:`~Pacer.rate_limited` after it) and alone reads the rate-limit headers.
It is built at construction from :class:`~hubassoc._window.Window` (the
rolling-window primitive), a local policy (:class:`Unpaced`,
:class:`LocalPacing` for a fixed :class:`RateLimit`, or
:class:`~hubassoc._local_pacing.AdaptivePacing` for limits learned from the
headers), optionally :class:`~hubassoc._shared_pacing.SharedPacing` around it
(one window for every process on a :class:`hubassoc.RedisBudget`), and
:class:`~hubassoc._holds.Holds` (the pause, the daily stop, the daily budget).
All time comes from the running loop, so tests drive it on a virtual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hubassoc._errors import DailyLimitError
from hubassoc._events import Emitter, RateLimited
from hubassoc._holds import Holds, daily_remaining, daily_spent, seconds_to_midnight
from hubassoc._local_pacing import AdaptivePacing, LocalPacing, Unpaced
from hubassoc._shared_pacing import SharedPacing
from hubassoc._window import FREE_TIER, MIN_MARGIN, RateLimit

if TYPE_CHECKING:
    from hubassoc._redis_budget import RedisBudget

__all__ = ["FREE_TIER", "MIN_MARGIN", "Pacer", "PacingView", "RateLimit"]

_HEADER_SAYS = "X-HubSpot-RateLimit-Daily-Remaining: 0"


class PacingView:
    """A read-only look at a client's pacing: the limit in force, the window, pauses.

    Returned by :attr:`AssociationsClient.pacing`; it changes as the client
    learns, and changing it is not possible.
    """

    __slots__ = ("_pacer",)

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer

    def __repr__(self) -> str:
        pacer = self._pacer
        state = pacer._policy.describe()
        if self.daily_limit_reached:
            state += ", daily limit reached"
        mode = "adaptive" if self.adaptive else "fixed"
        return f"<{type(self).__name__} {mode} [{state}]>"

    @property
    def limit(self) -> RateLimit | None:
        """The rolling-window limit in force, or ``None`` when not pacing."""
        return self._pacer._local.limit

    @property
    def share(self) -> int:
        """Requests this client lets out per window (less than the limit when others
        use the same window)."""
        return self._pacer._local.share

    @property
    def margin(self) -> float:
        """Seconds added to the window for arrival jitter (see :mod:`hubassoc._window`)."""
        return self._pacer._local.margin

    @property
    def adaptive(self) -> bool:
        """Whether the limit follows HubSpot's headers."""
        return self._pacer._adaptive

    @property
    def shared(self) -> bool:
        """Whether a shared budget (Redis) paces this client with others."""
        return self._pacer._zone is not None

    @property
    def pauses(self) -> int:
        """How many times a 429 paused this client."""
        return self._pacer._holds.pauses

    @property
    def daily_limit_reached(self) -> bool:
        """Whether the daily limit stopped this client."""
        return self._pacer._holds.daily_error is not None

    def in_window(self) -> int:
        """Requests this client sent in the current window (call it inside the loop)."""
        return self._pacer._local.in_window(asyncio.get_running_loop().time())

    def paused_for(self) -> float:
        """Seconds still to wait after a 429 (call it inside the loop)."""
        return max(0.0, self._pacer._holds.paused_until - asyncio.get_running_loop().time())


class Pacer(PacingView):
    """Decides when each request may leave; see the module docstring.

    ``Pacer(None)`` does not pace at all (it still honours pauses and stops at
    the daily limit); ``Pacer(limit)`` holds to ``limit``;
    ``Pacer(None, adaptive=True)`` starts at :data:`FREE_TIER` and follows the
    server's headers. ``budget`` shares the window with other clients. What it
    shows of itself is its :class:`PacingView`'s.
    """

    __slots__ = ("_adaptive", "_holds", "_local", "_policy", "_zone")

    def __init__(
        self,
        limit: RateLimit | None,
        *,
        adaptive: bool = False,
        budget: RedisBudget | None = None,
        default_key: Callable[[], str] | None = None,
        emit: Emitter | None = None,
    ) -> None:
        super().__init__(self)
        self._holds = Holds(emit)
        self._adaptive = adaptive
        self._zone = ZoneInfo(budget.daily_reset_timezone) if budget is not None else None
        holds = self._holds
        if limit is None and adaptive:
            limit = FREE_TIER
        #: What the view reads: the limit, the share, the margin, the window.
        self._local: Unpaced | LocalPacing = (
            Unpaced(holds)
            if limit is None
            else (AdaptivePacing if adaptive else LocalPacing)(limit, holds)
        )
        #: What decides when a request leaves: the local policy, or a shared window.
        self._policy: Unpaced | LocalPacing | SharedPacing = self._local
        if budget is not None and isinstance(self._local, LocalPacing):
            self._policy = SharedPacing(
                self._local, budget, holds, adaptive=adaptive, default_key=default_key
            )

    @property
    def daily_error(self) -> DailyLimitError | None:
        """The error that stopped this pacer for the day, if one did (read on every
        coalesced call)."""
        return self._holds.daily_error

    @daily_error.setter
    def daily_error(self, error: DailyLimitError | None) -> None:
        self._holds.daily_error = error

    # --- acquiring a slot -------------------------------------------------------------

    async def acquire(self) -> float:
        """Wait until one request may leave; return the loop time it leaves at.

        Raises:
            DailyLimitError: the daily limit was reached earlier, or the day's
                budget is spent (a fresh copy for each caller).
        """
        holds = self._holds
        holds.check()
        # Adaptive pacing's probe first: its answer may say how much of the
        # day is left before anyone else is let through.
        await self._local.ready()
        budget = holds.budget
        if not await budget.admit(holds.check):
            # Nothing left today and nothing in flight: as after a DAILY 429,
            # without spending a request on one.
            self._stop(daily_spent(_HEADER_SAYS, 200), "header")
            holds.check()
        try:
            sent_at = await self._policy.acquire()
        except BaseException:
            budget.release()
            raise
        budget.sent(sent_at)
        return sent_at

    async def aclose(self) -> None:
        """Let what the shared budget is being told finish (briefly), then close it."""
        self._holds.close()
        await self._policy.aclose()

    # --- what HubSpot said ------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a rolling-window 429)."""
        if self._holds.pause(asyncio.get_running_loop().time() + seconds):
            self._policy.paused(seconds)

    def rate_limited(
        self, policy_name: str | None, pause: float, error: DailyLimitError | None
    ) -> None:
        """HubSpot answered 429: pause everyone for ``pause`` seconds, or, for the
        DAILY policy (``error`` given), stop for the day."""
        emit = self._holds.emit
        if emit is not None:
            emit(RateLimited(policy=policy_name, pause=0.0 if error else pause))
        if error is not None:
            self._stop(error, "429")
        else:
            self.pause(pause)

    def stop_for_the_day(self, error: DailyLimitError) -> None:
        """Fail every later :meth:`acquire` with ``error`` until the daily reset
        (after a DAILY 429)."""
        self._stop(error, "429")

    def _stop(self, error: DailyLimitError, source: Any) -> None:
        # Until midnight in the account's zone, as far as the pacer knows it
        # (the shared budget's, else UTC); a stop shared through Redis
        # carries Redis's own reset.
        self._holds.stop(error, source, seconds_to_midnight(self._zone))
        self._policy.stopped()

    def failed(self, sent_at: float) -> None:
        """A request that left at ``sent_at`` got no answer (connection failure, timeout)."""
        self._holds.budget.failed(sent_at)
        self._policy.failed(sent_at)

    def observe(self, sent_at: float, status: int, headers: Mapping[str, str]) -> None:
        """Learn from an answer: its round trip and its ``X-HubSpot-RateLimit-*`` headers.

        ``sent_at`` is what :meth:`acquire` returned for the request. A
        ``-Daily-Remaining`` of 0 on a successful answer stops the pacer for
        the day, before any request is wasted on a 429.
        """
        remaining = daily_remaining(headers)
        self._holds.budget.answered(sent_at, remaining)
        if remaining == 0 and 200 <= status < 300 and self.daily_error is None:
            self._stop(daily_spent(_HEADER_SAYS, status), "header")
        self._policy.observe(sent_at, headers)

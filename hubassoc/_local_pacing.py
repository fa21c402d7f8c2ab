"""Pacing in one process: no limit (:class:`Unpaced`) or a fixed :class:`RateLimit`
on this client's own rolling window (:class:`LocalPacing`).

Both are policies of :class:`hubassoc._pacing.Pacer`; adaptive pacing
(:mod:`hubassoc._adaptive`) extends :class:`LocalPacing`, and the shared
budget (:mod:`hubassoc._shared_pacing`) falls back to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from hubassoc._events import LimitChanged
from hubassoc._holds import Holds
from hubassoc._window import RateLimit, Window

__all__ = ["LocalPacing", "Unpaced"]


class _Hooks:
    """What a policy does with what HubSpot said, unless it says otherwise: nothing."""

    __slots__ = ()

    def observe(self, sent_at: float, headers: Mapping[str, str]) -> None:
        """Learn from the answer to the request sent at ``sent_at``."""

    def failed(self, sent_at: float) -> None:
        """The request sent at ``sent_at`` got no answer."""

    def paused(self, seconds: float) -> None:
        """A 429 paused every request for ``seconds``."""

    def stopped(self) -> None:
        """The daily limit stopped every request."""

    async def aclose(self) -> None:
        """The client is closing."""


class Unpaced(_Hooks):
    """No limit: a request leaves at once, unless a 429's pause holds everybody."""

    __slots__ = ("_holds",)

    limit = None
    share = 0
    margin = 0.0

    def __init__(self, holds: Holds) -> None:
        self._holds = holds

    def in_window(self, now: float) -> int:
        return 0

    def describe(self) -> str:
        return "unlimited"

    async def ready(self) -> None:
        """Nothing to wait for before pacing."""

    async def acquire(self) -> float:
        if self._holds.paused_until > asyncio.get_running_loop().time():
            now = await self._holds.wait_pause()
            self._holds.check()
            return now
        return asyncio.get_running_loop().time()


class LocalPacing(_Hooks):
    """A fixed :class:`RateLimit` on this client's own :class:`Window`.

    The log is the only gate: a request leaves at once whenever fewer than
    ``share`` were sent in the last ``per + margin`` seconds (and the token
    bucket has a token), and otherwise waits exactly until the oldest of them
    leaves that span. Requests leave in arrival order. While a shared budget
    is unreachable, ``divisor`` (the participants last seen) cuts the share.
    """

    __slots__ = ("_fifo", "_holds", "_share", "divisor", "hold_until", "recheck", "window")

    def __init__(self, limit: RateLimit, holds: Holds) -> None:
        self._holds = holds
        self.window = Window(limit)
        self._share = limit.requests
        #: The share is divided by this (participants, while pacing for a lost budget).
        self.divisor = 1
        #: No request leaves before this loop time (the shared window last seen rolling by).
        self.hold_until = 0.0
        #: Called before each look at the window; it may raise to take a
        #: waiting request elsewhere (the shared budget, back from an outage).
        self.recheck: Callable[[], None] | None = None
        # One acquirer at a time, in arrival order: requests leave in FIFO order.
        self._fifo = asyncio.Lock()
        self._announce()

    @property
    def limit(self) -> RateLimit:
        return self.window.limit

    @property
    def share(self) -> int:
        """Requests let out per window: the limit, less others' use, over ``divisor``."""
        return max(1, self._share // self.divisor)

    @property
    def margin(self) -> float:
        return self.window.margin

    def in_window(self, now: float) -> int:
        return self.window.in_window(now)

    def describe(self) -> str:
        limit, window = self.limit, self.window
        return (
            f"{limit.requests}/{limit.per:g}s, share={self.share}, "
            f"margin={window.margin * 1000:.1f}ms, sent_in_log={len(window.sent)}"
        )

    def set_limit(self, limit: RateLimit) -> None:
        """Pace to ``limit`` from now on (the log and round trips carry over)."""
        self.window = Window(limit, self.window)
        self._share = limit.requests
        self._announce()

    def _announce(self) -> None:
        emit = self._holds.emit
        if emit is not None:
            limit = self.limit
            emit(LimitChanged(requests=limit.requests, per=limit.per, share=self._share))

    async def ready(self) -> None:
        """Wait until pacing may begin (adaptive pacing: the probe's answer)."""

    async def take(self) -> float:
        """Wait for a slot in the local window; return the send time."""
        loop = asyncio.get_running_loop()
        window = self.window
        now = loop.time()
        # Fast path: nobody waiting, no pause, room in the window and the bucket.
        may_go = self._may_go(now)
        if (
            may_go is not None
            and may_go <= now
            and not self._fifo.locked()
            and self._holds.paused_until <= now
            and window.bucket_ready()
        ):
            await window.take_token()  # does not suspend: it has a token
            return window.record(now)
        async with self._fifo:
            return await self._wait_turn(loop)

    acquire = take

    async def _wait_turn(self, loop: asyncio.AbstractEventLoop) -> float:
        holds = self._holds
        waited_from = loop.time()
        reason = "window"
        while True:
            holds.check()
            if self.recheck is not None:
                self.recheck()
            now = loop.time()
            wait_until = holds.paused_until
            if wait_until > now:
                reason = "pause"
            may_go = self._may_go(now)
            if may_go is None:
                await self._hear_next(self.window.span, forget=True)
                continue
            wait_until = max(wait_until, may_go)
            if wait_until <= now:
                window = self.window
                await window.take_token()  # waits only when the burst is spent
                now = loop.time()
                holds.waited(now - waited_from, reason)
                return window.record(now)
            await self._hear_next(wait_until - now, forget=False)

    def _may_go(self, now: float) -> float | None:
        """The earliest time the next request may leave (``None``: ask the server
        first; only adaptive pacing says so)."""
        may_go = self.window.free_at(self.share)
        if self.divisor > 1:
            # Pacing for a lost shared budget: evenly spread, so that what
            # others of the window still send (slots they reserved) meets a
            # trickle rather than a burst.
            window = self.window
            sent = window.sent
            spread = sent[-1] + window.span / self.share if sent else 0.0
            may_go = max(may_go, self.hold_until, spread)
        return may_go

    async def _hear_next(self, within: float, *, forget: bool) -> None:
        """Wait ``within`` seconds (adaptive pacing: or until HubSpot says more)."""
        await asyncio.sleep(within)

    def observe(self, sent_at: float, headers: Mapping[str, str]) -> None:
        self.window.observe_rtt(asyncio.get_running_loop().time() - sent_at)

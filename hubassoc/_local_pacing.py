"""Pacing in one process: no limit (:class:`Unpaced`), a fixed :class:`RateLimit`
on this client's own rolling window (:class:`LocalPacing`), or limits learned
from HubSpot's headers (:class:`AdaptivePacing`, ``rate_limit=None``).

They are policies of :class:`hubassoc._pacing.Pacer`; the shared budget
(:mod:`hubassoc._shared_pacing`) falls back to the latter two.

Adaptive pacing starts at the Free tier (100 per 10 s), sends a single
request first (the probe) and adopts what HubSpot advertises in
``X-HubSpot-RateLimit-Max`` and ``-Interval-Milliseconds`` before letting a
burst go (docs/hubspot.md, "Rate limits"). ``-Remaining`` tells whether
others (other processes of the same app) use the window; when they do, it
takes half of what remains (they see the same number) and waits for the next
answer to tell it more. Only the latest-sent answer speaks for the window: an
older one describes a window that has moved on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from hubassoc._events import LimitChanged, RateLimitHeadersMissing
from hubassoc._holds import Holds
from hubassoc._window import MIN_MARGIN, RateLimit, Signal, Window

__all__ = ["AdaptivePacing", "LocalPacing", "Unpaced"]

logger = logging.getLogger("hubassoc")

# Share of the window at which -Remaining makes the pacer cut its own share.
_LOW_REMAINING = 0.25


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
        holds, loop = self._holds, asyncio.get_running_loop()
        started = now = loop.time()
        while holds.paused_until > now:
            await asyncio.sleep(holds.paused_until - now)
            now = loop.time()
        if now > started:
            holds.waited(now - started, "pause")
            holds.check()
        return now


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

    async def acquire(self) -> float:
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
            and window.bucket.has_capacity()
        ):
            await window.bucket.acquire()  # does not suspend: it has a token
            return window.record(now)
        async with self._fifo:
            return await self._wait_turn(loop)

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
                await window.bucket.acquire()  # waits only when the burst is spent
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


def _read_limit(headers: Mapping[str, str], current: RateLimit) -> tuple[RateLimit, int | None]:
    """The limit and ``-Remaining`` the headers advertise (``current`` where they say
    nothing usable).

    Raises:
        ValueError: a header is not a number.
    """
    requests = int(headers["X-HubSpot-RateLimit-Max"])
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    per = int(interval) / 1000 if interval else current.per
    remaining_text = headers.get("X-HubSpot-RateLimit-Remaining")
    remaining = int(remaining_text) if remaining_text is not None else None
    if not 0 < per <= 86_400:
        per = current.per
    if not 1 <= requests <= 1_000_000:
        requests = current.requests
    if requests == current.requests and per == current.per:
        return current, remaining
    return RateLimit(requests, per, current.margin, current.burst), remaining


class AdaptivePacing(LocalPacing):
    """Local pacing whose limit and share follow HubSpot's headers (module docstring)."""

    __slots__ = ("_heard", "_latest", "_probe", "_report", "_update")

    def __init__(self, limit: RateLimit, holds: Holds) -> None:
        super().__init__(limit, holds)
        self._heard = False  # an answer with headers came back
        self._probe: asyncio.Future[None] | None = None
        # The send time of the latest-sent request whose answer was read.
        self._latest = float("-inf")
        # While others use the window: (send time, our half of -Remaining) of
        # the latest-sent answered request; see _may_go().
        self._report: tuple[float, int] | None = None
        self._update = Signal()

    async def ready(self) -> None:
        """The first request goes alone; the rest wait for its headers."""
        if self._heard:
            return
        probe = self._probe
        if probe is None:
            # This caller is the probe; observe() or failed() ends the probe.
            self._probe = asyncio.get_running_loop().create_future()
            return
        if not probe.done():
            loop = asyncio.get_running_loop()
            start = loop.time()
            await asyncio.shield(probe)
            self._holds.waited(loop.time() - start, "probe")

    def _end_probe(self) -> None:
        probe = self._probe
        if probe is not None and not probe.done():
            probe.set_result(None)

    def stopped(self) -> None:
        self._end_probe()

    def failed(self, sent_at: float) -> None:
        self._end_probe()
        if self._report is not None and sent_at > self._report[0]:
            # Nothing was learned, but nobody should wait for this answer.
            self._report = None
            self._update.fire()

    def observe(self, sent_at: float, headers: Mapping[str, str]) -> None:
        super().observe(sent_at, headers)
        self._learn(sent_at, headers)
        self._update.fire()
        self._end_probe()

    def _learn(self, sent_at: float, headers: Mapping[str, str]) -> None:
        if "X-HubSpot-RateLimit-Max" not in headers:
            if not self._heard:
                self._heard = True  # say it once
                self._no_headers()
            return
        self._heard = True
        try:
            limit, remaining = _read_limit(headers, self.limit)
        except ValueError:
            return  # a malformed header teaches nothing
        if limit is not self.limit:
            self.set_limit(limit)
            logger.info(
                "HubSpot advertises %d requests per %gs: pacing to it",
                limit.requests,
                limit.per,
                extra={"hubassoc_event": "LimitChanged", "hubassoc_requests": limit.requests},
            )
        if remaining is not None and sent_at >= self._latest:
            # An answer to an older request describes a window that has moved
            # on since a later one was answered: it must not undo what the
            # later one said (another process using the window).
            self._latest = sent_at
            self._weigh(sent_at, remaining)

    def _no_headers(self) -> None:
        limit = self.limit
        logger.warning(
            "the server sends no X-HubSpot-RateLimit-* headers: pacing stays at "
            "%d requests per %gs; pass rate_limit=RateLimit(...) to set it, or "
            "rate_limit=False for a server without limits",
            limit.requests,
            limit.per,
            extra={"hubassoc_event": "RateLimitHeadersMissing"},
        )
        emit = self._holds.emit
        if emit is not None:
            emit(RateLimitHeadersMissing(requests=limit.requests, per=limit.per))

    def _weigh(self, sent_at: float, remaining: int) -> None:
        """Set the share and the report from ``-Remaining`` of the request sent at
        ``sent_at`` (the latest-sent answered one)."""
        limit = self.limit
        # The server had counted our sends of the window before this one, and
        # maybe those just after it (a burst arrives in any order), plus others'.
        own = self.window.count(sent_at - limit.per, sent_at + MIN_MARGIN)
        others = limit.requests - remaining - own
        # A request in a hundred is timing noise (a late arrival still counted),
        # not another process that would hold the end of a window for the next.
        if others <= limit.requests // 100:
            # Alone in the window: the whole of it is ours, no gating.
            self._share = limit.requests
            self._report = None
            return
        # Others use the window: take half of what remains (they see the same
        # number), and never more than our own count plus what remains.
        if remaining <= limit.requests * _LOW_REMAINING:
            self._share = max(1, min(limit.requests, own + remaining))
        else:
            self._share = limit.requests
        self._report = (sent_at, max(0, remaining) // 2)

    def _may_go(self, now: float) -> float | None:
        """While others use the window, also by what HubSpot last said remains.

        The latest report says ``remaining`` (our half of it) were left when
        our request sent at ``sent_r`` arrived. Since then we may use those,
        plus the slots of our own requests it counted that have left the
        window since (others' are unknown). Once a whole window has passed the
        report says nothing: one request goes to ask again (``None`` for the
        others: wait for its answer).
        """
        may_go = super()._may_go(now)
        if self._report is None or may_go is None:
            return may_go
        sent_r, remaining = self._report
        window = self.window
        span = window.span
        stale_at = sent_r + span
        used_since = window.count(sent_r, float("inf"))
        if now >= stale_at:
            return max(may_go, now) if used_since == 0 else None
        # Ours the report counted, oldest first: each frees a slot a span after it.
        counted_start = sent_r - window.limit.per
        freed = window.count(counted_start, now - span)
        if used_since < remaining + freed:
            return max(may_go, now)
        # The log is sorted: the first of them not yet freed frees the next slot.
        after = max(counted_start, now - span)
        return max(may_go, next((t + span for t in window.sent if after < t <= sent_r), stale_at))

    async def _hear_next(self, within: float, *, forget: bool) -> None:
        """Wait at most ``within`` seconds for the next answer (or failure) to tell
        the pacer something new; with ``forget``, forget the report if none comes."""
        if not await self._update.wait(within) and forget:
            # No answer for a whole window: what was reported says nothing now.
            self._report = None

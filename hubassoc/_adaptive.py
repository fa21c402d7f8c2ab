"""Adaptive pacing (``rate_limit=None``): limits learned from HubSpot's headers.

It starts at the Free tier (100 per 10 s), sends a single request first (the
probe) and adopts what HubSpot advertises in ``X-HubSpot-RateLimit-Max`` and
``-Interval-Milliseconds`` before letting a burst go (docs/hubspot.md, "Rate
limits"). ``-Remaining`` tells whether others (other processes of the same
app) use the window: our own sends of the window before the reported
request, and those sent just after it (a burst's requests arrive in any
order), are ours; a difference of 1 % of the limit is timing noise. When
others use the window it takes half of what remains (they see the same
number) and waits for the next answer to tell it more.

Only the latest-sent answer speaks for the window: answers come back in any
order, and an older one describes a window that has moved on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from hubassoc._events import RateLimitHeadersMissing
from hubassoc._holds import Holds
from hubassoc._local_pacing import LocalPacing
from hubassoc._window import MIN_MARGIN, RateLimit, Signal

__all__ = ["AdaptivePacing"]

logger = logging.getLogger("hubassoc")

# Share of the window at which -Remaining makes the pacer cut its own share.
_LOW_REMAINING = 0.25


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
            self._heard_something()

    def observe(self, sent_at: float, headers: Mapping[str, str]) -> None:
        super().observe(sent_at, headers)
        self._learn(sent_at, headers)
        self._heard_something()
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
        # What the server had counted when our request arrived is our own sends
        # of the window before it plus everybody else's. Requests of one burst
        # leave within microseconds and arrive in any order, so ours sent just
        # after this one may have been counted too: they count as ours, or a
        # burst would look like another process using the window.
        own = self.window.count(sent_at - limit.per, sent_at + MIN_MARGIN)
        others = limit.requests - remaining - own
        # A request in a hundred is timing noise (an arrival a few milliseconds
        # late is still counted), not another process; taken for one, it would
        # hold the end of a window for the next.
        if others <= limit.requests // 100:
            # Alone in the window: the whole of it is ours, no gating.
            self._share = limit.requests
            self._report = None
            return
        # Others use the window: what remains is shared with them, so take
        # half of it (they see the same number), and never more than our own
        # count plus what remains.
        if remaining <= limit.requests * _LOW_REMAINING:
            self._share = max(1, min(limit.requests, own + remaining))
        else:
            self._share = limit.requests
        self._report = (sent_at, max(0, remaining) // 2)

    def _may_go(self, now: float) -> float | None:
        may_go = super()._may_go(now)
        if self._report is None or may_go is None:
            return may_go
        contended = self._contended_wait(now)
        return None if contended is None else max(may_go, contended)

    def _contended_wait(self, now: float) -> float | None:
        """When others use the window too: the time a request may leave by what
        HubSpot last said remains, ``now``, or ``None`` to wait for the next answer.

        The latest report says ``remaining`` (our half of it) were left when
        our request sent at ``sent_r`` arrived. Since then we may use those,
        plus the slots of our own requests it counted that have left the
        window since; other clients' slots that free up are unknown, so not
        counted. Once a whole window has passed the report says nothing: one
        request goes to ask again, the others wait for its answer.
        """
        report = self._report
        assert report is not None
        sent_r, remaining = report
        window = self.window
        span = window.span
        stale_at = sent_r + span
        used_since = window.count(sent_r, float("inf"))
        if now >= stale_at:
            return now if used_since == 0 else None
        # Ours the report counted, oldest first: each frees a slot a span after it.
        counted_start = sent_r - window.limit.per
        freed = window.count(counted_start, now - span)
        if used_since < remaining + freed:
            return now
        # The log is sorted: the first of them not yet freed frees the next slot.
        after = max(counted_start, now - span)
        return next((t + span for t in window.sent if after < t <= sent_r), stale_at)

    async def _hear_next(self, within: float, *, forget: bool) -> None:
        """Wait at most ``within`` seconds for the next answer (or failure) to tell
        the pacer something new; with ``forget``, forget the report if none comes."""
        if not await self._update.wait(within) and forget:
            # No answer for a whole window: what was reported says nothing now.
            self._report = None

    def _heard_something(self) -> None:
        self._update.fire()

"""HubSpot's daily request limit, spent as a budget: never more in flight than remain.

Each answer (for a private app) says how many requests the account has left
for the day in ``X-HubSpot-RateLimit-Daily-Remaining`` (docs/hubspot.md,
"Rate limits"). :class:`DailyBudget` keeps the last such count and the
requests in flight, and lets a request start only while the count exceeds
what is already in flight: each in-flight request may not have been counted
yet, so it is assumed to spend one. When nothing is in flight and nothing
remains, the budget is spent: the pacer stops for the day without sending.

Until a count is reported (or for OAuth apps, which are not sent one) it
holds nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from hubassoc._window import Signal

__all__ = ["DAILY_REMAINING", "DailyBudget", "daily_remaining"]

DAILY_REMAINING = "X-HubSpot-RateLimit-Daily-Remaining"

#: A request in flight this long is taken as lost (its answer or failure was
#: never reported, e.g. a cancelled caller): it no longer holds others back.
_IN_FLIGHT_LIMIT = 120.0
#: Past this many requests in flight, the lost ones are looked for.
_IN_FLIGHT_KEPT = 1024


def daily_remaining(headers: Mapping[str, str]) -> int | None:
    """``X-HubSpot-RateLimit-Daily-Remaining`` as an int, or ``None`` (absent, malformed)."""
    text = headers.get(DAILY_REMAINING)
    if text is None:
        return None
    try:
        return max(0, int(text))
    except ValueError:
        return None


class DailyBudget:
    """The daily requests this client may still start (``None``: not known).

    :meth:`admit` before a request (it may wait), :meth:`sent` once it leaves
    (or :meth:`release` if it never does), :meth:`answered`/:meth:`failed`
    when it comes back.
    """

    __slots__ = ("_changed", "_in_flight", "_starting", "left")

    def __init__(self) -> None:
        #: Requests that may still start: the last count reported less what
        #: went out since (``None`` until a count is reported).
        self.left: int | None = None
        self._in_flight: dict[float, int] = {}
        self._starting = 0
        self._changed = Signal()

    def __repr__(self) -> str:
        return f"<DailyBudget left={self.left} in_flight={self.in_flight}>"

    @property
    def in_flight(self) -> int:
        """Requests admitted that have not come back."""
        return self._starting + sum(self._in_flight.values())

    async def admit(self, check: Callable[[], None]) -> bool:
        """Wait until one more request may start and count it; return ``False``
        (counting nothing) when the budget is spent: nothing left, nothing in flight.

        ``check`` runs before each look and may raise (the daily stop's error).
        """
        while self.left is not None and self.left <= 0:
            check()
            if self.in_flight == 0:
                return False
            await self._wait_for_change()
        if self.left is not None:
            self.left -= 1
        self._starting += 1
        return True

    def sent(self, sent_at: float) -> None:
        """The admitted request left at ``sent_at``."""
        self._starting -= 1
        in_flight = self._in_flight
        in_flight[sent_at] = in_flight.get(sent_at, 0) + 1
        if len(in_flight) > _IN_FLIGHT_KEPT:
            self._forget_lost(sent_at)

    def release(self) -> None:
        """The admitted request never left (its acquire failed)."""
        self._starting -= 1
        self._give_back()

    def answered(self, sent_at: float, remaining: int | None) -> None:
        """The request sent at ``sent_at`` was answered, saying ``remaining``."""
        self._forget(sent_at)
        if remaining is not None:
            # Whatever is still in flight may not have been counted yet.
            self.left = remaining - self.in_flight
        self.wake()

    def failed(self, sent_at: float) -> None:
        """The request sent at ``sent_at`` got no answer: it may not have counted."""
        self._forget(sent_at)
        self._give_back()

    def wake(self) -> None:
        """Let whoever waits look again (a count came, a stop began)."""
        self._changed.fire()

    def _give_back(self) -> None:
        if self.left is not None:
            self.left += 1
        self.wake()

    def _forget(self, sent_at: float) -> None:
        count = self._in_flight.get(sent_at)
        if count is None:
            return
        if count > 1:
            self._in_flight[sent_at] = count - 1
        else:
            del self._in_flight[sent_at]

    async def _wait_for_change(self) -> None:
        if not await self._changed.wait(_IN_FLIGHT_LIMIT):
            self._forget_lost(asyncio.get_running_loop().time())

    def _forget_lost(self, now: float) -> None:
        """Forget requests in flight for longer than anyone waits for an answer."""
        oldest = now - _IN_FLIGHT_LIMIT
        for sent_at in [t for t in self._in_flight if t <= oldest]:
            del self._in_flight[sent_at]

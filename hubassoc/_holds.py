"""What holds every request of one client, whatever paces it: a pause, the daily stop.

A rolling-window 429 pauses every request for a while; a DAILY 429 (or the
daily budget spent, see :mod:`hubassoc._daily`) stops every request until
HubSpot's daily reset, at midnight in the account's time zone
(docs/hubspot.md, "Rate limits"). :class:`Holds` keeps both, once, for the
pacer and its policy; it also carries the event emitter.

All time comes from the running loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from hubassoc._daily import DailyBudget
from hubassoc._errors import DailyLimitError, fresh_copy
from hubassoc._events import DailyLimitReached, DailyLimitReset, Emitter, PacerWaited

__all__ = ["Holds", "seconds_to_midnight"]

logger = logging.getLogger("hubassoc")

_UTC = ZoneInfo("UTC")


def seconds_to_midnight(zone: ZoneInfo | None = None, now: dt.datetime | None = None) -> float:
    """Seconds from ``now`` (the wall clock) to the next midnight in ``zone`` (UTC)."""
    zone = zone or _UTC
    local = (now or dt.datetime.now(dt.UTC)).astimezone(zone)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return max(0.0, (midnight - local).total_seconds())


class Holds:
    """The pause and the daily stop every request of one client waits for or fails on.

    Attributes:
        paused_until: loop time until which a 429 holds every request.
        pauses: how many times a 429 paused the client.
        daily_error: the error that stopped the client for the day, if any
            (read on every coalesced call, so a plain attribute).
        emit: where events go (``None``: nobody listens).
        budget: the daily requests still allowed (see :mod:`hubassoc._daily`).
    """

    __slots__ = ("_reset", "budget", "daily_error", "emit", "paused_until", "pauses")

    def __init__(self, emit: Emitter | None) -> None:
        self.emit = emit
        self.paused_until = 0.0
        self.pauses = 0
        self.daily_error: DailyLimitError | None = None
        self._reset: asyncio.TimerHandle | None = None
        self.budget = DailyBudget()

    def __repr__(self) -> str:
        state = "stopped for the day" if self.daily_error is not None else "running"
        return f"<Holds {state}, pauses={self.pauses}, paused_until={self.paused_until:.3f}>"

    def check(self) -> None:
        """Raise the daily stop's error (a fresh copy for each caller), if stopped.

        Raises:
            DailyLimitError: the daily limit stopped the client.
        """
        if self.daily_error is not None:
            raise fresh_copy(self.daily_error)

    def pause(self, until: float) -> bool:
        """Hold every request until loop time ``until``; return whether that is longer
        than the pause already in force (a shorter one does not shorten it)."""
        if until <= self.paused_until:
            return False
        self.paused_until = until
        self.pauses += 1
        return True

    async def wait_pause(self) -> float:
        """Sleep out the pause in force; return the loop time after it."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        started = now
        while self.paused_until > now:
            await asyncio.sleep(self.paused_until - now)
            now = loop.time()
        self.waited(now - started, "pause")
        return now

    def waited(self, seconds: float, reason: Any) -> None:
        """Tell the listener the pacer held a request for ``seconds``."""
        if self.emit is not None and seconds > 0:
            self.emit(PacerWaited(seconds=seconds, reason=reason))

    def stop(self, error: DailyLimitError, source: Any, seconds: float) -> bool:
        """Stop every request with ``error`` for ``seconds`` (until the daily reset);
        return whether this began the stop (it was running)."""
        first = self.daily_error is None
        self.daily_error = error
        if self._reset is not None:
            self._reset.cancel()
        self._reset = asyncio.get_running_loop().call_later(seconds, self._end_stop)
        if first:
            logger.warning(
                "HubSpot's daily limit is reached: every call fails fast until it resets",
                extra={"hubassoc_event": "DailyLimitReached", "hubassoc_source": source},
            )
            if self.emit is not None:
                self.emit(DailyLimitReached(source=source))
        self.budget.wake()
        return first

    def _end_stop(self) -> None:
        self._reset = None
        if self.daily_error is None:
            return
        self.daily_error = None
        self.budget.left = None  # a new day: the next answer says how much
        logger.info(
            "HubSpot's daily limit has reset: calls go through again",
            extra={"hubassoc_event": "DailyLimitReset"},
        )
        if self.emit is not None:
            self.emit(DailyLimitReset())

    def close(self) -> None:
        """Forget the reset timer (the client is closing)."""
        if self._reset is not None:
            self._reset.cancel()
            self._reset = None

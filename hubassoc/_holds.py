"""What holds every request of one client, whatever paces it: a pause, the daily stop,
the daily budget.

A rolling-window 429 pauses every request for a while; a DAILY 429 stops
every request until HubSpot's daily reset, at midnight in the account's time
zone (docs/hubspot.md, "Rate limits"). Each answer (for a private app) also
says how many requests the day has left in
``X-HubSpot-RateLimit-Daily-Remaining``: :class:`DailyBudget` lets a request
start only while that count exceeds what is in flight (each may not have been
counted yet); when nothing is in flight and nothing remains, the pacer stops
for the day without sending. :class:`Holds` keeps all three, once, for the
pacer and its policy, with the event emitter.

All time comes from the running loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from hubassoc._errors import DailyLimitError, fresh_copy
from hubassoc._events import DailyLimitReached, DailyLimitReset, Emitter, PacerWaited
from hubassoc._window import Signal

__all__ = ["DailyBudget", "Holds", "daily_remaining", "daily_spent", "seconds_to_midnight"]

logger = logging.getLogger("hubassoc")

_UTC = ZoneInfo("UTC")

#: A request in flight this long is taken as lost (its answer or failure was
#: never reported, e.g. a cancelled caller): it no longer holds others back.
_IN_FLIGHT_LIMIT = 120.0
#: Past this many requests in flight, the lost ones are looked for.
_IN_FLIGHT_KEPT = 1024


def daily_remaining(headers: Mapping[str, str]) -> int | None:
    """``X-HubSpot-RateLimit-Daily-Remaining`` as an int, or ``None`` (absent, malformed)."""
    text = headers.get("X-HubSpot-RateLimit-Daily-Remaining")
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

    __slots__ = ("_in_flight", "_starting", "changed", "left")

    def __init__(self) -> None:
        #: Requests that may still start: the last count reported less what
        #: went out since (``None`` until a count is reported).
        self.left: int | None = None
        self._in_flight: dict[float, int] = {}
        self._starting = 0
        #: Fired when whoever waits should look again (a count came, a stop began).
        self.changed = Signal()

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
            if not await self.changed.wait(_IN_FLIGHT_LIMIT):
                self._forget_lost(asyncio.get_running_loop().time())
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
        self.changed.fire()

    def failed(self, sent_at: float) -> None:
        """The request sent at ``sent_at`` got no answer: it may not have counted."""
        self._forget(sent_at)
        self._give_back()

    def _give_back(self) -> None:
        if self.left is not None:
            self.left += 1
        self.changed.fire()

    def _forget(self, sent_at: float) -> None:
        count = self._in_flight.pop(sent_at, 0)
        if count > 1:
            self._in_flight[sent_at] = count - 1

    def _forget_lost(self, now: float) -> None:
        """Forget requests in flight for longer than anyone waits for an answer."""
        oldest = now - _IN_FLIGHT_LIMIT
        for sent_at in [t for t in self._in_flight if t <= oldest]:
            del self._in_flight[sent_at]


def daily_spent(why: str, status: int) -> DailyLimitError:
    """The error for a daily limit found spent (``why``) before HubSpot answered 429."""
    return DailyLimitError(
        f"HubSpot's daily request limit is spent ({why}); it resets at midnight in the "
        "account's time zone",
        status=status,
        policy_name="DAILY",
    )


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
        budget: the daily requests still allowed.
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

    def waited(self, seconds: float, reason: Any) -> None:
        """Tell the listener the pacer held a request for ``seconds``."""
        if self.emit is not None and seconds > 0:
            self.emit(PacerWaited(seconds=seconds, reason=reason))

    def stop(self, error: DailyLimitError, source: Any, seconds: float) -> None:
        """Stop every request with ``error`` for ``seconds`` (until the daily reset)."""
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
        self.budget.changed.fire()

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

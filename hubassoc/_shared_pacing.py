"""One rolling window for every process on a :class:`hubassoc.RedisBudget`, with a local fallback.

Each request reserves its slot in the shared window (see
:mod:`hubassoc._redis_budget`), sleeps until it and leaves; the learned
limit, the pause and the daily stop are shared too. The slots also go into
this process's own :class:`~hubassoc._window.Window` log, so that while Redis
is unreachable the local policy paces on from what it knew: at the limit over
the participants last seen, once the window last seen has rolled by. When
Redis is back (see :class:`~hubassoc._redis_budget.BudgetHealth`), what was
sent meanwhile is handed over and the shared window takes over again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from hubassoc._holds import Holds, daily_remaining, daily_spent
from hubassoc._local_pacing import LocalPacing
from hubassoc._redis_budget import BudgetUnavailable, RedisBudget, Reservation
from hubassoc._window import RateLimit

__all__ = ["SharedPacing"]

logger = logging.getLogger("hubassoc")

#: Daily-Remaining is told to the shared budget once it is at most this many
#: windows' worth of requests.
_DAILY_WATCH = 4


class _BudgetBack(Exception):
    """The shared budget answered again while a request waited its local turn."""


class SharedPacing:
    """Slots from a shared budget; ``local`` paces while the budget is unreachable."""

    __slots__ = (
        "_adaptive",
        "_background",
        "_budget",
        "_clock_offsets",
        "_default_key",
        "_fallback_sends",
        "_holds",
        "_id",
        "_local",
        "_pending",
        "_redis_rtts",
        "_rejoined",
    )

    def __init__(
        self,
        local: LocalPacing,
        budget: RedisBudget,
        holds: Holds,
        *,
        adaptive: bool,
        default_key: Callable[[], str] | None,
    ) -> None:
        self._local = local
        self._budget = budget
        self._holds = holds
        self._adaptive = adaptive
        self._default_key = default_key
        # Sends made while the budget was unreachable, handed over on rejoining.
        self._fallback_sends: deque[float] = deque(maxlen=4096)
        # Offsets of this loop's clock from Redis's, and Redis round trips.
        self._clock_offsets: deque[float] = deque(maxlen=64)
        self._redis_rtts: deque[float] = deque(maxlen=64)
        # Slots reserved and not yet reached: they go into the log when sent.
        self._pending: list[float] = []
        # (loop time, participants) of the last rejoin: see _reserve().
        self._rejoined = (float("-inf"), 1)
        self._background: set[asyncio.Task[object]] = set()
        self._id = f"{os.getpid()}-{secrets.token_hex(4)}"
        local.recheck = self._back

    def describe(self) -> str:
        state = f"{self._local.describe()}, shared={self._budget!r}"
        if not self._up:
            state += " (unreachable: pacing locally)"
        return state

    @property
    def _margin(self) -> float:
        """The margin for slots: where one falls on this clock is known to within a
        Redis round trip, which is arrival jitter too."""
        return self._local.margin + max(self._redis_rtts, default=0.0)

    @property
    def _up(self) -> bool:
        return self._budget._health.available

    # --- acquiring a slot -------------------------------------------------------------

    async def acquire(self) -> float:
        budget = self._budget
        while True:
            if budget._health.should_try(asyncio.get_running_loop().time()):
                if budget.key is None and self._default_key is not None:
                    budget._resolve_key(self._default_key())
                sent = await self._acquire_shared()
                if sent is not None:
                    return sent
            try:
                return await self._acquire_local()
            except _BudgetBack:
                continue  # to the shared window

    async def _acquire_local(self) -> float:
        """Unreachable: the local log paces at the share of the participants last
        seen, once the slots this process reserved are in it.

        Raises:
            _BudgetBack: the budget answered again meanwhile.
        """
        wait = max(self._pending, default=0.0) - asyncio.get_running_loop().time()
        if wait > 0:
            # Then they are sent (sleepers on a slot wake first) and logged.
            await asyncio.sleep(wait + 1e-6)
        sent_at = await self._local.acquire()
        if self._up:
            # The budget answered again as this request left: the shared
            # window must count it too.
            self._in_background(self._budget._record_sends([0.0], self._id))
        else:
            self._fallback_sends.append(sent_at)
        return sent_at

    def _back(self) -> None:
        if self._up:
            raise _BudgetBack

    async def _acquire_shared(self) -> float | None:
        """A slot from the shared budget, or ``None`` to pace locally (budget unreachable)."""
        loop = asyncio.get_running_loop()
        waited_from = loop.time()
        # The bucket before the slot: a request held after its slot could
        # arrive within a window of later slots.
        await self._local.window.bucket.acquire()
        while True:
            try:
                if self._budget._health.lost_at is not None:
                    await self._rejoin(loop.time())
                asked = loop.time()
                reservation = await self._reserve()
            except BudgetUnavailable:
                # The budget logged it (once) and will be asked again later.
                self._lost()
                return None
            self._local.divisor = 1
            slot = self._place(reservation, asked, loop.time())
            sent = await self._take(reservation, slot)
            if sent is not None:
                self._holds.waited(loop.time() - waited_from, "shared")
                return self._local.window.record(sent)

    def _lost(self) -> None:
        """Pace locally from what this process knew of the shared window."""
        local, health = self._local, self._budget._health
        local.divisor = health.fallback_divisor()
        lost_at = health.lost_at
        if lost_at is None or local.hold_until > lost_at:
            return  # this outage's start is already set
        # Others' shares of the window last seen are unknown (they need not
        # have kept to an equal share): that window may have been full. Local
        # sends begin once it has rolled by, after this process's own slots.
        sent = local.window.sent
        seen = max([lost_at, *self._pending, sent[-1] if sent else lost_at])
        local.hold_until = seen + local.window.span

    async def _reserve(self) -> Reservation:
        limit = self._local.limit
        requests = limit.requests
        rejoined_at, before = self._rejoined
        if (
            asyncio.get_running_loop().time()
            < rejoined_at + self._budget._health.max_retry_interval
        ):
            # Back from an outage, Redis may know nothing of those still
            # pacing on their own (a restarted Redis knows nobody): until they
            # are back too (each asks again within the longest retry
            # interval), this process keeps to its share of the window.
            requests = max(1, requests // before)
        reservation = await self._budget._reserve(
            requests=requests,
            per=limit.per,
            margin=self._margin,
            participant=self._id,
            adaptive=self._adaptive,
        )
        if reservation.participants >= before:
            self._rejoined = (float("-inf"), 1)  # everybody is back
        if reservation.daily_stopped:
            self._holds.stop(
                daily_spent("reached by another client on the shared budget", 429),
                "shared",
                reservation.wait,
            )
            self._local.stopped()
            self._holds.check()
        learned = (reservation.requests, reservation.per)
        if self._adaptive and learned not in ((limit.requests, limit.per), (requests, limit.per)):
            self._local.set_limit(
                RateLimit(reservation.requests, reservation.per, limit.margin, limit.burst)
            )
        return reservation

    def _place(self, reservation: Reservation, asked: float, now: float) -> float:
        """The slot (or the time to ask again) on this loop's clock: Redis's time
        plus the offset between the clocks, whose smallest recent sample is the
        one least delayed by getting the answer back."""
        self._redis_rtts.append(now - asked)
        offsets = self._clock_offsets
        offsets.append(now - reservation.server_time)
        return reservation.server_time + reservation.wait + min(offsets)

    async def _take(self, reservation: Reservation, slot: float) -> float | None:
        """Sleep until ``slot``; return it as the send time, or ``None`` to ask again."""
        loop = asyncio.get_running_loop()
        if reservation.reserved:
            self._pending.append(slot)
            try:
                await asyncio.sleep(slot - loop.time())
            finally:
                self._pending.remove(slot)
        elif slot > loop.time():
            await asyncio.sleep(slot - loop.time())
        paused = self._holds.paused_until - loop.time()
        if paused > 0:
            # A 429 paused everyone after this slot was reserved: the slot is
            # given up (which errs on the safe side) and a new one asked.
            await asyncio.sleep(paused)
            return None
        self._holds.check()
        if not reservation.reserved:
            return None
        if loop.time() - slot > 0.75 * self._margin:
            # Woken too late (a busy loop, a long garbage collection): sent
            # now, this request could arrive within a window of one a later
            # slot sends on time. The slot is given up and a new one asked
            # for, which errs on the safe side.
            return None
        # The slot is returned as the send time, so the round trips the margin
        # is derived from include how late this process got to its slot.
        return slot

    async def _rejoin(self, now: float) -> None:
        """Back from an outage: tell the budget what this client sent meanwhile, and
        keep to its share until the others are back (see _reserve())."""
        horizon = now - self._local.window.span
        # Redis places them by its own clock when the script runs, up to a
        # round trip after `now`: they are taken as that much younger, so that
        # they stay in the window at least as long as they should.
        late = max(self._redis_rtts, default=0.0)
        ages = [max(0.0, now - t - late) for t in self._fallback_sends if horizon < t <= now]
        await self._budget._record_sends(ages, participant=self._id)
        self._fallback_sends.clear()
        self._rejoined = (now, self._local.divisor)

    # --- what HubSpot said ------------------------------------------------------------

    def observe(self, sent_at: float, headers: Mapping[str, str]) -> None:
        before = self._local.limit
        self._local.observe(sent_at, headers)
        limit = self._local.limit
        if limit is not before:
            self._in_background(self._budget._publish_limit(limit.requests, limit.per))
        remaining = daily_remaining(headers)
        # Only near the day's end, where reservations (at most a few windows
        # ahead) could spend it: otherwise it costs a Redis call per answer.
        if (
            remaining is not None
            and remaining <= _DAILY_WATCH * limit.requests
            and self._clock_offsets
        ):
            # The reported request's slot in Redis time: what was reserved
            # after it may not have been counted yet, whoever reserved it.
            since = sent_at - min(self._clock_offsets)
            self._in_background(self._budget._report_daily(remaining, since))

    def failed(self, sent_at: float) -> None:
        self._local.failed(sent_at)

    def paused(self, seconds: float) -> None:
        self._in_background(self._budget._pause(seconds))

    def stopped(self) -> None:
        self._local.stopped()
        self._in_background(self._budget._stop_for_the_day())

    # --- telling the budget in the background -----------------------------------------

    def _in_background(self, coroutine: Coroutine[Any, Any, object]) -> None:
        """Tell the shared budget something, if it is reachable, without holding
        anyone up; failures are the budget's to log (the local pacer already acted)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or not self._up:
            coroutine.close()
            return
        task = loop.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[object]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("the shared budget was not told: %s", type(task.exception()).__name__)

    async def aclose(self) -> None:
        """Let what the shared budget is being told finish (briefly), then close it."""
        if self._background:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*self._background, return_exceptions=True), 1.0
                )
        await self._budget.aclose()

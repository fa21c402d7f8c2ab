"""Pacing requests under HubSpot's rolling window, so that HubSpot never answers 429.

HubSpot's ten-second limit is a *rolling* window: any span of ``per`` seconds
may hold at most ``requests`` requests, counted when they arrive. The
:class:`Pacer` keeps a log of its last ``requests`` send times, and that log
is the only gate: a request leaves **at once** whenever fewer than
``requests`` were sent in the last ``per + margin`` seconds, and otherwise
waits exactly until the oldest of them leaves that span. So an idle client
sends a whole window's worth at once (a burst costs one round trip, not a
smoothed trickle), and no span of ``per`` seconds ever holds more than
``requests``. An :class:`aiolimiter.AsyncLimiter` of ``requests`` per ``per``
stays behind it as the token bucket; sized to the window, it never delays a
request the log admits.

``margin`` allows for network jitter: two requests sent exactly one window
apart may *arrive* up to the spread of their one-way trips less than a window
apart. Unless a :class:`RateLimit` gives one, the margin is derived from what
the pacer observes: the spread (largest less smallest) of recent round-trip
times, which bounds the spread of one-way trips, plus a small floor. Before
anything is observed it is the conservative 2.5 % of the window (at most
0.25 s).

The pacer is the one owner of what HubSpot's rate-limit headers say. In
adaptive mode (``rate_limit=None`` on the client) it starts at the Free tier
(100 per 10 s), sends a single request first and adopts what HubSpot
advertises in ``X-HubSpot-RateLimit-Max``/``-Interval-Milliseconds`` before
letting a burst go; when ``-Remaining`` shows other processes using the same
window, it lowers its own share to what is left. A rolling-window 429 pauses
the whole pacer; a DAILY 429, or ``X-HubSpot-RateLimit-Daily-Remaining: 0``,
makes every later :meth:`Pacer.acquire` fail at once.

With a shared budget (:class:`hubassoc.RedisBudget`) the window, the learned
limit, the pause and the daily stop are shared by every client on the same
key, in any process on any host; while the budget is unreachable the pacer
falls back to its local log at a safe share (the limit divided by the
participants it last saw) and rejoins when the budget is back.

All time comes from the running loop, so tests drive the pacer on a virtual
clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter

from hubassoc._errors import DailyLimitError, fresh_copy
from hubassoc._events import DailyLimitReached, Emitter, LimitChanged, PacerWaited, RateLimited

if TYPE_CHECKING:
    from hubassoc._redis_budget import RedisBudget

__all__ = ["FREE_TIER", "Pacer", "PacingView", "RateLimit"]

logger = logging.getLogger("hubassoc")

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
        if not (
            isinstance(self.per, int | float)
            and not isinstance(self.per, bool)
            and math.isfinite(self.per)
            and self.per > 0
        ):
            raise ValueError(f"per must be a positive number of seconds, not {self.per!r}")
        if self.margin is not None and not (
            isinstance(self.margin, int | float) and math.isfinite(self.margin) and self.margin >= 0
        ):
            raise ValueError(f"margin must be a finite number >= 0, not {self.margin!r}")

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

# Share of the window at which -Remaining makes the adaptive pacer look at
# who else is using the window.
_LOW_REMAINING = 0.25


def _daily_from_header(status: int) -> DailyLimitError:
    return DailyLimitError(
        "HubSpot's daily request limit is spent (X-HubSpot-RateLimit-Daily-Remaining: 0); "
        "it resets at midnight in the account's time zone",
        status=status,
        policy_name="DAILY",
    )


def _daily_shared() -> DailyLimitError:
    return DailyLimitError(
        "HubSpot's daily request limit is spent (reached by another client on the shared "
        "budget); it resets at midnight in the account's time zone",
        status=429,
        policy_name="DAILY",
    )


class Pacer:
    """Decides when each request may leave; see the module docstring.

    ``Pacer(None)`` does not pace at all (it still honours pauses and stops at
    the daily limit); ``Pacer(limit)`` holds to ``limit``;
    ``Pacer(None, adaptive=True)`` starts at :data:`FREE_TIER` and follows the
    server's headers. ``budget`` shares the window with other clients.
    """

    __slots__ = (
        "_adaptive",
        "_background",
        "_bucket",
        "_budget",
        "_budget_down_since",
        "_clock_offsets",
        "_default_key",
        "_emit",
        "_fallback_sends",
        "_fifo",
        "_heard_headers",
        "_id",
        "_limit",
        "_margin_cache",
        "_participants",
        "_paused_until",
        "_probe",
        "_redis_rtts",
        "_report",
        "_report_update",
        "_rtts",
        "_sent",
        "_share",
        "daily_error",
        "pauses",
    )

    def __init__(
        self,
        limit: RateLimit | None,
        *,
        adaptive: bool = False,
        budget: RedisBudget | None = None,
        default_key: Callable[[], str] | None = None,
        emit: Emitter | None = None,
    ) -> None:
        self._adaptive = adaptive
        self._heard_headers = False
        self._limit: RateLimit | None = None
        self._bucket: AsyncLimiter | None = None
        self._sent: deque[float] = deque()
        self._share = 0  # requests we may send per window (< limit when sharing the app)
        self._paused_until = 0.0
        self._rtts: deque[float] = deque(maxlen=_RTT_SAMPLES)
        self._margin_cache: float | None = None
        self._emit = emit
        #: The DAILY 429 that stopped this pacer, if one did (read on every
        #: coalesced call, so a plain attribute rather than a property).
        self.daily_error: DailyLimitError | None = None
        # One local acquirer at a time, in arrival order: requests leave in FIFO order.
        self._fifo = asyncio.Lock()
        #: How many times a 429 paused the pacer.
        self.pauses = 0
        # Adaptive mode sends one request and waits for its headers before a burst.
        self._probe: asyncio.Future[None] | None = None
        # Adaptive, while others use the window: (send time, -Remaining) of the
        # latest-sent answered request; see _contended_wait().
        self._report: tuple[float, int] | None = None
        self._report_update: asyncio.Future[None] | None = None
        self._budget = budget
        self._default_key = default_key
        self._budget_down_since: float | None = None
        self._participants = 1
        self._fallback_sends: deque[float] = deque(maxlen=4096)
        self._clock_offsets: deque[float] = deque(maxlen=64)
        self._redis_rtts: deque[float] = deque(maxlen=64)
        self._background: set[asyncio.Task[object]] = set()
        self._id = f"{os.getpid()}-{secrets.token_hex(4)}"
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
                f"margin={self.margin * 1000:.1f}ms, sent_in_log={len(self._sent)}"
            )
        if self.daily_error is not None:
            state += ", daily limit reached"
        if self._budget is not None:
            state += f", shared={self._budget!r}"
            if self._budget_down_since is not None:
                state += " (unreachable: pacing locally)"
        mode = "adaptive" if self._adaptive else "fixed"
        return f"<Pacer {mode} [{state}]>"

    # --- what it holds to -------------------------------------------------------------

    @property
    def limit(self) -> RateLimit | None:
        """The rate limit in force, or ``None`` when not pacing."""
        return self._limit

    @property
    def share(self) -> int:
        """Requests this pacer lets out per window (the limit, less others' use)."""
        return self._share

    @property
    def adaptive(self) -> bool:
        """Whether the limit follows HubSpot's headers."""
        return self._adaptive

    @property
    def shared(self) -> bool:
        """Whether a shared budget paces this client with others."""
        return self._budget is not None

    @property
    def margin(self) -> float:
        """Seconds added to the window for arrival jitter (see the module docstring)."""
        limit = self._limit
        if limit is None:
            return 0.0
        if limit.margin is not None:
            return limit.margin
        cached = self._margin_cache
        if cached is None:
            rtts = self._rtts
            if len(rtts) < 2:
                cached = limit.initial_margin
            else:
                # Never more than the conservative default, so one slow
                # answer cannot cost a tenth of the window.
                cached = min(MIN_MARGIN + max(rtts) - min(rtts), 0.1 * limit.per)
            self._margin_cache = cached
        return cached

    def in_window(self) -> int:
        """Requests this pacer sent in the current window (``per + margin`` seconds)."""
        limit = self._limit
        if limit is None:
            return 0
        start = asyncio.get_running_loop().time() - limit.per - self.margin
        sent = self._sent
        return len(sent) - bisect_right(sent, start)

    def paused_for(self) -> float:
        """Seconds every request is still held for after a 429."""
        return max(0.0, self._paused_until - asyncio.get_running_loop().time())

    def _set_limit(self, limit: RateLimit) -> None:
        self._limit = limit
        self._share = limit.requests
        self._margin_cache = None
        # The token bucket, sized to the window so that it never delays a
        # request the log admits; the log is the guarantee.
        self._bucket = AsyncLimiter(limit.requests, limit.per)
        self._sent = deque(self._sent, maxlen=limit.requests)
        if self._emit is not None:
            self._emit(LimitChanged(requests=limit.requests, per=limit.per, share=self._share))

    # --- acquiring a slot -------------------------------------------------------------

    async def acquire(self) -> float:
        """Wait until one request may leave; return the loop time it leaves at.

        Raises:
            DailyLimitError: the daily limit was reached earlier (a fresh copy
                for each caller).
        """
        if self.daily_error is not None:
            raise fresh_copy(self.daily_error)
        if self._limit is None:
            return await self._acquire_unpaced()
        if self._adaptive and not self._heard_headers:
            await self._wait_for_probe()
        if self._budget is not None and self._budget_usable():
            sent = await self._acquire_shared()
            if sent is not None:
                return sent
        return await self._acquire_local()

    async def _acquire_unpaced(self) -> float:
        # Not pacing, but a 429 still holds everybody for its pause.
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._paused_until > now:
            waited_from = now
            while self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                now = loop.time()
            self._waited(now - waited_from, "pause")
            if self.daily_error is not None:
                raise fresh_copy(self.daily_error)
        return now

    async def _wait_for_probe(self) -> None:
        """Adaptive start: the first request goes alone; the rest wait for its headers."""
        probe = self._probe
        if probe is None:
            # This caller is the probe; observe() or failed() ends the probe.
            self._probe = asyncio.get_running_loop().create_future()
            return
        if not probe.done():
            loop = asyncio.get_running_loop()
            start = loop.time()
            await asyncio.shield(probe)
            self._waited(loop.time() - start, "probe")

    def _end_probe(self) -> None:
        probe = self._probe
        if probe is not None and not probe.done():
            probe.set_result(None)

    async def _acquire_local(self) -> float:
        loop = asyncio.get_running_loop()
        fifo = self._fifo
        sent = self._sent
        # Fast path: nobody waiting, no pause, room in the window.
        if not fifo.locked() and self._report is None:
            now = loop.time()
            if self._paused_until <= now and len(sent) < self._share:
                bucket = self._bucket
                assert bucket is not None
                if bucket.has_capacity():
                    await bucket.acquire()  # does not suspend: it has capacity
                    return self._record(now)
        async with fifo:
            waited_from = loop.time()
            reason = "window"
            while True:
                if self.daily_error is not None:
                    raise fresh_copy(self.daily_error)
                limit, bucket = self._limit, self._bucket
                assert limit is not None and bucket is not None
                now = loop.time()
                wait_until = self._paused_until
                if wait_until > now:
                    reason = "pause"
                share, sent = self._share_now(), self._sent
                if len(sent) >= share:
                    # The send `share` places back must be a full window ago.
                    wait_until = max(wait_until, sent[-share] + limit.per + self.margin)
                if self._report is not None:
                    contended_until = self._contended_wait(now, limit)
                    if contended_until is None:
                        await self._next_report(limit.per + self.margin, forget=True)
                        continue
                    wait_until = max(wait_until, contended_until)
                if wait_until <= now:
                    await bucket.acquire()  # never waits for what the log admits
                    now = loop.time()
                    self._waited(now - waited_from, reason)
                    return self._record(now)
                if self._adaptive:
                    # What HubSpot says next can change the share or the wait
                    # (a low -Remaining that was noise, others going away).
                    await self._next_report(wait_until - now, forget=False)
                else:
                    await asyncio.sleep(wait_until - now)

    def _contended_wait(self, now: float, limit: RateLimit) -> float | None:
        """When others use the window too (adaptive): the time a request may leave
        by what HubSpot last said remains, ``now``, or ``None`` to wait for the
        next answer.

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
        span = limit.per + self.margin
        stale_at = sent_r + span
        used_since = freed = 0
        next_free = stale_at
        for sent in self._sent:
            if sent > sent_r:
                used_since += 1
            elif sent > sent_r - limit.per:
                if sent + span <= now:
                    freed += 1
                else:
                    next_free = min(next_free, sent + span)
        if now >= stale_at:
            return now if used_since == 0 else None
        if used_since < remaining + freed:
            return now
        return next_free

    async def _next_report(self, within: float, *, forget: bool) -> None:
        """Wait at most ``within`` seconds for the next answer (or failure) to tell
        the pacer something new; with ``forget``, forget the report if none comes."""
        update = self._report_update
        if update is None or update.done():
            update = self._report_update = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(update), within)
        except TimeoutError:
            if forget:
                # No answer for a whole window: what was reported says nothing now.
                self._report = None

    def _reported(self) -> None:
        update = self._report_update
        if update is not None and not update.done():
            update.set_result(None)

    def _share_now(self) -> int:
        """Our share of the window: all of it, less others' use, or a safe part of it
        while the shared budget is unreachable."""
        share = self._share
        if self._budget is not None and self._budget_down_since is not None:
            share = max(1, share // max(1, self._participants))
        return share

    def _record(self, now: float) -> float:
        sent = self._sent
        if sent and now <= sent[-1]:
            # Send times name requests (observe() gets one back): keep them distinct.
            now = sent[-1] + 1e-9
        sent.append(now)
        if self._budget_down_since is not None:
            self._fallback_sends.append(now)
        return now

    def _waited(self, seconds: float, reason: Any) -> None:
        if self._emit is not None and seconds > 0:
            self._emit(PacerWaited(seconds=seconds, reason=reason))

    # --- the shared budget ------------------------------------------------------------

    def _budget_usable(self) -> bool:
        budget = self._budget
        assert budget is not None
        return budget.health.should_try(asyncio.get_running_loop().time())

    async def _acquire_shared(self) -> float | None:
        """A slot from the shared budget, or ``None`` to pace locally (budget unreachable)."""
        from hubassoc._redis_budget import BudgetUnavailable

        budget = self._budget
        assert budget is not None
        loop = asyncio.get_running_loop()
        if budget.key is None and self._default_key is not None:
            budget.resolve_key(self._default_key())
        waited_from = loop.time()
        while True:
            limit = self._limit
            assert limit is not None
            try:
                if self._fallback_sends:
                    await self._rejoin(budget, loop.time())
                asked = loop.time()
                # Where a slot falls on this clock is known to within a Redis
                # round trip: that is arrival jitter too.
                margin = self.margin + max(self._redis_rtts, default=0.0)
                reservation = await budget.reserve(
                    requests=limit.requests,
                    per=limit.per,
                    margin=margin,
                    participant=self._id,
                    adaptive=self._adaptive,
                )
            except BudgetUnavailable:
                # The budget logged it (once) and will be asked again later.
                if self._budget_down_since is None:
                    self._budget_down_since = loop.time()
                self._participants = max(1, budget.health.last_participants)
                return None
            self._budget_down_since = None
            self._participants = max(1, reservation.participants)
            if reservation.daily_stopped:
                if self.daily_error is None:
                    self._stop(_daily_shared(), "shared", share=False)
                assert self.daily_error is not None
                raise fresh_copy(self.daily_error)
            if self._adaptive and (
                reservation.requests != limit.requests or reservation.per != limit.per
            ):
                self._set_limit(RateLimit(reservation.requests, reservation.per, limit.margin))
            # The slot, on this loop's clock: Redis's time plus the offset
            # between the clocks, whose smallest recent sample is the one
            # least delayed by getting the answer back. It is returned as the
            # send time, so the round trips the margin is derived from include
            # how late this process got to its slot (a busy loop).
            now = loop.time()
            self._redis_rtts.append(now - asked)
            offsets = self._clock_offsets
            offsets.append(now - reservation.server_time)
            slot = reservation.server_time + reservation.wait + min(offsets)
            if slot > now:
                await asyncio.sleep(slot - now)
            paused = self._paused_until - loop.time()
            if paused > 0:
                # A 429 paused everyone after this slot was reserved: the slot
                # is given up (which errs on the safe side) and a new one asked.
                await asyncio.sleep(paused)
                continue
            if reservation.reserved:
                if loop.time() - slot > 0.75 * margin:
                    # Woken too late (a busy loop, a long garbage collection):
                    # sent now, this request could arrive within a window of
                    # one a later slot sends on time. The slot is given up and
                    # a new one asked for, which errs on the safe side.
                    continue
                self._waited(loop.time() - waited_from, "shared")
                return self._record(slot)
            if self.daily_error is not None:
                raise fresh_copy(self.daily_error)

    async def _rejoin(self, budget: RedisBudget, now: float) -> None:
        """Tell the budget what this client sent while it was unreachable."""
        limit = self._limit
        assert limit is not None
        horizon = now - limit.per - self.margin
        ages = [now - t for t in self._fallback_sends if t > horizon]
        await budget.record_sends(ages, participant=self._id)
        self._fallback_sends.clear()

    def _in_background(self, coroutine: Coroutine[Any, Any, object]) -> None:
        """Tell the shared budget something without holding anyone up; failures are
        the budget's to log (the local pacer already acted)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
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
        if self._budget is not None:
            await self._budget.aclose()

    # --- what HubSpot said ------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a rolling-window 429)."""
        until = asyncio.get_running_loop().time() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1
        if self._budget is not None and self._budget_down_since is None:
            self._in_background(self._budget.pause(seconds))

    def rate_limited(
        self, policy_name: str | None, pause: float, error: DailyLimitError | None
    ) -> None:
        """HubSpot answered 429: pause everyone for ``pause`` seconds, or, for the
        DAILY policy (``error`` given), stop for the day."""
        if self._emit is not None:
            self._emit(RateLimited(policy=policy_name, pause=0.0 if error else pause))
        if error is not None:
            self._stop(error, "429")
        else:
            self.pause(pause)

    def stop_for_the_day(self, error: DailyLimitError) -> None:
        """Fail every later :meth:`acquire` with ``error`` (after a DAILY 429)."""
        self._stop(error, "429")

    def _stop(self, error: DailyLimitError, source: Any, *, share: bool = True) -> None:
        first = self.daily_error is None
        self.daily_error = error
        self._end_probe()
        if first:
            logger.warning(
                "HubSpot's daily limit is reached: every call fails fast until it resets",
                extra={"hubassoc_event": "DailyLimitReached", "hubassoc_source": source},
            )
            if self._emit is not None:
                self._emit(DailyLimitReached(source=source))
        if share and self._budget is not None and self._budget_down_since is None:
            self._in_background(self._budget.stop_for_the_day())

    def failed(self, sent_at: float) -> None:
        """A request that left at ``sent_at`` got no answer (connection failure, timeout)."""
        self._end_probe()
        if self._report is not None and sent_at > self._report[0]:
            # Nothing was learned, but nobody should wait for this answer.
            self._report = None
            self._reported()

    def observe(self, sent_at: float, status: int, headers: Mapping[str, str]) -> None:
        """Learn from an answer: its round trip and its ``X-HubSpot-RateLimit-*`` headers.

        ``sent_at`` is what :meth:`acquire` returned for the request. A
        ``-Daily-Remaining`` of 0 on a successful answer stops the pacer for
        the day, before any request is wasted on a 429.
        """
        loop_time = asyncio.get_running_loop().time()
        self._rtts.append(loop_time - sent_at)
        self._margin_cache = None
        if 200 <= status < 300:
            daily_text = headers.get("X-HubSpot-RateLimit-Daily-Remaining")
            if daily_text is not None and self.daily_error is None:
                try:
                    spent = int(daily_text) <= 0
                except ValueError:
                    spent = False
                if spent:
                    self._stop(_daily_from_header(status), "header")
        if self._adaptive:
            self._learn(sent_at, headers)
            self._reported()
        self._end_probe()

    def _learn(self, sent_at: float, headers: Mapping[str, str]) -> None:
        max_text = headers.get("X-HubSpot-RateLimit-Max")
        limit = self._limit
        assert limit is not None
        if max_text is None:
            if not self._heard_headers:
                self._heard_headers = True  # say it once
                logger.info(
                    "the server sends no X-HubSpot-RateLimit-* headers: pacing stays at "
                    "%d requests per %gs; pass rate_limit=RateLimit(...) to set it, or "
                    "rate_limit=False for a server without limits",
                    limit.requests,
                    limit.per,
                    extra={"hubassoc_event": "NoRateLimitHeaders"},
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
        if 1 <= requests <= 1_000_000 and (
            requests != limit.requests
            or (per is not None and 0 < per <= 86_400 and per != limit.per)
        ):
            new_per = per if per is not None and 0 < per <= 86_400 else limit.per
            self._set_limit(RateLimit(requests, new_per, limit.margin))
            limit = self._limit
            assert limit is not None
            logger.info(
                "HubSpot advertises %d requests per %gs: pacing to it",
                limit.requests,
                limit.per,
                extra={"hubassoc_event": "LimitChanged", "hubassoc_requests": limit.requests},
            )
            if self._budget is not None and self._budget_down_since is None:
                self._in_background(self._budget.publish_limit(limit.requests, limit.per))
        if remaining is None:
            return
        # What the server had counted when our request arrived is our own sends
        # of the window before it plus everybody else's. Requests of one burst
        # leave within microseconds and arrive in any order, so ours sent just
        # after this one may have been counted too: they count as ours, or a
        # burst would look like another process using the window.
        window_start = sent_at - limit.per
        window_end = sent_at + MIN_MARGIN
        sent = self._sent  # in sending order, so sorted: count by bisection
        own = bisect_right(sent, window_end) - bisect_right(sent, window_start)
        others = limit.requests - remaining - own
        # A request in a hundred is timing noise (an arrival a few milliseconds
        # late is still counted), not another process; taken for one, it would
        # hold the end of a window for the next.
        if others <= limit.requests // 100:
            # Alone in the window: the whole of it is ours, no gating.
            self._share = limit.requests
            if self._report is not None and sent_at >= self._report[0]:
                self._report = None
            return
        # Others use the window: what remains is shared with them, so take
        # half of it (they see the same number), and never more than our own
        # count plus what remains.
        if remaining <= limit.requests * _LOW_REMAINING:
            self._share = max(1, min(limit.requests, own + remaining))
        else:
            self._share = limit.requests
        if self._report is None or sent_at >= self._report[0]:
            self._report = (sent_at, max(0, remaining) // 2)


class PacingView:
    """A read-only look at a client's pacing: the limit in force, the window, pauses.

    Returned by :attr:`AssociationsClient.pacing`; it changes as the client
    learns, and changing it is not possible.
    """

    __slots__ = ("_pacer",)

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer

    def __repr__(self) -> str:
        return repr(self._pacer).replace("<Pacer", "<PacingView", 1)

    @property
    def limit(self) -> RateLimit | None:
        """The rolling-window limit in force, or ``None`` when not pacing."""
        return self._pacer.limit

    @property
    def share(self) -> int:
        """Requests this client lets out per window (less than the limit when others
        use the same window)."""
        return self._pacer.share

    @property
    def margin(self) -> float:
        """Seconds added to the window for arrival jitter."""
        return self._pacer.margin

    @property
    def adaptive(self) -> bool:
        """Whether the limit follows HubSpot's headers."""
        return self._pacer.adaptive

    @property
    def shared(self) -> bool:
        """Whether a shared budget (Redis) paces this client with others."""
        return self._pacer.shared

    @property
    def pauses(self) -> int:
        """How many times a 429 paused this client."""
        return self._pacer.pauses

    @property
    def daily_limit_reached(self) -> bool:
        """Whether the daily limit stopped this client."""
        return self._pacer.daily_error is not None

    def in_window(self) -> int:
        """Requests this client sent in the current window (call it inside the loop)."""
        return self._pacer.in_window()

    def paused_for(self) -> float:
        """Seconds still to wait after a 429 (call it inside the loop)."""
        return self._pacer.paused_for()

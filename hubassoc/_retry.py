"""What to retry and how long to wait: a small pure policy, tested without HTTP.

The rules follow HubSpot's guidance (``docs/hubspot.md``):

* 429 ``TEN_SECONDLY_ROLLING``: wait out the window (``Retry-After`` if sent,
  otherwise ``X-HubSpot-RateLimit-Interval-Milliseconds``), then retry.
* 429 ``DAILY``: never; retrying before the reset only burns requests.
* 502, 503, 504 (an HTML page included): exponential backoff with full jitter.
* 423 (locked): at least two seconds.
* 477 (migration in progress): ``Retry-After``.
* connection failures and timeouts: exponential backoff with full jitter.
* anything else (400, 401, 403, 404, ...): never.

A call that is not idempotent (a configuration create, which would conflict
with itself) is retried only where HubSpot cannot have acted on it: 423, 429,
477, 503, and a connection that failed before the request was sent.

:func:`retrying` is the one retry loop, around an API request's attempts and
the OAuth token endpoint's alike.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from hubassoc._errors import HubSpotError, RateLimitError, ServerError
from hubassoc._validation import check_seconds

__all__ = [
    "AttemptFailed",
    "Failure",
    "OnRetry",
    "RetryPolicy",
    "Retrying",
    "parse_retry_after",
    "retrying",
]

logger = logging.getLogger("hubassoc")
T = TypeVar("T")

_GATEWAY_STATUSES = frozenset({502, 504})
_UNTOUCHED_STATUSES = frozenset({423, 429, 477, 503})  # HubSpot did not act on the request


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, as the policy sees it.

    Attributes:
        status: the HTTP status, or ``None`` where no response arrived.
        retry_after: seconds from a ``Retry-After`` header, if sent.
        interval: the rate-limit window in seconds, from
            ``X-HubSpot-RateLimit-Interval-Milliseconds``, if sent.
        policy_name: the ``policyName`` of a 429 body, if any.
        request_sent: ``False`` where the connection failed before the request
            left (always safe to retry).
    """

    status: int | None
    retry_after: float | None = None
    interval: float | None = None
    policy_name: str | None = None
    request_sent: bool = True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry and how long to wait.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        backoff_base: the first backoff ceiling, in seconds; it doubles per attempt.
        backoff_cap: the largest backoff ceiling, in seconds.
        locked_min_delay: the least wait after a 423 (HubSpot asks for 2 s).
        rate_limit_wait: the wait after a rolling-window 429 that names no window.
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    locked_min_delay: float = 2.0
    rate_limit_wait: float = 10.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, not {self.max_retries!r}")
        for name in ("backoff_base", "backoff_cap", "locked_min_delay", "rate_limit_wait"):
            check_seconds(getattr(self, name), name)

    def should_retry(self, failure: Failure, attempt: int, *, idempotent: bool = True) -> bool:
        """Whether attempt number ``attempt`` (0 for the first) may be followed by another."""
        if attempt >= self.max_retries:
            return False
        status = failure.status
        if status is None:
            return idempotent or not failure.request_sent
        if status == 429:
            return failure.policy_name != "DAILY"
        if status in _UNTOUCHED_STATUSES:
            return True
        return idempotent and status in _GATEWAY_STATUSES

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt))``."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2.0 ** min(attempt, 62)))
        return rand() * ceiling

    def delay(
        self, failure: Failure, attempt: int, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retrying after ``failure`` on attempt ``attempt``."""
        status = failure.status
        if status == 429:
            if failure.retry_after is not None:
                return failure.retry_after
            if failure.interval is not None:
                return failure.interval
            return self.rate_limit_wait
        if status == 477 and failure.retry_after is not None:
            return failure.retry_after
        wait = self.backoff(attempt, rand)
        if status == 423:
            return max(self.locked_min_delay, wait, failure.retry_after or 0.0)
        if failure.retry_after is not None:
            return max(wait, failure.retry_after)
        return wait


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, 3600.0))


@dataclass(eq=False)
class AttemptFailed(Exception):
    """An attempt inside :func:`retrying` failed; the policy may answer with another.

    Attributes:
        error: what the caller gets if no retry follows (raised from this one's cause).
        failure: what the policy sees.
        reason: the HTTP status as text, ``"timeout"`` or ``"connection"``.
        held: the wait is already imposed elsewhere (the pacer holds every
            request after a 429), so the loop does not sleep it again.
    """

    error: HubSpotError
    failure: Failure
    reason: str
    held: bool = field(default=False, kw_only=True)


#: Told of each retry: ``(attempt that failed, 0 for the first; reason; delay)``.
OnRetry = Callable[[int, str, float], object]


@dataclass(frozen=True, slots=True)
class Retrying:
    """How one request is retried: ``policy``; ``max_wait``, the longest wait slept (a
    longer one fails the call at once, carrying ``retry_after``); ``label``
    (``"METHOD route"``) for log lines; ``idempotent``; ``rand``, the jitter source;
    ``on_retry``, told of each retry besides the debug log."""

    policy: RetryPolicy
    max_wait: float
    label: str
    idempotent: bool = True
    rand: Callable[[], float] = random.random
    on_retry: OnRetry | None = None


async def retrying(attempt: Callable[[int], Awaitable[T]], how: Retrying, first: int = 0) -> T:
    """``await attempt(n)`` for n = ``first``, ``first + 1``, ... until one returns.

    Raises:
        The :attr:`AttemptFailed.error` of the last attempt, when the policy
        gives up or asks for a wait longer than ``how.max_wait``; anything
        else an attempt raises, as it is.
    """
    number = first
    while True:
        try:
            return await attempt(number)
        except AttemptFailed as failed:
            delay = _delay_before_retry(failed, number, how)
            if delay is None:
                raise failed.error from failed.__cause__
            reason, held = failed.reason, failed.held
        if how.on_retry is not None:
            how.on_retry(number, reason, delay)
        logger.debug(
            "%s: %s; retry %d in %.3fs",
            how.label,
            reason,
            number + 1,
            delay,
            extra={
                "hubassoc_event": "RetryScheduled",
                "hubassoc_reason": reason,
                "hubassoc_attempt": number + 1,
                "hubassoc_delay": delay,
            },
        )
        if not held:
            await asyncio.sleep(delay)
        number += 1


def _delay_before_retry(failed: AttemptFailed, number: int, how: Retrying) -> float | None:
    """The wait before the next attempt, or ``None`` to give up (and why, logged)."""
    failure, policy = failed.failure, how.policy
    if not policy.should_retry(failure, number, idempotent=how.idempotent):
        logger.debug("%s -> %s (attempt %d), giving up", how.label, failed.reason, number + 1)
        return None
    delay = policy.delay(failure, number, how.rand)
    if delay > how.max_wait:
        logger.warning(
            "%s -> %s asks to wait %.0fs, more than max_retry_wait=%.0fs: failing now",
            how.label,
            failed.reason,
            delay,
            how.max_wait,
            extra={"hubassoc_status": failure.status},
        )
        error = failed.error
        if isinstance(error, RateLimitError | ServerError) and error.retry_after is None:
            error.retry_after = delay
        return None
    return delay

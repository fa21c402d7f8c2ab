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
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["Failure", "RetryPolicy", "parse_retry_after"]

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
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")

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

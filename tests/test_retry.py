"""The retry policy: which failures are retried and how long to wait (pure, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hubassoc import RetryPolicy
from hubassoc._retry import Failure, parse_retry_after

POLICY = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_cap=8.0)


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        (Failure(429, policy_name="TEN_SECONDLY_ROLLING"), True),
        (Failure(429), True),
        (Failure(429, policy_name="DAILY"), False),
        (Failure(502), True),
        (Failure(503), True),
        (Failure(504), True),
        (Failure(423), True),
        (Failure(477, retry_after=3.0), True),
        (Failure(None), True),  # connection reset or timeout
        (Failure(400), False),
        (Failure(401), False),
        (Failure(403), False),
        (Failure(404), False),
        (Failure(409), False),
        (Failure(500), False),
    ],
)
def test_which_failures_are_retried(failure: Failure, retried: bool) -> None:
    assert POLICY.should_retry(failure, 0) is retried


def test_budget_is_bounded() -> None:
    failure = Failure(503)
    assert [POLICY.should_retry(failure, attempt) for attempt in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert not RetryPolicy(max_retries=0).should_retry(failure, 0)


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        (Failure(503), True),
        (Failure(429), True),
        (Failure(423), True),
        (Failure(477), True),
        (Failure(502), False),  # HubSpot may have acted on it
        (Failure(504), False),
        (Failure(None, request_sent=True), False),
        (Failure(None, request_sent=False), True),  # never left: always safe
    ],
)
def test_non_idempotent_calls_are_retried_only_where_nothing_happened(
    failure: Failure, retried: bool
) -> None:
    assert POLICY.should_retry(failure, 0, idempotent=False) is retried


def test_rolling_429_waits_out_the_window() -> None:
    assert POLICY.delay(Failure(429, retry_after=4.0, interval=10.0), 0) == 4.0
    assert POLICY.delay(Failure(429, interval=10.0), 0) == 10.0
    assert POLICY.delay(Failure(429), 0) == POLICY.rate_limit_wait


def test_backoff_is_exponential_with_full_jitter() -> None:
    # Jitter is injected, so the bounds can be pinned exactly.
    assert [POLICY.backoff(a, lambda: 1.0) for a in range(6)] == [1, 2, 4, 8, 8, 8]
    assert POLICY.backoff(3, lambda: 0.0) == 0.0
    assert POLICY.backoff(2, lambda: 0.5) == 2.0
    assert POLICY.delay(Failure(503), 1, lambda: 0.5) == 1.0
    assert POLICY.delay(Failure(None), 2, lambda: 0.25) == 1.0


def test_locked_waits_at_least_two_seconds() -> None:
    assert RetryPolicy().delay(Failure(423), 0, lambda: 0.0) == 2.0
    assert RetryPolicy().delay(Failure(423), 10, lambda: 1.0) == 30.0


def test_migration_in_progress_honours_retry_after() -> None:
    assert POLICY.delay(Failure(477, retry_after=7.0), 0, lambda: 0.0) == 7.0
    assert POLICY.delay(Failure(477), 0, lambda: 0.5) == 0.5


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"Retry-After": " 1.5 "}) == 1.5
    assert parse_retry_after({"Retry-After": "Sun, 22 Nov 2026 12:00:05 GMT"}, now) == 5.0
    assert parse_retry_after({"Retry-After": "Sun, 22 Nov 2026 11:00:00 GMT"}, now) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-4"}) == 0.0
    assert parse_retry_after({"Retry-After": "99999999"}) == 3600.0
    assert parse_retry_after({}) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="backoff_base"):
        RetryPolicy(backoff_base=-1.0)

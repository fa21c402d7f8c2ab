"""Pacing against the sandbox: the daily budget, a server without rate-limit headers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hubassoc import AssociationsClient, DailyLimitError, RateLimit
from hubassoc.events import DailyLimitReached, Event, RateLimitHeadersMissing

from .conftest import FAST_RETRY, SandboxFactory


async def associate_many(client: AssociationsClient, n: int) -> list[object]:
    return await asyncio.gather(
        *(client.associate_default("contacts", i, "companies", 1_000_000 + i) for i in range(n)),
        return_exceptions=True,
    )


@pytest.mark.parametrize(
    ("rate_limit", "first_alone"), [(None, False), (RateLimit(100, 10.0), True)]
)
async def test_the_daily_budget_is_never_spent_past_its_end(
    sandbox_factory: SandboxFactory, rate_limit: RateLimit | None, first_alone: bool
) -> None:
    """5 requests left for the day: at most one more request than that, then
    everything fails with DailyLimitError without being sent.

    Adaptive pacing sends one request first anyway; with a fixed limit, nothing
    says how much is left until the first answer, so one call goes first.
    """
    sandbox = await sandbox_factory(daily_limit=5, rate_limit=(100, 10.0))
    events: list[Event] = []
    client = AssociationsClient(
        sandbox.token,
        base_url=sandbox.url,
        rate_limit=rate_limit,
        retry=FAST_RETRY,
        on_event=events.append,
    )
    if first_alone:
        assert await client.associate_default("contacts", 0, "companies", 999_999)
    outcomes = await associate_many(client, 2000)
    requests = sandbox.stats().requests
    assert requests <= 6
    assert client.stats.rate_limited <= 1
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(succeeded) + first_alone == len(sandbox.store_pairs("contacts", "companies"))
    assert all(isinstance(o, DailyLimitError) for o in outcomes if o not in succeeded)
    assert client.pacing.daily_limit_reached
    assert sum(isinstance(e, DailyLimitReached) for e in events) == 1
    with pytest.raises(DailyLimitError):
        await client.associate_default("contacts", 1, "companies", 2)
    assert sandbox.stats().requests == requests  # nothing more was sent
    await client.aclose()


async def test_an_adaptive_client_without_headers_says_so_once(
    sandbox_factory: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = await sandbox_factory()  # no rate limit: no X-HubSpot-RateLimit-* headers
    events: list[Event] = []
    client = AssociationsClient(
        sandbox.token, base_url=sandbox.url, rate_limit=None, on_event=events.append
    )
    with caplog.at_level(logging.INFO, logger="hubassoc"):
        await associate_many(client, 500)
        await client.associate_default("contacts", 1, "companies", 2)
    await client.aclose()
    missing = [e for e in events if isinstance(e, RateLimitHeadersMissing)]
    assert missing == [RateLimitHeadersMissing(requests=100, per=10.0)]
    said = [r for r in caplog.records if "X-HubSpot-RateLimit" in r.getMessage()]
    assert len(said) == 1
    assert said[0].levelno == logging.WARNING
    assert "rate_limit=RateLimit(...)" in said[0].getMessage()
    assert "rate_limit=False" in said[0].getMessage()
    assert client.pacing.limit == RateLimit(100, 10.0)  # the Free tier: the safe default

"""RedisBudget against a real redis-server; BudgetHealth as pure logic."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from hubassoc._redis_budget import (
    HORIZON_WINDOWS,
    MAX_RECORDED_SENDS,
    BudgetHealth,
    BudgetUnavailable,
    RedisBudget,
    Reservation,
)
from tests.redis_server import RedisServer

BudgetFactory = Callable[..., RedisBudget]


@pytest.fixture
async def make_budget(redis_server: RedisServer) -> AsyncIterator[BudgetFactory]:
    """``make_budget(key="test", **options)``: a budget on its own connection pool, closed after."""
    budgets: list[RedisBudget] = []

    def make(key: str | None = "test", **options: Any) -> RedisBudget:
        budget = RedisBudget(options.pop("redis", redis_server.url), key=key, **options)
        budgets.append(budget)
        return budget

    yield make
    for budget in budgets:
        await budget.aclose()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain redis-py client on the test's server, to inspect keys."""
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def reserve(budget: RedisBudget, participant: str = "p", **options: Any) -> Reservation:
    arguments: dict[str, Any] = {
        "requests": 10,
        "per": 1.0,
        "margin": 0.05,
        "participant": participant,
        "adaptive": False,
    }
    arguments.update(options)
    return await budget._reserve(**arguments)


def keys_of(key: str) -> tuple[str, str, str, str]:
    """The Redis keys of budget ``key``: sent, state, participants, daily."""
    tag = f"{{hubassoc:{key}}}"
    return (f"{tag}:sent", f"{tag}:state", f"{tag}:participants", f"{tag}:daily")


async def redis_now(client: aioredis.Redis) -> float:
    seconds, micros = await client.time()
    return seconds + micros / 1e6


# -- the window ------------------------------------------------------------------------


async def test_concurrent_budgets_never_overfill_and_fill_the_window(
    make_budget: BudgetFactory,
) -> None:
    requests, per, margin = 20, 0.5, 0.02
    span = per + margin
    budgets = [make_budget() for _ in range(4)]
    slots: list[float] = []
    start = time.monotonic()
    duration = 4 * span

    async def hammer(budget: RedisBudget, name: str) -> None:
        while time.monotonic() - start < duration:
            answer = await budget._reserve(
                requests=requests, per=per, margin=margin, participant=name, adaptive=False
            )
            if answer.reserved:
                slots.append(answer.server_time + answer.wait)
            await asyncio.sleep(answer.wait)

    await asyncio.gather(
        *(hammer(budget, f"p{i}") for i, budget in enumerate(budgets) for _ in range(5))
    )
    slots.sort()
    # The guarantee: any `requests + 1` consecutive slots span at least a window.
    gaps = [slots[i + requests] - slots[i] for i in range(len(slots) - requests)]
    assert min(gaps) >= span - 1e-6
    # And the window is used: a full window's worth leaves every window.
    first = slots[0]
    windows = 3
    in_first_windows = sum(1 for s in slots if s < first + windows * span)
    assert in_first_windows == windows * requests
    assert (await reserve(budgets[0], "p0", requests=requests, per=per)).participants == 4


async def test_time_comes_from_redis_not_the_callers_clock(
    make_budget: BudgetFactory, redis_client: aioredis.Redis
) -> None:
    """A budget on a loop whose clock is an hour ahead agrees with one on a normal loop."""

    class SkewedLoop(asyncio.SelectorEventLoop):
        def time(self) -> float:
            return super().time() + 3600.0

    here = make_budget()
    there = make_budget()
    slots: list[float] = []

    def run_there() -> list[Reservation]:
        async def reserve_there() -> list[Reservation]:
            answers = [await reserve(there, "there", requests=3) for _ in range(3)]
            # The budget's pool belongs to this loop: close it here.
            await there.aclose()
            return answers

        with asyncio.Runner(loop_factory=SkewedLoop) as runner:
            return runner.run(reserve_there())

    first = [await reserve(here, "here", requests=3) for _ in range(3)]
    second = await asyncio.to_thread(run_there)
    third = await reserve(here, "here", requests=3)
    for answer in [*first, *second, third]:
        slots.append(answer.server_time + answer.wait)
    before = await redis_now(redis_client)
    # Nine reservations at 3 per window: three windows, in Redis time.
    assert [a.reserved for a in [*first, *second, third]] == [True] * 7
    assert abs(first[0].server_time - before) < 1.0
    assert second[0].wait == pytest.approx(first[0].server_time + 1.05 - second[0].server_time)
    slots.sort()
    assert all(slots[i + 3] - slots[i] >= 1.05 - 1e-6 for i in range(len(slots) - 3))


async def test_reservations_stop_at_the_horizon_so_the_set_stays_bounded(
    make_budget: BudgetFactory, redis_client: aioredis.Redis
) -> None:
    requests, per, margin = 10, 1.0, 0.05
    budgets = [make_budget() for _ in range(3)]
    answers = await asyncio.gather(
        *(
            reserve(budget, f"p{i}", requests=requests, per=per, margin=margin)
            for i, budget in enumerate(budgets)
            for _ in range(100)
        )
    )
    reserved = [a for a in answers if a.reserved]
    refused = [a for a in answers if not a.reserved]
    assert len(reserved) == (HORIZON_WINDOWS + 1) * requests
    sent = keys_of("test")[0]
    assert await redis_client.zcard(sent) == len(reserved)
    assert max(a.wait for a in reserved) <= HORIZON_WINDOWS * (per + margin) + 1e-6
    # Those refused are told to come back once their slot is within the horizon.
    assert all(0 < a.wait <= per + margin for a in refused)
    # ... while the window ending now is full (scores are Redis microseconds).
    now = await redis_now(redis_client)
    assert await redis_client.zcount(sent, (now - per - margin) * 1e6, now * 1e6) == requests


async def test_every_key_expires_and_shares_one_hash_tag(
    make_budget: BudgetFactory, redis_client: aioredis.Redis
) -> None:
    budget = make_budget("acct-1")
    await reserve(budget)
    await budget._publish_limit(100, 10)
    await budget._pause(0.5)
    await budget._record_sends([0.1], "p")
    await budget._stop_for_the_day()
    await reserve(budget)
    keys = sorted(k.decode() for k in await redis_client.keys("*"))
    assert keys == sorted(keys_of("acct-1"))
    assert all(key.startswith("{hubassoc:acct-1}:") for key in keys)
    for key in keys:
        assert await redis_client.pttl(key) > 0, key


async def test_keys_expire_a_few_windows_after_the_last_call(
    make_budget: BudgetFactory, redis_client: aioredis.Redis
) -> None:
    budget = make_budget()
    await reserve(budget, per=0.05, margin=0.0)
    assert await redis_client.keys("*")
    await asyncio.sleep(0.4)
    assert await redis_client.keys("*") == []


async def test_a_pause_holds_every_participant(make_budget: BudgetFactory) -> None:
    one, other = make_budget(), make_budget()
    await reserve(one, "one")
    assert await one._pause(0.5) == pytest.approx(0.5, abs=0.05)
    # A shorter pause does not shorten it.
    assert await other._pause(0.1) == pytest.approx(0.5, abs=0.05)
    answer = await reserve(other, "other")
    assert answer.reserved
    assert answer.wait == pytest.approx(0.5, abs=0.05)


async def test_a_daily_stop_holds_everyone_until_midnight_in_the_zone(
    make_budget: BudgetFactory, redis_client: aioredis.Redis
) -> None:
    zone = "Pacific/Kiritimati"  # UTC+14: its midnight is never UTC's
    one = make_budget(daily_reset_timezone=zone)
    other = make_budget()
    now = await redis_now(redis_client)
    left = await one._stop_for_the_day()
    local = dt.datetime.fromtimestamp(now, ZoneInfo(zone))
    reset = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), ZoneInfo(zone))
    assert left == pytest.approx(reset.timestamp() - now, abs=1.0)
    daily_key = keys_of("test")[3]
    assert await redis_client.pexpiretime(daily_key) == round(reset.timestamp() * 1000)
    answer = await reserve(other, "other")
    assert answer.daily_stopped
    assert not answer.reserved
    assert answer.wait == pytest.approx(left, abs=1.0)
    # When the key expires (at the reset), everybody goes again.
    await redis_client.pexpire(daily_key, 1)
    await asyncio.sleep(0.01)
    answer = await reserve(other, "other")
    assert answer.reserved
    assert not answer.daily_stopped


async def test_a_learned_limit_is_shared_with_adaptive_participants(
    make_budget: BudgetFactory,
) -> None:
    learner, follower = make_budget(), make_budget()
    await learner._publish_limit(190, 10.0)
    adaptive = await reserve(follower, "f", requests=100, per=10.0, adaptive=True)
    assert (adaptive.requests, adaptive.per) == (190, 10.0)
    fixed = await reserve(follower, "f", requests=100, per=10.0, adaptive=False)
    assert (fixed.requests, fixed.per) == (100, 10.0)


async def test_participants_are_counted_and_forgotten(make_budget: BudgetFactory) -> None:
    budgets = [make_budget() for _ in range(3)]
    for i, budget in enumerate(budgets):
        answer = await reserve(budget, f"host-{i}", per=0.1, margin=0.0)
    assert answer.participants == 3
    assert budgets[2]._health.last_participants == 3
    # Two windows later only those still reserving count.
    await asyncio.sleep(0.25)
    answer = await reserve(budgets[0], "host-0", per=0.1, margin=0.0)
    assert answer.participants == 1


async def test_recorded_sends_count_in_the_window(
    make_budget: BudgetFactory, redis_client: aioredis.Redis
) -> None:
    budget = make_budget()
    await reserve(budget, "rejoining", requests=5)  # stores the window
    added = await budget._record_sends([0.1, 0.2, 0.3, 60.0], "rejoining")
    assert added == 3  # the minute-old send is outside the window
    answer = await reserve(budget, "other", requests=5)
    now = await redis_now(redis_client)
    assert await redis_client.zcount(keys_of("test")[0], (now - 1.05) * 1e6, "+inf") == 5
    assert answer.participants == 2
    answer = await reserve(budget, "other", requests=5)
    # The sixth must wait for the oldest (the send recorded 0.3 s ago) to leave the window.
    assert answer.wait == pytest.approx(1.05 - 0.3, abs=0.05)
    added = await budget._record_sends([0.001] * (MAX_RECORDED_SENDS + 500), "flood")
    assert added == MAX_RECORDED_SENDS


# -- outages ---------------------------------------------------------------------------


async def test_unavailable_within_the_timeout_when_redis_stops_and_back_after(
    make_budget: BudgetFactory, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hubassoc")
    budget = make_budget(timeout=0.25)
    await reserve(budget)
    redis_server.stop()
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(BudgetUnavailable) as caught:
            await reserve(budget, requests=100)
        assert time.monotonic() - started < 0.25 + 0.2
    assert caught.value.key == "test"
    assert not budget._health.available
    redis_server.start()
    answer = await reserve(budget)
    assert answer.reserved
    assert budget._health.available
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "safe share of 100/100 requests" in warnings[0].getMessage()
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum("is back" in info for info in infos) == 1


async def test_unavailable_within_the_timeout_when_redis_hangs(
    make_budget: BudgetFactory, redis_server: RedisServer
) -> None:
    budget = make_budget(timeout=0.2)
    await reserve(budget)
    redis_server.freeze()
    try:
        for call in (
            lambda: reserve(budget),
            lambda: budget._pause(1),
            lambda: budget._publish_limit(10, 1),
            lambda: budget._stop_for_the_day(),
            lambda: budget._record_sends([0.1], "p"),
        ):
            started = time.monotonic()
            with pytest.raises(BudgetUnavailable, match=r"no answer within 0\.2s"):
                await call()
            assert time.monotonic() - started < 0.2 + 0.2
        # More timeouts than the pool has connections: none is leaked.
        for _ in range(12):
            with pytest.raises(BudgetUnavailable):
                await reserve(budget)
    finally:
        redis_server.thaw()
    assert (await reserve(budget)).reserved


async def test_a_shared_client_is_used_and_left_open(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    budget = RedisBudget(redis_client, key="shared")
    assert "(shared)" in repr(budget)
    assert (await reserve(budget)).reserved
    await budget.aclose()
    assert await redis_client.ping()
    with pytest.raises(RuntimeError, match="closed"):
        await reserve(budget)


async def test_the_password_never_shows(
    make_budget: BudgetFactory, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-pw"
    url = f"redis://someone:{secret}@127.0.0.1:{redis_server.port}/0"
    budget = make_budget(redis=url)
    assert secret not in repr(budget)
    with pytest.raises(BudgetUnavailable) as caught:
        await reserve(budget, requests=10)  # the server has no such user
    error = caught.value
    texts = [str(error), repr(error), error.reason, str(error.__cause__), repr(error.__cause__)]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(repr(budget))
    assert all(secret not in text for text in texts), texts
    with pytest.raises(ValueError) as bad:
        RedisBudget(f"http://someone:{secret}@127.0.0.1:1/0", key="k")
    assert secret not in str(bad.value)
    with pytest.raises(ValueError) as bad:
        RedisBudget(f"redis://someone:{secret}@127.0.0.1:notaport/0", key="k")
    assert secret not in str(bad.value)


# -- arguments ---------------------------------------------------------------------------


async def test_a_key_is_resolved_once(
    make_budget: BudgetFactory, redis_client: aioredis.Redis
) -> None:
    budget = make_budget(key=None)
    assert budget.key is None
    with pytest.raises(RuntimeError, match="no key"):
        await reserve(budget)
    assert budget._resolve_key("token-abc") == "token-abc"
    assert budget._resolve_key("other") == "token-abc"
    assert (await reserve(budget)).reserved
    assert await redis_client.exists(keys_of("token-abc")[0])


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"key": "has{brace}"}, ValueError, "braces"),
        ({"key": "has space"}, ValueError, "printable ASCII"),
        ({"key": ""}, ValueError, "1 to 200"),
        ({"key": "k" * 201}, ValueError, "1 to 200"),
        ({"key": 5}, TypeError, "key must be a str"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": float("inf")}, ValueError, "timeout"),
        ({"daily_reset_timezone": "Mars/Olympus"}, ValueError, "IANA"),
        ({"redis": 6379}, TypeError, "redis must be a URL"),
        ({"redis": "redis://"}, ValueError, "no host"),
    ],
)
def test_bad_arguments_are_refused(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    arguments: dict[str, Any] = {"key": "k"}
    arguments.update(options)
    with pytest.raises(error, match=match):
        RedisBudget(arguments.pop("redis", "redis://127.0.0.1:1/0"), **arguments)


def test_hubassoc_imports_without_redis() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import hubassoc, hubassoc._redis_budget as rb\n"
        "try:\n"
        "    rb.RedisBudget('redis://127.0.0.1:1/0', key='k')\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert "pip install 'hubassoc[redis]'" in result.stdout


# -- BudgetHealth: pure logic on a clock passed in ----------------------------------------


def test_health_backs_off_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hubassoc")
    health = BudgetHealth(name="k", retry_interval=1.0, max_retry_interval=4.0)
    assert health.should_try(0.0)
    health.record_success(participants=4)
    # 4 seen: a fifth may have joined since.
    assert health.fallback_share(100) == 20
    error = BudgetUnavailable("down", key="k", reason="down")
    health.record_failure(10.0, error, requests=100)
    assert not health.available
    assert not health.should_try(10.5)
    assert health.should_try(11.0)
    health.record_failure(11.0, error, requests=100)
    assert not health.should_try(12.9) and health.should_try(13.0)
    health.record_failure(13.0, error, requests=100)
    health.record_failure(17.0, error, requests=100)
    assert not health.should_try(20.9) and health.should_try(21.0)  # capped at 4 s
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Redis budget k unavailable (down): pacing locally at a safe share of 20/100 "
        "requests until Redis is back"
    ]
    assert health.record_success(participants=2) is True
    assert health.record_success(participants=2) is False
    assert health.should_try(0.0)
    assert health.fallback_share(3) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "Redis budget k is back: pacing on the shared window again"
    ]
    # The backoff starts over after a success.
    health.record_failure(30.0, error)
    assert not health.should_try(30.9) and health.should_try(31.0)


def test_health_refuses_bad_intervals() -> None:
    with pytest.raises(ValueError):
        BudgetHealth(retry_interval=0)
    with pytest.raises(ValueError):
        BudgetHealth(retry_interval=2, max_retry_interval=1)

"""Several clients, in one process or many, on one rolling window through a real Redis."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from pathlib import Path

import pytest

from hubassoc import (
    AssociationsClient,
    AssociationSpec,
    DailyLimitError,
    OAuthTokens,
    RateLimit,
    RedisBudget,
)
from hubassoc.sandbox import Fault, Sandbox

from .conftest import FAST_RETRY, SandboxFactory
from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent


def pairs(n: int, start: int = 1) -> list[tuple[str, str]]:
    return [(str(i), str(800_000 + i)) for i in range(start, start + n)]


def shared_client(
    sandbox: Sandbox, redis_server: RedisServer, **options: object
) -> AssociationsClient:
    budget = RedisBudget(redis_server.url, key=str(options.pop("key", "test")))
    settings: dict[str, object] = {
        "rate_limit": RateLimit(20, 0.5),
        "retry": FAST_RETRY,
        "max_batch_size": 10,
        **options,
    }
    return AssociationsClient(
        sandbox.token,
        base_url=sandbox.url,
        shared_budget=budget,
        **settings,  # type: ignore[arg-type]
    )


async def told_redis(redis_server: RedisServer, key: str, *fields: str) -> None:
    """Wait (at most 2 s) until the budget ``key`` holds ``fields`` in its state
    hash, or its daily-stop key with no fields: what a client tells Redis in
    the background, seen from Redis itself rather than guessed with a sleep."""
    import redis.asyncio as aioredis

    connection = aioredis.Redis.from_url(redis_server.url)
    state, daily = f"{{hubassoc:{key}}}:state", f"{{hubassoc:{key}}}:daily"
    try:
        for _ in range(200):
            if fields:
                values = await connection.hmget(state, list(fields))
                if all(v is not None for v in values):
                    return
            elif await connection.exists(daily):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"Redis was never told {fields or 'the daily stop'}")
    finally:
        await connection.aclose()


async def associate(client: AssociationsClient, todo: list[tuple[str, str]]) -> list[object]:
    return await asyncio.gather(
        *(client.associate_default("contacts", f, "companies", t) for f, t in todo),
        return_exceptions=True,
    )


async def test_clients_on_one_key_share_one_window_and_fill_it(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    # The sandbox shares this process and its loop: a collection of earlier
    # tests' garbage pausing the loop would hold HubSpot's double too (arrivals
    # bunch up behind the pause), which the real one never does.
    gc.collect()
    gc.freeze()
    sandbox = await sandbox_factory(rate_limit=(20, 1.0), peak_window_seconds=1.0)
    clients = [
        shared_client(sandbox, redis_server, rate_limit=RateLimit(20, 1.0)) for _ in range(4)
    ]
    started = time.monotonic()
    # 4 x 20 requests = 80: four windows' worth, three windows to wait.
    results = await asyncio.gather(
        *(associate(c, pairs(200, 1 + 10_000 * i)) for i, c in enumerate(clients))
    )
    elapsed = time.monotonic() - started
    gc.unfreeze()
    for client in clients:
        await client.aclose()
    assert all(isinstance(r, AssociationSpec) for part in results for r in part)
    assert sum(c.stats.rate_limited for c in clients) == 0
    assert sandbox.stats().peak_window <= 20
    # Together they use the window: three windows of waiting, plus a little.
    assert elapsed < 3 * 1.0 / 0.9


async def test_a_rolling_429_pauses_every_client_on_the_key(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    sandbox = await sandbox_factory()
    sandbox.script([Fault(status=429, policy="TEN_SECONDLY_ROLLING", retry_after=1.0)])
    first = shared_client(sandbox, redis_server, rate_limit=RateLimit(100, 10.0))
    second = shared_client(sandbox, redis_server, rate_limit=RateLimit(100, 10.0))
    started = time.monotonic()
    retried = asyncio.ensure_future(first.associate_default("contacts", 1, "companies", 2))
    await told_redis(redis_server, "test", "paused_until")  # the 429 came back
    assert first.pacing.pauses == 1
    assert await second.associate_default("contacts", 3, "companies", 4)
    held = time.monotonic() - started
    assert await retried
    await first.aclose()
    await second.aclose()
    assert 0.9 < held < 1.6  # the other client held for the pause it never saw


async def test_the_daily_stop_reaches_every_client_on_the_key(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    sandbox = await sandbox_factory()
    sandbox.script([Fault(status=429, policy="DAILY")])
    first = shared_client(sandbox, redis_server, rate_limit=RateLimit(100, 10.0))
    second = shared_client(sandbox, redis_server, rate_limit=RateLimit(100, 10.0))
    with pytest.raises(DailyLimitError):
        await first.associate_default("contacts", 1, "companies", 2)
    await told_redis(redis_server, "test")  # the stop is told in the background
    requests = sandbox.stats().requests
    with pytest.raises(DailyLimitError, match="another client"):
        await second.associate_default("contacts", 3, "companies", 4)
    assert sandbox.stats().requests == requests  # failed fast, nothing sent
    await first.aclose()
    await second.aclose()


async def test_the_daily_budget_is_shared_by_every_client_on_the_key(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    sandbox = await sandbox_factory(daily_limit=5, rate_limit=(100, 10.0))
    first = shared_client(sandbox, redis_server, rate_limit=RateLimit(100, 10.0))
    second = shared_client(sandbox, redis_server, rate_limit=RateLimit(100, 10.0))
    assert await first.associate_default("contacts", 1, "companies", 2)
    await told_redis(redis_server, "test", "daily_left")  # 4 left, told in the background
    outcomes = await asyncio.gather(
        associate(first, pairs(500, 10)), associate(second, pairs(500, 10_000))
    )
    assert sandbox.stats().requests <= 6
    failures = [o for part in outcomes for o in part if isinstance(o, BaseException)]
    assert failures and all(isinstance(o, DailyLimitError) for o in failures)
    for client in (first, second):
        await client.aclose()


async def test_an_adaptive_client_adopts_the_limit_another_learned(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    sandbox = await sandbox_factory(rate_limit=(30, 1.0))
    learner = shared_client(sandbox, redis_server, rate_limit=None)
    assert await learner.associate_default("contacts", 1, "companies", 2)
    await told_redis(redis_server, "test", "requests", "per")  # published in the background
    follower = shared_client(sandbox, redis_server, rate_limit=None)
    await follower.associate_default("contacts", 3, "companies", 4)
    assert follower.pacing.limit == RateLimit(30, 1.0)
    await learner.aclose()
    await follower.aclose()


async def test_the_default_key_is_per_token_and_never_holds_it(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    import redis.asyncio as aioredis

    sandbox = await sandbox_factory()
    token = sandbox.token
    assert token is not None
    budgets = [RedisBudget(redis_server.url) for _ in range(2)]
    clients = [
        AssociationsClient(
            token, base_url=sandbox.url, rate_limit=RateLimit(100, 10.0), shared_budget=budget
        )
        for budget in budgets
    ]
    for client in clients:
        await client.associate_default("contacts", 1, "companies", 2)
    keys = [budget.key for budget in budgets]
    assert keys[0] == keys[1] and keys[0] is not None and keys[0].startswith("token-")
    connection = aioredis.Redis.from_url(redis_server.url)
    stored = [k.decode() for k in await connection.keys("*")]
    dumped = b"".join([await connection.dump(k) or b"" for k in stored])
    await connection.aclose()
    assert stored and all(token not in k for k in stored)
    assert token.encode() not in dumped
    for client in clients:
        await client.aclose()


async def test_an_oauth_client_shares_the_budget_of_its_account(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_hub_id=4242)
    credentials = sandbox.oauth_credentials
    budget = RedisBudget(redis_server.url)
    client = AssociationsClient(
        OAuthTokens(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            refresh_token=credentials.refresh_token,
        ),
        base_url=sandbox.url,
        rate_limit=RateLimit(100, 10.0),
        shared_budget=budget,
    )
    assert await client.associate_default("contacts", 1, "companies", 2)
    assert budget.key == "hub-4242"
    await client.aclose()


async def test_redis_trouble_loses_nothing_and_fails_no_caller(
    sandbox_factory: SandboxFactory, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = await sandbox_factory(rate_limit=(20, 0.5), peak_window_seconds=0.5)
    clients = [shared_client(sandbox, redis_server) for _ in range(2)]
    for client in clients:  # both seen by Redis: each falls back to half the window
        await client.associate_default("contacts", 1, "companies", 2)
    work = [
        asyncio.ensure_future(associate(c, pairs(400, 100 + 10_000 * i)))
        for i, c in enumerate(clients)
    ]
    await asyncio.sleep(0.6)
    redis_server.stop()
    await asyncio.sleep(1.5)
    redis_server.start()
    results = await asyncio.gather(*work)
    for client in clients:
        await client.aclose()
    assert all(isinstance(r, AssociationSpec) for part in results for r in part)
    assert len(sandbox.store_pairs("contacts", "companies")) == 801
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "Redis" in r.message]
    assert 1 <= len(warnings) <= 2  # said once per client, not once per request


async def participants(redis_server: RedisServer, key: str) -> int:
    import redis.asyncio as aioredis

    connection = aioredis.Redis.from_url(redis_server.url)
    try:
        return int(await connection.zcard(f"{{hubassoc:{key}}}:participants"))
    finally:
        await connection.aclose()


@pytest.mark.slow
async def test_processes_sharing_a_budget_survive_redis_going_away(
    sandbox_factory: SandboxFactory, redis_server: RedisServer
) -> None:
    """Three processes on one 40/1 s window; Redis is killed for 1.5 s mid-run.

    Each falls back to its share of the window from what it knew (its own
    sends and reserved slots, the participants), not from an empty window.
    """
    sandbox = await sandbox_factory(rate_limit=(40, 1.0), peak_window_seconds=1.0)
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": sandbox.token or ""}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.shared_worker",
            sandbox.url,
            redis_server.url,
            "procs",
            str(1 + 100_000 * i),
            "600",
            "40",
            "1.0",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(3)
    ]
    for _ in range(1000):  # every process is pacing on the shared window
        if await participants(redis_server, "procs") == 3:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    before = sandbox.stats().by_status.get("429", 0)
    # In a thread: the sandbox shares this loop, and must not stall meanwhile.
    await asyncio.to_thread(redis_server.stop)
    await asyncio.sleep(1.5)
    await asyncio.to_thread(redis_server.start)
    reports = []
    for process in processes:
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()[-2000:]
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert [r["done"] for r in reports] == [600, 600, 600]
    assert len(sandbox.store_pairs("contacts", "companies")) == 1800
    # Through the outage and the rejoining (starting from an empty window, the
    # processes drew 11 to 35).
    assert sandbox.stats().by_status.get("429", 0) - before <= 2

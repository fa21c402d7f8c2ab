"""Shared fixtures: the in-process HubSpot sandbox on 127.0.0.1 and sessions to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hubassoc import AssociationsClient, RetryPolicy
from hubassoc.sandbox import Sandbox, SandboxConfig

# The redis_server / redis_url fixtures: a real redis-server per test.
pytest_plugins = ["tests.redis_server"]

SandboxFactory = Callable[..., Awaitable[Sandbox]]
ClientFactory = Callable[..., AssociationsClient]

#: Retries in tests wait milliseconds, not seconds.
FAST_RETRY = RetryPolicy(
    max_retries=3, backoff_base=0.001, backoff_cap=0.01, locked_min_delay=0.01, rate_limit_wait=0.01
)


@pytest.fixture
async def sandbox_factory() -> AsyncIterator[SandboxFactory]:
    """``await make(config=None, **options)``: a started `Sandbox`, closed after the test."""
    started: list[Sandbox] = []

    async def make(config: SandboxConfig | None = None, /, **options: Any) -> Sandbox:
        sandbox = Sandbox(config, **options)
        await sandbox.start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        await sandbox.close()


@pytest.fixture
async def sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    """A started sandbox with default options (token ``sandbox-token``, no limits)."""
    return await sandbox_factory()


@pytest.fixture
async def sandbox_session(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session with ``base_url`` at `sandbox` and its bearer token set."""
    async with aiohttp.ClientSession(base_url=sandbox.url, headers=sandbox.auth_headers) as session:
        yield session


@pytest.fixture
async def make_client(sandbox: Sandbox) -> AsyncIterator[ClientFactory]:
    """``make_client(target=None, **options)``: a client on ``target`` (default: the
    ``sandbox`` fixture) with fast retries and no pacing unless told; closed after the test."""
    clients: list[AssociationsClient] = []

    def make(target: Sandbox | None = None, **options: Any) -> AssociationsClient:
        target = target or sandbox
        options = {"retry": FAST_RETRY, "rate_limit": False, **options}
        options.setdefault("access_token", target.token)
        client = AssociationsClient(base_url=target.url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()

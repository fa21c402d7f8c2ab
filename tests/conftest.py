"""Shared fixtures: the in-process HubSpot sandbox on 127.0.0.1 and sessions to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hubassoc.sandbox import Sandbox, SandboxConfig

SandboxFactory = Callable[..., Awaitable[Sandbox]]


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

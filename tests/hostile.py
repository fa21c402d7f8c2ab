"""A hostile HTTP server on 127.0.0.1: answers that HubSpot would never send, on purpose.

The sandbox plays HubSpot faithfully; this plays a broken or malicious server
(huge bodies, hour-long ``Retry-After``, answers about other records), each
test giving the one handler it needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

__all__ = ["Handler", "HostileServer", "hostile"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HostileServer:
    """One aiohttp server whose every request goes to ``handler``."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        assert self.handler is not None, "the test gave no handler"
        return await self.handler(request)


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    """A started :class:`HostileServer`; set ``hostile.handler`` in the test."""
    server = HostileServer()
    await server.start()
    yield server
    await server.close()

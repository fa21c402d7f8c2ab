"""The request pipeline every HubSpot API call goes through before its endpoint handler.

`RequestPipeline.serve`, in this order: holds the one-way trip in (half the
configured latency, jittered; see `one_way_trips`), counts the arrival (loop
time), consumes a scripted fault if one is queued, checks the bearer
token (the static one, or an access token the OAuth endpoints issued and that
has not expired: else a 401 ``EXPIRED_AUTHENTICATION``), applies the daily and
rolling-window limits, draws a random fault, holds the trip out, and only then
runs the endpoint handler. A request answered by a fault or a limit
is never processed, so it stores nothing. Every answer carries a correlation id
and, when a limit is set (and ``rate_limit_headers`` is on), the rate-limit
headers as the request found the window on arrival. Each handler runs under an
operation name, counted in `Counters.operations`.

If the client goes away while its request is held, the server (run with
aiohttp's ``handler_cancellation``) cancels the handler: the request is counted
as ``"cancelled"`` and stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from ._call import Call, Handler
from ._echo import echo_secrets, secrets_of_request
from ._faults import Fault
from ._latency import one_way_trips
from ._responses import CORRELATION_HEADER, error_response, json_response
from ._state import StateBound
from ._wire import HTML_502, new_correlation_id, rate_limit_body

__all__ = ["RequestPipeline"]

_AUTH_MISSING: Final = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
    "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_AUTH_INVALID: Final = (
    "Authentication credentials not found or invalid: the access token was not recognised."
)

# Canned (category, message) of injected error statuses.
_FAULT_ERRORS: Final[dict[int, tuple[str, str]]] = {
    400: ("VALIDATION_ERROR", "Invalid input"),
    401: ("INVALID_AUTHENTICATION", _AUTH_MISSING),
    403: ("MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call."),
    404: ("OBJECT_NOT_FOUND", "Resource not found"),
    409: ("CONFLICT", "Conflict"),
    423: ("LOCKED", "The record is locked by another operation; retry in a few seconds."),
    477: ("MIGRATION_IN_PROGRESS", "This account is being migrated; retry after Retry-After."),
    500: ("INTERNAL_ERROR", "Internal error"),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable; try again later."),
    504: ("GATEWAY_TIMEOUT", "The request timed out before the server answered."),
}


class RequestPipeline(StateBound):
    """Arrival counting, auth, limits, faults and latency in front of endpoint handlers."""

    __slots__ = ()

    def wrap(
        self, handler: Handler, operation: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """An aiohttp handler that serves `handler` through the pipeline.

        `operation` names the calls it serves in ``SandboxStats.operations``
        (counted when the handler runs, not for faults, limits or 401s).
        """

        async def counted(request: web.Request, call: Call) -> web.StreamResponse:
            call.generation.counts.operations[operation] += 1
            return await handler(request, call)

        async def serve(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, counted)

        return serve

    async def serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer one API request (see the module docstring for the order of steps)."""
        state = self._state
        trip_in, trip_out = one_way_trips(
            state.config.latency, state.config.jitter, state.generation.rng
        )
        if trip_in > 0:
            # Not arrived yet: a client that gives up now leaves no trace.
            await asyncio.sleep(trip_in)
        now = asyncio.get_running_loop().time()
        state.arrivals.record(now)
        generation = state.generation
        counts = generation.counts
        counts.requests += 1
        call = Call(new_correlation_id(), time.time(), generation)
        config = state.config
        response: web.StreamResponse | None = None
        fault = state.faults.next_scripted()
        if fault is not None and fault.pass_through:
            fault = None
        if fault is None:
            if state.auth_required:
                response = self._authenticate(request.headers.get("Authorization"), call, now)
            if response is None:
                policy = self._admit(now)
                if policy is not None:
                    counts.rate_limited += 1
                    response = json_response(
                        config, rate_limit_body(call.correlation_id, policy), 429
                    )
                else:
                    fault = state.faults.draw()
        # Limit headers describe the window as the request found it on arrival.
        limits = (
            self._rate_headers(now)
            if config.rate_limit_headers
            and (state.limiter is not None or state.daily.limit is not None)
            else None
        )
        try:
            if trip_out > 0:
                await asyncio.sleep(trip_out)
            if fault is not None:
                counts.faults += 1
                if fault.reset:
                    counts.by_status["reset"] += 1
                    return _reset_connection(request)
                response = self._fault_response(fault, call)
            elif response is None:
                response = await handler(request, call)
        except asyncio.CancelledError:
            # The client went away (aiohttp's handler_cancellation) or the server is closing.
            counts.by_status["cancelled"] += 1
            raise
        headers = response.headers
        headers[CORRELATION_HEADER] = call.correlation_id
        if limits is not None:
            headers.update(limits)
        if state.config.echo_authorization and isinstance(response, web.Response):
            echo_secrets(response, secrets_of_request(request))
        counts.by_status[str(response.status)] += 1
        return response

    def _authenticate(self, given: str | None, call: Call, now: float) -> web.Response | None:
        """``None`` if `given` (the Authorization header) is a token in force, else the 401."""
        state = self._state
        config = state.config
        if given is None:
            return self._unauthorized(call, _AUTH_MISSING)
        static = state.auth_header
        if given == static:
            return None
        # The scheme is case-insensitive (RFC 9110); the token is not.
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer":
            return self._unauthorized(call, _AUTH_INVALID)
        token = token.strip()
        if static is not None and token == config.token:
            return None
        expires_at = state.oauth.expires_at(token) if config.oauth else None
        if expires_at is None:
            return self._unauthorized(call, _AUTH_INVALID)
        if now < expires_at:
            return None
        call.generation.counts.oauth_expired += 1
        ago = int(now - expires_at)
        return error_response(
            config,
            call,
            401,
            "EXPIRED_AUTHENTICATION",
            f"The OAuth token used to make this call expired {ago} second(s) ago.",
        )

    def _admit(self, now: float) -> str | None:
        daily = self._state.daily
        if daily.exhausted:
            return "DAILY"
        limiter = self._state.limiter
        if limiter is not None and not limiter.try_admit(now):
            return "TEN_SECONDLY_ROLLING"
        daily.used += 1
        return None

    def _rate_headers(self, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        limiter = self._state.limiter
        if limiter is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(limiter.limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(limiter.remaining(now))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(round(limiter.window * 1000))
        daily = self._state.daily
        if daily.limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(daily.limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(daily.remaining)
        return headers

    def _unauthorized(self, call: Call, message: str) -> web.Response:
        return error_response(self._state.config, call, 401, "INVALID_AUTHENTICATION", message)

    def _fault_response(self, fault: Fault, call: Call) -> web.Response:
        config = self._state.config
        if fault.body is not None:
            response = web.Response(
                body=fault.body, status=fault.status, content_type=fault.content_type
            )
        elif fault.status == 502:
            response = web.Response(body=HTML_502, status=502, content_type="text/html")
        elif fault.status == 429:
            body = rate_limit_body(call.correlation_id, fault.policy or "TEN_SECONDLY_ROLLING")
            if fault.message is not None:
                body["message"] = fault.message
            response = json_response(config, body, 429)
        else:
            category, message = _FAULT_ERRORS.get(fault.status, ("ERROR", "Injected fault"))
            response = error_response(
                config, call, fault.status, category, fault.message or message
            )
        if fault.retry_after is not None:
            seconds = fault.retry_after
            response.headers["Retry-After"] = (
                str(int(seconds)) if seconds == int(seconds) else f"{seconds:g}"
            )
        return response


def _reset_connection(request: web.Request) -> web.StreamResponse:
    """Drop the client's connection with a TCP reset and no answer."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0: close() sends RST instead of FIN, as a crashed proxy would.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # aiohttp cannot write this to the closed transport and drops it quietly.
    return web.Response(status=503)

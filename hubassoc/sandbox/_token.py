"""HubSpot's OAuth token endpoints: ``POST /oauth/v3/token`` and ``POST /oauth/v1/token``.

A refresh is a form-encoded (``application/x-www-form-urlencoded``) body of
``grant_type=refresh_token``, ``client_id``, ``client_secret`` and
``refresh_token``; the answer is HubSpot's snake_case token JSON. Failures
are 400 in HubSpot's OAuth error shape ``{"status": "BAD_REFRESH_TOKEN",
"message", "correlationId", "requestId"}``; a body that is not a form is a 415.
v3 refuses parameters in the query string (servers log query strings); v1
also reads them there, as it used to.

Token requests bypass the request pipeline: no bearer token, no rate limit,
not counted as API requests, no script or random faults. They take the
``oauth_latency`` round trip (default: ``latency`` and ``jitter``), split into
a trip in and a trip out as API calls are; a request is in flight from its
arrival to its answer, so ``oauth_peak_in_flight`` sees refreshes that overlap
at the server.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Final

from aiohttp import web

from ._latency import one_way_trips
from ._oauth import OAuthRefusal, TokenGrant
from ._responses import CORRELATION_HEADER, JSON
from ._state import SandboxState
from ._wire import encode, new_correlation_id

__all__ = ["TokenEndpoint"]

_FORM: Final = "application/x-www-form-urlencoded"
_PARAMETERS: Final = frozenset(
    {"grant_type", "client_id", "client_secret", "refresh_token", "code"}
)
_NO_APP = OAuthRefusal(400, "BAD_CLIENT_ID", "missing or unknown client id")
_QUERY_REFUSED = OAuthRefusal(
    400,
    "BAD_REQUEST",
    "OAuth parameters are not accepted in the query string; send them in the form-encoded body",
)


class TokenEndpoint:
    """The aiohttp handlers of the token endpoints (plain handlers, no pipeline)."""

    __slots__ = ("_state",)

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def __repr__(self) -> str:
        return f"<TokenEndpoint {self._state.oauth!r}>"

    async def v3(self, request: web.Request) -> web.StreamResponse:
        """``POST /oauth/v3/token``: parameters in the body only."""
        return await self._serve(request, query_allowed=False)

    async def v1(self, request: web.Request) -> web.StreamResponse:
        """``POST /oauth/v1/token``: the body, or the query string for what it lacks."""
        return await self._serve(request, query_allowed=True)

    async def _serve(self, request: web.Request, *, query_allowed: bool) -> web.StreamResponse:
        state = self._state
        config = state.config
        if config.oauth_latency is None:
            trips = one_way_trips(config.latency, config.jitter, state.generation.rng)
        else:
            trips = one_way_trips(config.oauth_latency, 0.0, state.generation.rng)
        trip_in, trip_out = trips
        if trip_in > 0:
            await asyncio.sleep(trip_in)
        oauth = state.oauth
        counts = state.generation.counts
        oauth.in_flight += 1
        counts.oauth_peak_in_flight = max(counts.oauth_peak_in_flight, oauth.in_flight)
        try:
            answer = await self._answer(request, query_allowed=query_allowed)
            if trip_out > 0:
                await asyncio.sleep(trip_out)
        finally:
            oauth.in_flight -= 1
        correlation_id = new_correlation_id()
        if isinstance(answer, OAuthRefusal):
            counts.oauth_refresh_errors += 1
            status = answer.http_status
            body = {
                "status": answer.status,
                "message": answer.message,
                "correlationId": correlation_id,
                "requestId": str(uuid.uuid4()),
            }
        else:
            counts.oauth_refreshes += 1
            counts.oauth_tokens.append((answer.issued_at, answer.expires_at))
            status = 200
            body = answer.as_json()
        response = web.Response(body=encode(body), status=status, content_type=JSON)
        response.headers[CORRELATION_HEADER] = correlation_id
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _answer(
        self, request: web.Request, *, query_allowed: bool
    ) -> TokenGrant | OAuthRefusal:
        query = request.query
        if not query_allowed and not _PARAMETERS.isdisjoint(query):
            return _QUERY_REFUSED
        form: dict[str, str] = dict(query) if query_allowed else {}
        if request.body_exists:
            if request.content_type != _FORM:
                return OAuthRefusal(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    f"the body must be {_FORM}, not {request.content_type}",
                )
            posted = await request.post()
            form.update((key, value) for key, value in posted.items() if isinstance(value, str))
        state = self._state
        if not state.config.oauth:
            return _NO_APP
        now = asyncio.get_running_loop().time()
        return state.oauth.grant(form, now, state.config)

"""OAuth access tokens: refresh timing and single flight on the virtual clock, HTTP on 127.0.0.1.

The timing and locking logic is tested with a ``post_form`` that answers from
a script on the virtual clock (no HTTP: what is tested there is who waits and
when). Everything that crosses the wire (the form, the endpoints, HubSpot's
refusals, redaction of what a server echoes) is tested against real servers
on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import msgspec
import pytest
from aiohttp import web

from hubassoc import (
    AssociationsClient,
    AuthenticationError,
    ClientClosedError,
    DecodingError,
    HubSpotError,
    RateLimitError,
    ServerError,
    TransportError,
)
from hubassoc._events import Event, TokenRefreshed, TokenRefreshFailed
from hubassoc._oauth import OAuthTokens, RefreshedTokens, TokenProvider
from hubassoc._retry import RetryPolicy
from hubassoc._transport import Response
from hubassoc.sandbox import Sandbox

from .conftest import SandboxFactory
from .virtual_clock import run_virtual

CLIENT_ID = "8f7e6d5c-1111-2222-3333-444455556666"
CLIENT_SECRET = "s3cr3t-client-secret-value"
REFRESH_TOKEN = "na1-rt00-aaaa-bbbb-cccc-refresh-token-0"
FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_cap=0.05, rate_limit_wait=0.01)


def answer(
    access_token: str,
    expires_in: float = 100.0,
    *,
    refresh_token: str | None = REFRESH_TOKEN,
    hub_id: int | None = 42,
    **extra: Any,
) -> tuple[int, bytes]:
    body: dict[str, Any] = {
        "access_token": access_token,
        "expires_in": expires_in,
        "token_type": "bearer",
        **extra,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if hub_id is not None:
        body["hub_id"] = hub_id
    return 200, msgspec.json.encode(body)


#: One scripted answer: ``(status, body)``, a whole :class:`Response`, or an exception to raise.
Step = tuple[int, bytes] | Response | BaseException


class ScriptedTokenEndpoint:
    """A ``post_form`` for the virtual clock: takes ``latency`` seconds, answers by script.

    Each call pops the next answer (an ``(status, body)`` or an exception to
    raise); without a script it issues ``at-1``, ``at-2``, ... Records every
    form and the most calls that were ever in flight at once.
    """

    def __init__(
        self,
        script: list[Step] | None = None,
        *,
        latency: float = 0.2,
        lifetime: float = 100.0,
    ) -> None:
        self.script = list(script or [])
        self.latency = latency
        self.lifetime = lifetime
        self.calls: list[tuple[str, dict[str, str], float]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, path: str, form: Mapping[str, str]) -> Response:
        self.calls.append((path, dict(form), asyncio.get_running_loop().time()))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        step = self.script.pop(0) if self.script else answer(f"at-{len(self.calls)}", self.lifetime)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, Response):
            return step
        return Response(step[0], {}, step[1])


async def outcomes(tokens: OAuthTokens, callers: int) -> list[BaseException | str]:
    """What ``callers`` concurrent ``get_token()`` calls return or raise."""
    calls = (tokens.get_token() for _ in range(callers))
    return await asyncio.gather(*calls, return_exceptions=True)


def provider(
    endpoint: Callable[[str, Mapping[str, str]], Awaitable[Response]] | None = None,
    *,
    events: list[Event] | None = None,
    max_retry_wait: float = 60.0,
    **options: Any,
) -> OAuthTokens:
    options.setdefault("retry", FAST)
    tokens = OAuthTokens(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN, **options
    )
    if endpoint is not None:
        emit = None if events is None else events.append
        tokens._bind(endpoint, emit=emit, max_retry_wait=max_retry_wait)
    return tokens


# --- construction and wiring -------------------------------------------------------------


def test_it_is_a_token_provider() -> None:
    assert isinstance(provider(), TokenProvider)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("client_id", "", ValueError),
        ("client_secret", "has space", ValueError),
        ("refresh_token", "line\nbreak", ValueError),
        ("refresh_token", "x" * 1025, ValueError),
        ("client_secret", "ünïcode", ValueError),
        ("client_id", 123, TypeError),
    ],
)
def test_credentials_are_checked_without_echoing_them(
    name: str, value: object, error: type[Exception]
) -> None:
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        name: value,
    }
    with pytest.raises(error) as info:
        OAuthTokens(**options)
    assert name in str(info.value)
    if isinstance(value, str) and value:
        assert value not in str(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"token_endpoint": "v2"},
        {"refresh_margin": -1},
        {"refresh_margin": float("nan")},
        {"failure_cooldown": float("inf")},
    ],
)
def test_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        provider(**options)


def test_unbound_provider_says_so() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="not bound"):
            await provider().get_token()

    run_virtual(main)


def test_a_second_client_cannot_bind_it() -> None:
    first, second = ScriptedTokenEndpoint(), ScriptedTokenEndpoint()
    tokens = provider(first)
    tokens._bind(first)  # the same client again is harmless
    with pytest.raises(ValueError, match="one OAuthTokens per client"):
        tokens._bind(second)
    tokens._unbind()
    tokens._bind(second)


def test_repr_shows_no_secret_and_refreshed_tokens_hide_theirs() -> None:
    received: list[RefreshedTokens] = []

    async def main() -> str:
        tokens = provider(ScriptedTokenEndpoint(), on_refresh=received.append)
        await tokens.get_token()
        return f"{tokens!r} {tokens!s} {received[0]!r} {received[0]!s}"

    text = run_virtual(main)
    assert CLIENT_ID in text and "hub_id=42" in text
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, "at-1"):
        assert secret not in text


# --- timing and single flight (virtual clock) ---------------------------------------------


def test_first_call_refreshes_then_the_token_is_cached_without_io() -> None:
    events: list[Event] = []
    endpoint = ScriptedTokenEndpoint()

    async def main() -> tuple[str, str, float | None]:
        tokens = provider(endpoint, events=events)
        first = await tokens.get_token()
        await asyncio.sleep(50)
        second = await tokens.get_token()
        return first, second, tokens.expires_at

    first, second, expires_at = run_virtual(main)
    assert first == second == "at-1"
    assert len(endpoint.calls) == 1
    path, form, sent_at = endpoint.calls[0]
    assert path == "/oauth/v3/token"
    assert form == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    # The lifetime counts from when the request left, not from the answer.
    assert expires_at == pytest.approx(sent_at + 100.0)
    assert events == [
        TokenRefreshed(seconds=pytest.approx(0.2), expires_in=100.0, hub_id=42, reason="first")
    ]


@pytest.mark.parametrize(("lifetime", "margin"), [(100.0, 10.0), (1800.0, 60.0), (4.0, 0.4)])
def test_many_callers_over_many_lifetimes_cause_one_refresh_per_lifetime(
    lifetime: float, margin: float
) -> None:
    """200 callers every tenth of a lifetime: one refresh per lifetime, never two at once,
    each one ``margin`` before the expiry (default margin: min(60 s, 10%))."""
    endpoint = ScriptedTokenEndpoint(lifetime=lifetime, latency=lifetime / 1000)
    lifetimes = 6

    async def main() -> list[tuple[float, str, float]]:
        tokens = provider(endpoint)
        loop = asyncio.get_running_loop()
        seen: list[tuple[float, str, float]] = []

        async def call() -> None:
            token = await tokens.get_token()
            assert tokens.expires_at is not None
            seen.append((loop.time(), token, tokens.expires_at))

        step = lifetime / 10
        for _ in range(lifetimes * 10):
            await asyncio.gather(*(call() for _ in range(200)))
            await asyncio.sleep(step)
        return seen

    seen = run_virtual(main)
    assert endpoint.max_in_flight == 1
    sent = [at for _, _, at in endpoint.calls]
    # The callers ran for ``lifetimes`` lifetimes; a token serves lifetime - margin.
    assert len(sent) == 1 + int((sent[-1] - sent[0]) // (lifetime - margin - 1e-6))
    assert lifetimes <= len(sent) <= lifetimes * lifetime / (lifetime - margin) + 1
    for earlier, later in itertools.pairwise(sent):
        # Due at expiry - margin; the callers come every tenth of a lifetime.
        assert lifetime - margin - 1e-6 <= later - earlier < lifetime - margin + lifetime / 10
    # Nobody was ever handed a token past its expiry, nor one within the margin.
    for at, _token, expires_at in seen:
        assert at < expires_at - margin + 1e-6


def test_a_rejected_token_is_refreshed_once_for_all_who_saw_it() -> None:
    events: list[Event] = []
    endpoint = ScriptedTokenEndpoint()

    async def main() -> tuple[list[str], str, str]:
        tokens = provider(endpoint, events=events)
        old = await tokens.get_token()
        fresh = await asyncio.gather(*(tokens.get_token(rejected=old) for _ in range(50)))
        # A caller that reports the old token late does not cause another refresh.
        late = await tokens.get_token(rejected=old)
        # The new one refused in turn: one more refresh.
        newer = await tokens.get_token(rejected=fresh[0])
        return fresh, late, newer

    fresh, late, newer = run_virtual(main)
    assert set(fresh) == {"at-2"} and late == "at-2" and newer == "at-3"
    assert len(endpoint.calls) == 3 and endpoint.max_in_flight == 1
    assert [e.reason for e in events if isinstance(e, TokenRefreshed)] == [
        "first",
        "rejected",
        "rejected",
    ]


def test_a_cancelled_caller_does_not_cancel_the_refresh_others_wait_for() -> None:
    endpoint = ScriptedTokenEndpoint(latency=1.0)

    async def main() -> str:
        tokens = provider(endpoint)
        first = asyncio.create_task(tokens.get_token())
        await asyncio.sleep(0.1)
        others = asyncio.gather(*(tokens.get_token() for _ in range(10)))
        await asyncio.sleep(0.1)
        first.cancel()
        results = await others
        assert first.cancelled()
        assert set(results) == {"at-1"}
        return await tokens.get_token()

    assert run_virtual(main) == "at-1"
    assert len(endpoint.calls) == 1


def test_a_refused_refresh_fails_every_caller_and_is_remembered() -> None:
    events: list[Event] = []
    refusal = (400, b'{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}')
    endpoint = ScriptedTokenEndpoint([refusal, refusal])

    async def main() -> list[BaseException | str]:
        tokens = provider(endpoint, events=events, failure_cooldown=30.0)
        first = await outcomes(tokens, 100)
        # Within the cool-down: fail at once, no request.
        loop = asyncio.get_running_loop()
        before = loop.time()
        later = await outcomes(tokens, 100)
        assert loop.time() - before < 0.01
        assert len(endpoint.calls) == 1
        assert "failed" in repr(tokens)
        # After it: one more try (refused again).
        await asyncio.sleep(30)
        again = await outcomes(tokens, 10)
        assert len(endpoint.calls) == 2
        # A new refresh token (the user authorized again) works at once.
        tokens.reset(refresh_token="na1-new-refresh-token")
        token = await tokens.get_token()
        assert endpoint.calls[-1][1]["refresh_token"] == "na1-new-refresh-token"
        return [*first, *later, *again, token]

    results = run_virtual(main)
    errors = results[:-1]
    assert all(isinstance(e, AuthenticationError) for e in errors)
    # Each caller its own error object, all alike.
    assert len({id(e) for e in errors}) == len(errors)
    first = errors[0]
    assert isinstance(first, AuthenticationError)
    assert first.status == 400 and first.category == "BAD_REFRESH_TOKEN"
    assert "missing or unknown refresh token" in first.message
    assert "authorized again" in first.message
    assert {(e.status, e.category, e.message) for e in errors if isinstance(e, HubSpotError)} == {
        (first.status, first.category, first.message)
    }
    assert results[-1] == "at-3"
    assert [e for e in events if isinstance(e, TokenRefreshFailed)] == [
        TokenRefreshFailed(status=400, category="BAD_REFRESH_TOKEN")
    ] * 2


def test_server_errors_are_retried_then_fail_the_callers_without_being_remembered() -> None:
    endpoint = ScriptedTokenEndpoint([(503, b"<html>down</html>")] * 3)

    async def main() -> tuple[list[BaseException | str], str]:
        tokens = provider(endpoint)
        failed = await outcomes(tokens, 20)
        return failed, await tokens.get_token()

    failed, token = run_virtual(main)
    assert all(isinstance(e, ServerError) and e.status == 503 for e in failed)
    assert len(endpoint.calls) == 4  # three attempts (two retries), then one that worked
    assert token == "at-4"


RATE_LIMITED = b'{"status":"error","message":"You have reached your secondly limit."}'


def test_a_429_from_the_token_endpoint_waits_its_retry_after() -> None:
    """The policy alone would wait ``rate_limit_wait`` (0.01 s): HubSpot asked for 3 s."""
    endpoint = ScriptedTokenEndpoint(
        [Response(429, {"Retry-After": "3"}, RATE_LIMITED), answer("at-after-the-wait")]
    )

    async def main() -> str:
        return await provider(endpoint).get_token()

    assert run_virtual(main) == "at-after-the-wait"
    first, second = (at for _, _, at in endpoint.calls)
    assert second - first == pytest.approx(3.2, abs=1e-3)  # the answer's latency, then the wait


def test_a_retry_after_longer_than_max_retry_wait_fails_the_refresh_at_once() -> None:
    endpoint = ScriptedTokenEndpoint([Response(429, {"Retry-After": "3600"}, RATE_LIMITED)])

    async def main() -> tuple[BaseException | str, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        [outcome] = await outcomes(provider(endpoint, max_retry_wait=5.0), 1)
        return outcome, loop.time() - started

    error, took = run_virtual(main)
    assert isinstance(error, RateLimitError) and error.status == 429
    assert error.retry_after == 3600
    assert "rate limited" in error.message
    assert len(endpoint.calls) == 1 and took == pytest.approx(0.2, abs=1e-3)


def test_no_answer_becomes_transport_error_after_retries() -> None:
    endpoint = ScriptedTokenEndpoint([TransportError("connection refused")] * 3)

    async def main() -> None:
        with pytest.raises(TransportError, match="after 3 attempt"):
            await provider(endpoint).get_token()

    run_virtual(main)


def test_a_failed_refresh_ahead_of_expiry_keeps_serving_the_valid_token() -> None:
    endpoint = ScriptedTokenEndpoint(
        [answer("at-1", 100.0), *[(502, b"")] * 3, answer("at-2", 100.0)]
    )

    async def main() -> list[str]:
        tokens = provider(endpoint)
        got = [await tokens.get_token()]
        await asyncio.sleep(91)  # due (margin 10 s), not expired
        got.append(await tokens.get_token())  # the refresh fails: the old token still works
        got.append(await tokens.get_token())  # not retried at once
        await asyncio.sleep(5)
        got.append(await tokens.get_token())  # retried a little later
        return got

    assert run_virtual(main) == ["at-1", "at-1", "at-1", "at-2"]
    assert len(endpoint.calls) == 5


def test_on_refresh_gets_every_rotation_before_waiting_callers_get_the_token() -> None:
    received: list[RefreshedTokens] = []
    order: list[str] = []
    endpoint = ScriptedTokenEndpoint(
        [
            answer("at-1", refresh_token="na1-rt-1", scopes=["crm.objects.contacts.write"]),
            answer("at-2", refresh_token="na1-rt-1"),
            answer("at-3", refresh_token=None, hub_id=None),
        ]
    )

    async def on_refresh(tokens: RefreshedTokens) -> None:
        await asyncio.sleep(1)
        received.append(tokens)
        order.append("on_refresh")

    async def main() -> None:
        tokens = provider(endpoint, on_refresh=on_refresh)
        for _ in range(3):
            await tokens.get_token(rejected=tokens._token)
            order.append("caller")

    run_virtual(main)
    assert order == ["on_refresh", "caller"] * 3
    assert [(t.access_token, t.refresh_token, t.refresh_token_rotated) for t in received] == [
        ("at-1", "na1-rt-1", True),
        ("at-2", "na1-rt-1", False),
        ("at-3", "na1-rt-1", False),
    ]
    assert received[0].scopes == ("crm.objects.contacts.write",) and received[0].hub_id == 42
    # The rotated refresh token is the one used from then on.
    assert [form["refresh_token"] for _, form, _ in endpoint.calls] == [
        REFRESH_TOKEN,
        "na1-rt-1",
        "na1-rt-1",
    ]


def test_a_failing_on_refresh_is_logged_redacted_and_fails_nobody(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def on_refresh(tokens: RefreshedTokens) -> None:
        raise OSError(f"cannot write {tokens.refresh_token} / {tokens.access_token}")

    token = "CJ-access-token-0001"  # as long as a real one: shorter ones are not redacted

    async def main() -> str:
        endpoint = ScriptedTokenEndpoint([answer(token)])
        return await provider(endpoint, on_refresh=on_refresh).get_token()

    with caplog.at_level(logging.DEBUG, logger="hubassoc"):
        assert run_virtual(main) == token
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "on_refresh raised" in text and "OSError" in text and "cannot write" in text
    assert REFRESH_TOKEN not in text and token not in text


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"access_token": "a b", "expires_in": 100}', "printable ASCII"),
        (b'{"access_token": "a\\u0000b", "expires_in": 100}', "printable ASCII"),
        (msgspec.json.encode({"access_token": "x" * 5000, "expires_in": 100}), "longer than"),
        (b'{"access_token": "ok", "expires_in": 0}', "expires_in"),
        (b'{"access_token": "ok"}', "expires_in"),
        (b'{"access_token": "ok", "expires_in": 1e12}', "expires_in"),
        (b"not json", "JSON"),
        (b" " * 70_000, "bytes"),
        (b'{"access_token": "ok", "expires_in": 9, "refresh_token": ""}', "refresh_token"),
    ],
)
def test_an_unusable_answer_is_an_authentication_error(body: bytes, why: str) -> None:
    async def main() -> None:
        with pytest.raises(AuthenticationError, match="not a usable token") as info:
            await provider(ScriptedTokenEndpoint([(200, body)])).get_token()
        assert why in info.value.message

    run_virtual(main)


def test_token_of_300_characters_and_lenient_extras_are_accepted() -> None:
    long_token = "CJ" + "a1B2-_." * 42 + "x" * 4  # 300 characters
    assert len(long_token) == 300
    body = msgspec.json.encode(
        {
            "access_token": long_token,
            "expires_in": 1800,
            "hub_id": "12345",
            "scope": "oauth crm.objects.contacts.read",
            "user_id": 7,
            "something_new": {"nested": [1, 2]},
        }
    )
    received: list[RefreshedTokens] = []

    async def main() -> str:
        return await provider(
            ScriptedTokenEndpoint([(200, body)]), on_refresh=received.append
        ).get_token()

    assert run_virtual(main) == long_token
    assert received[0].hub_id == 12345
    assert received[0].scopes == ("oauth", "crm.objects.contacts.read")
    assert received[0].refresh_token == REFRESH_TOKEN and not received[0].refresh_token_rotated


def test_errors_survive_pickling_without_secrets() -> None:
    echo = msgspec.json.encode(
        {"status": "BAD_CLIENT_ID", "message": f"bad client_secret={CLIENT_SECRET}"}
    )

    async def main() -> BaseException:
        try:
            await provider(ScriptedTokenEndpoint([(400, echo)])).get_token()
        except AuthenticationError as exc:
            return exc
        raise AssertionError("no error")

    error = pickle.loads(pickle.dumps(run_virtual(main)))
    assert isinstance(error, AuthenticationError) and error.category == "BAD_CLIENT_ID"
    assert CLIENT_SECRET not in repr(error) and "[redacted]" in error.message


def test_a_transport_error_that_quotes_the_form_is_redacted() -> None:
    async def leaky(path: str, form: Mapping[str, str]) -> Response:
        raise TransportError(f"POST {path} with {dict(form)} failed")

    async def main() -> None:
        with pytest.raises(TransportError) as info:
            await provider(leaky).get_token()
        text = f"{info.value!r} {info.value!s} {info.value.__cause__!r}"
        assert CLIENT_SECRET not in text and REFRESH_TOKEN not in text
        assert "[redacted]" in text

    run_virtual(main)


def test_unbinding_during_a_refresh_closes_the_waiters_not_cancels_them() -> None:
    endpoint = ScriptedTokenEndpoint(latency=1.0)

    async def main() -> None:
        tokens = provider(endpoint)
        waiters = asyncio.gather(*(tokens.get_token() for _ in range(5)), return_exceptions=True)
        await asyncio.sleep(0.5)
        tokens._unbind()
        results = await waiters
        assert all(isinstance(r, ClientClosedError) for r in results), results
        assert "unbound" in repr(tokens)

    run_virtual(main)


def test_an_answer_the_client_refused_is_no_usable_token() -> None:
    async def too_large(path: str, form: Mapping[str, str]) -> Response:
        raise DecodingError("the response body is larger than the cap", status=200)

    async def main() -> None:
        with pytest.raises(AuthenticationError, match="larger than the cap"):
            await provider(too_large).get_token()

    run_virtual(main)


# --- over HTTP: the sandbox and a tiny token server on 127.0.0.1 -------------------------

# Secrets with characters that a form percent-encodes, so an echo of the raw
# body is caught as well as an echo of the decoded values.
ODD_SECRET = "s3cr3t/with+odd=chars&more~x"
ODD_REFRESH = "na1-rt/odd+refresh=token&x"
API_PATH = "/crm/v4/associations/definitions/configurations/all"


def post_form_over(
    session: aiohttp.ClientSession, base_url: str, *, max_bytes: int = 1 << 20
) -> Callable[[str, Mapping[str, str]], Awaitable[Response]]:
    """What the client binds: a form POST on its session, no retries, a size cap."""

    async def post_form(path: str, form: Mapping[str, str]) -> Response:
        try:
            async with session.post(
                base_url + path,
                data=dict(form),
                timeout=aiohttp.ClientTimeout(total=5),
                allow_redirects=False,
            ) as resp:
                return Response(resp.status, resp.headers, await resp.content.read(max_bytes + 1))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"POST {path} failed: {type(exc).__name__}") from exc

    return post_form


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def oauth_sandbox(sandbox_factory: SandboxFactory, **options: Any) -> Sandbox:
    options = {"oauth": True, "oauth_only": True, "latency": 0.0, **options}
    return await sandbox_factory(**options)


def sandbox_tokens(
    sandbox: Sandbox,
    session: aiohttp.ClientSession,
    *,
    events: list[Event] | None = None,
    **options: Any,
) -> OAuthTokens:
    """An OAuthTokens with the sandbox's credentials, bound to a form POST on ``session``."""
    credentials = sandbox.oauth_credentials
    options.setdefault("retry", FAST)
    tokens = OAuthTokens(
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        refresh_token=credentials.refresh_token,
        **options,
    )
    tokens._bind(
        post_form_over(session, sandbox.url), emit=None if events is None else events.append
    )
    return tokens


async def api_call(
    sandbox: Sandbox, session: aiohttp.ClientSession, tokens: OAuthTokens
) -> tuple[int, int]:
    """One API call as the transport makes it: a 401 EXPIRED_AUTHENTICATION is reported
    with ``rejected=`` and the call sent once more. Returns (first status, final status)."""
    token = await tokens.get_token()
    statuses = []
    for _ in range(2):
        async with session.get(
            sandbox.url + API_PATH, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            body = await resp.json()
            statuses.append(resp.status)
        if resp.status != 401:
            break
        assert body["category"] == "EXPIRED_AUTHENTICATION"
        token = await tokens.get_token(rejected=token)
    return statuses[0], statuses[-1]


async def test_sandbox_refreshes_ahead_of_expiry_one_at_a_time_for_200_callers(
    sandbox_factory: SandboxFactory, http: aiohttp.ClientSession
) -> None:
    lifetime = 1.0  # the sandbox announces whole seconds
    margin = 0.3  # wider than the default 10%, so a busy machine cannot miss it
    sandbox = await oauth_sandbox(
        sandbox_factory, oauth_token_lifetime=lifetime, oauth_latency=0.02
    )
    events: list[Event] = []
    tokens = sandbox_tokens(sandbox, http, events=events, refresh_margin=margin)
    loop = asyncio.get_running_loop()
    started = loop.time()
    handed: list[tuple[float, float]] = []

    async def caller(index: int) -> None:
        token = await tokens.get_token()
        assert tokens.expires_at is not None
        handed.append((loop.time(), tokens.expires_at))
        if index < 4:  # a few of them use it, so the server checks it
            assert await api_call(sandbox, http, tokens) == (200, 200)
        else:
            assert token

    while loop.time() - started < 3.3 * lifetime:
        await asyncio.gather(*(caller(i) for i in range(200)))
        await asyncio.sleep(0.05)

    stats = sandbox.stats()
    assert stats.oauth_expired == 0  # never an expired token on the wire
    assert stats.oauth_peak_in_flight == 1  # never two refreshes at once
    assert stats.oauth_refresh_errors == 0
    assert stats.oauth_refreshes == tokens.refreshes == len(events)
    assert 4 <= stats.oauth_refreshes <= 6  # one per 0.7 s over 3.3 s
    issued = stats.oauth_tokens
    for (_, expires), (next_issued, _) in itertools.pairwise(issued):
        # The next token came before the last expired, and not much earlier than due
        # (when it is due is the virtual-clock tests' business; here, only roughly).
        assert expires - margin - 0.1 <= next_issued < expires
    assert all(at < expires_at for at, expires_at in handed)
    assert next(e.reason for e in events if isinstance(e, TokenRefreshed)) == "first"
    assert tokens.hub_id == sandbox.oauth_credentials.hub_id


async def test_sandbox_expired_tokens_cause_one_refresh_for_many_requests(
    sandbox_factory: SandboxFactory, http: aiohttp.ClientSession
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory, oauth_latency=0.05)
    events: list[Event] = []
    tokens = sandbox_tokens(sandbox, http, events=events)
    await tokens.get_token()
    assert sandbox.expire_access_tokens() == 1

    results = await asyncio.gather(*(api_call(sandbox, http, tokens) for _ in range(50)))

    assert set(results) == {(401, 200)}
    stats = sandbox.stats()
    assert stats.oauth_expired == 50
    assert stats.oauth_refreshes == 2 and stats.oauth_peak_in_flight == 1
    assert [e.reason for e in events if isinstance(e, TokenRefreshed)] == ["first", "rejected"]


async def test_sandbox_revoked_refresh_token_fails_every_caller_once(
    sandbox_factory: SandboxFactory, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hubassoc")
    sandbox = await oauth_sandbox(sandbox_factory, oauth_latency=0.05)
    events: list[Event] = []
    tokens = sandbox_tokens(sandbox, http, failure_cooldown=60.0, events=events)
    old = await tokens.get_token()
    sandbox.revoke_refresh_token()
    sandbox.expire_access_tokens()

    first = await asyncio.gather(
        *(tokens.get_token(rejected=old) for _ in range(100)), return_exceptions=True
    )
    for _ in range(20):  # a caller retrying in a loop: no request (counted below)
        with pytest.raises(AuthenticationError, match="refresh token is wrong or revoked"):
            await tokens.get_token()

    assert all(isinstance(e, AuthenticationError) for e in first)
    assert len({id(e) for e in first}) == 100
    error = first[0]
    assert isinstance(error, AuthenticationError)
    assert (error.status, error.category) == (400, "BAD_REFRESH_TOKEN")
    assert error.correlation_id  # HubSpot's, to quote to support
    stats = sandbox.stats()
    assert stats.oauth_refresh_errors == 1 and stats.oauth_refreshes == 1
    assert [e for e in events if isinstance(e, TokenRefreshFailed)] == [
        TokenRefreshFailed(status=400, category="BAD_REFRESH_TOKEN")
    ]
    # Installed again: a new refresh token works at once.
    sandbox.configure(oauth_refresh_token="na1-installed-again-0000")
    tokens.reset(refresh_token="na1-installed-again-0000")
    assert await api_call(sandbox, http, tokens) == (200, 200)
    secrets = (sandbox.oauth_credentials.client_secret, "na1-installed-again-0000", old)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refresh refused" in logged
    for secret in secrets:
        assert secret not in logged and secret not in repr(tokens)


async def test_sandbox_rotated_refresh_tokens_reach_on_refresh_and_are_used(
    sandbox_factory: SandboxFactory, http: aiohttp.ClientSession
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory, oauth_rotate_refresh_tokens=True)
    installed = sandbox.oauth_credentials.refresh_token
    received: list[RefreshedTokens] = []

    async def on_refresh(refreshed: RefreshedTokens) -> None:
        received.append(refreshed)

    tokens = sandbox_tokens(sandbox, http, on_refresh=on_refresh)
    for _ in range(3):
        sandbox.expire_access_tokens()
        assert await api_call(sandbox, http, tokens) in {(401, 200), (200, 200)}

    assert len(received) == 3 and all(r.refresh_token_rotated for r in received)
    rotated = [r.refresh_token for r in received]
    assert len({installed, *rotated}) == 4
    # What on_refresh got last is what the sandbox now accepts (each one retired the last).
    assert rotated[-1] == sandbox.oauth_credentials.refresh_token
    assert received[0].hub_id == sandbox.oauth_credentials.hub_id
    assert "crm.objects.contacts.write" in received[0].scopes
    assert 200 <= len(received[0].access_token) <= 300
    assert sandbox.stats().oauth_refresh_errors == 0


@pytest.mark.parametrize("endpoint", ["v3", "v1"])
async def test_sandbox_serves_both_token_endpoints(
    sandbox_factory: SandboxFactory, http: aiohttp.ClientSession, endpoint: str
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory)
    tokens = sandbox_tokens(sandbox, http, token_endpoint=endpoint)
    assert f"/oauth/{endpoint}/token" in repr(tokens)
    assert await api_call(sandbox, http, tokens) == (200, 200)
    assert sandbox.stats().oauth_refreshes == 1


async def test_sandbox_wrong_client_secret_is_an_authentication_error(
    sandbox_factory: SandboxFactory, http: aiohttp.ClientSession
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory)
    credentials = sandbox.oauth_credentials
    tokens = OAuthTokens(
        client_id=credentials.client_id,
        client_secret="not-the-secret-at-all",
        refresh_token=credentials.refresh_token,
    )
    tokens._bind(post_form_over(http, sandbox.url))
    with pytest.raises(AuthenticationError) as info:
        await tokens.get_token()
    assert (info.value.status, info.value.category) == (400, "BAD_CLIENT_SECRET")
    assert "not-the-secret-at-all" not in repr(info.value)


class TokenServer:
    """A tiny token endpoint on 127.0.0.1 that records what it got and answers by script.

    Each step is ``(status, body_builder)``; the builder gets the raw body and
    the parsed form, so a step can echo them back. ``headers`` go on every answer.
    """

    def __init__(self) -> None:
        self.steps: list[tuple[int, Callable[[bytes, dict[str, str]], bytes]]] = []
        self.seen: list[tuple[str, str, str, dict[str, str]]] = []
        self.url = ""
        self.headers: dict[str, str] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.seen.append((request.path, request.query_string, request.content_type, form))
        status, build = self.steps.pop(0)
        body = build(raw, form)
        return web.Response(
            status=status, body=body, content_type="application/json", headers=self.headers
        )


@pytest.fixture
async def token_server() -> AsyncIterator[TokenServer]:
    server = TokenServer()
    await server.start()
    yield server
    await server.close()


def echo_error(raw: bytes, form: dict[str, str]) -> bytes:
    """HubSpot's error shape with every field an echo of what was sent."""
    return msgspec.json.encode(
        {
            "status": form["refresh_token"],
            "message": f"bad form {raw.decode()} / {form}",
            "correlationId": form["client_secret"],
            "category": form["refresh_token"],
            "error_description": form["client_secret"],
            "context": {"secret": [form["client_secret"]]},
        }
    )


async def test_the_form_goes_in_the_body_to_the_chosen_path(
    token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    token_server.steps = [(200, lambda raw, form: answer("AT-v1")[1])] * 2
    for endpoint in ("v1", "v3"):
        tokens = OAuthTokens(
            client_id=CLIENT_ID,
            client_secret=ODD_SECRET,
            refresh_token=ODD_REFRESH,
            token_endpoint=endpoint,  # type: ignore[arg-type]
        )
        tokens._bind(post_form_over(http, token_server.url))
        assert await tokens.get_token() == "AT-v1"
    assert token_server.seen == [
        (
            f"/oauth/{endpoint}/token",
            "",
            "application/x-www-form-urlencoded",
            {
                "grant_type": "refresh_token",
                "client_id": CLIENT_ID,
                "client_secret": ODD_SECRET,
                "refresh_token": ODD_REFRESH,
            },
        )
        for endpoint in ("v1", "v3")
    ]


@pytest.mark.parametrize("status", [400, 401, 403, 503, 200])
async def test_secrets_echoed_by_the_token_endpoint_go_nowhere(
    token_server: TokenServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG, logger="hubassoc")
    old_token = "AT-old-access-token-0001"
    token_server.steps = [
        (200, lambda raw, form: answer(old_token)[1]),
        # The refused token echoed too, and a 200 that is no token answer.
        *[
            (
                status,
                lambda raw, form: echo_error(raw, form).replace(b'"bad', f'"{old_token}'.encode()),
            )
        ]
        * 3,
    ]
    events: list[Event] = []
    tokens = OAuthTokens(
        client_id=CLIENT_ID, client_secret=ODD_SECRET, refresh_token=ODD_REFRESH, retry=FAST
    )
    tokens._bind(post_form_over(http, token_server.url), emit=events.append)
    assert await tokens.get_token() == old_token
    with pytest.raises(HubSpotError) as info:
        await tokens.get_token(rejected=old_token)
    error = info.value
    assert type(error) is (ServerError if status == 503 else AuthenticationError)
    assert "[redacted]" in error.message or status == 200
    texts = [
        repr(error),
        str(error),
        repr(vars(error)),
        repr(error.args),
        repr(tokens),
        repr(events),
        msgspec.json.encode(events).decode(),
        "\n".join(r.getMessage() for r in caplog.records),
        "\n".join(str(r.args) for r in caplog.records),
    ]
    forbidden = [ODD_SECRET, ODD_REFRESH, old_token]
    forbidden += [quote_plus(s) for s in forbidden] + [quote(s, safe="") for s in forbidden]
    for text in texts:
        for secret in forbidden:
            assert secret not in text
    assert error.category is None and error.correlation_id is None  # both were secrets


async def test_300_character_tokens_are_accepted_over_http(
    token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    long_token = "CO" + "x1-_" * 74 + "zz"
    assert len(long_token) == 300
    token_server.steps = [(200, lambda raw, form: answer(long_token, 1800)[1])]
    tokens = provider(post_form_over(http, token_server.url))
    assert await tokens.get_token() == long_token


async def test_no_answer_at_all_is_a_transport_error_after_retries(
    http: aiohttp.ClientSession,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events: list[Event] = []
    tokens = provider()
    tokens._bind(post_form_over(http, f"http://127.0.0.1:{port}"), emit=events.append)
    with pytest.raises(TransportError, match="after 3 attempt"):
        await tokens.get_token()
    assert events == [TokenRefreshFailed(status=None, category=None)]


async def test_server_errors_are_retried_over_http(
    token_server: TokenServer, http: aiohttp.ClientSession
) -> None:
    token_server.steps = [
        (502, lambda raw, form: b"<html>bad gateway</html>"),
        (503, lambda raw, form: b'{"status":"error","message":"try later"}'),
        (200, lambda raw, form: answer("AT-after-retries")[1]),
    ]
    tokens = provider(post_form_over(http, token_server.url))
    assert await tokens.get_token() == "AT-after-retries"
    assert len(token_server.seen) == 3


async def test_the_client_carries_a_token_endpoint_retry_after_and_caps_it(
    token_server: TokenServer,
) -> None:
    """Through the client's own transport: the 429's headers reach the provider, and the
    client's ``max_retry_wait`` caps what it would wait."""
    token_server.steps = [(429, lambda raw, form: RATE_LIMITED)]
    token_server.headers = {"Retry-After": "3600"}
    tokens = provider()
    async with AssociationsClient(tokens, base_url=token_server.url, max_retry_wait=5.0):
        with pytest.raises(RateLimitError) as info:
            await tokens.get_token()
    assert info.value.retry_after == 3600
    assert len(token_server.seen) == 1  # not retried: the wait is over max_retry_wait

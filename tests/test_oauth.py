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
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
import pytest

from hubassoc import AuthenticationError, HubSpotError, ServerError, TransportError
from hubassoc._events import Event, TokenRefreshed, TokenRefreshFailed
from hubassoc._oauth import OAuthTokens, RefreshedTokens, TokenProvider
from hubassoc._retry import RetryPolicy

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


class ScriptedTokenEndpoint:
    """A ``post_form`` for the virtual clock: takes ``latency`` seconds, answers by script.

    Each call pops the next answer (an ``(status, body)`` or an exception to
    raise); without a script it issues ``at-1``, ``at-2``, ... Records every
    form and the most calls that were ever in flight at once.
    """

    def __init__(
        self,
        script: list[tuple[int, bytes] | BaseException] | None = None,
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

    async def __call__(self, path: str, form: Mapping[str, str]) -> tuple[int, bytes]:
        self.calls.append((path, dict(form), asyncio.get_running_loop().time()))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            return step
        return answer(f"at-{len(self.calls)}", self.lifetime)


async def outcomes(tokens: OAuthTokens, callers: int) -> list[BaseException | str]:
    """What ``callers`` concurrent ``get_token()`` calls return or raise."""
    calls = (tokens.get_token() for _ in range(callers))
    return await asyncio.gather(*calls, return_exceptions=True)


def provider(
    endpoint: Callable[[str, Mapping[str, str]], Awaitable[tuple[int, bytes]]] | None = None,
    *,
    events: list[Event] | None = None,
    **options: Any,
) -> OAuthTokens:
    options.setdefault("retry", FAST)
    tokens = OAuthTokens(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN, **options
    )
    if endpoint is not None:
        tokens.bind(endpoint, emit=None if events is None else events.append)
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
    tokens.bind(first)  # the same client again is harmless
    with pytest.raises(ValueError, match="one OAuthTokens per client"):
        tokens.bind(second)
    tokens.unbind()
    tokens.bind(second)


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

    async def main() -> str:
        return await provider(ScriptedTokenEndpoint(), on_refresh=on_refresh).get_token()

    with caplog.at_level(logging.DEBUG, logger="hubassoc"):
        assert run_virtual(main) == "at-1"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "on_refresh raised" in text and "OSError" in text and "cannot write" in text
    assert REFRESH_TOKEN not in text and "at-1" not in text


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

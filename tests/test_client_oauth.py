"""The client with OAuth tokens that expire, against the sandbox's token endpoint."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from hubassoc import (
    AssociationsClient,
    AssociationSpec,
    AuthenticationError,
    OAuthTokens,
    RefreshedTokens,
)
from hubassoc.sandbox import Sandbox

from .conftest import FAST_RETRY, SandboxFactory

CLIENT_SECRET = "cs-" + "5e2a" * 10
REFRESH_TOKEN = "rt-" + "9b1d" * 10


async def oauth_sandbox(factory: SandboxFactory, **options: object) -> Sandbox:
    settings: dict[str, object] = {
        "oauth": True,
        "oauth_only": True,
        "oauth_client_secret": CLIENT_SECRET,
        "oauth_refresh_token": REFRESH_TOKEN,
        **options,
    }
    return await factory(**settings)


def tokens_for(sandbox: Sandbox, **options: object) -> OAuthTokens:
    credentials = sandbox.oauth_credentials
    return OAuthTokens(
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        refresh_token=credentials.refresh_token,
        **options,  # type: ignore[arg-type]
    )


def client_for(sandbox: Sandbox, tokens: OAuthTokens, **options: object) -> AssociationsClient:
    settings: dict[str, object] = {"rate_limit": False, "retry": FAST_RETRY, **options}
    return AssociationsClient(tokens, base_url=sandbox.url, **settings)  # type: ignore[arg-type]


async def test_traffic_across_several_token_lifetimes_never_fails(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory, oauth_token_lifetime=1.0, latency=0.01)
    refreshed: list[RefreshedTokens] = []
    client = client_for(sandbox, tokens_for(sandbox, on_refresh=refreshed.append))
    results: list[object] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.5
    n = 0
    while loop.time() < deadline:  # traffic all along, several lifetimes
        batch = [
            client.associate_default("contacts", n + i, "companies", 9_000_000 + n + i)
            for i in range(50)
        ]
        results += await asyncio.gather(*batch, return_exceptions=True)
        n += 50
        await asyncio.sleep(0.05)
    await client.aclose()
    assert all(isinstance(r, AssociationSpec) for r in results)
    stats = sandbox.stats()
    assert stats.oauth_expired == 0  # refreshed before expiry, never after a 401
    assert stats.oauth_peak_in_flight == 1  # never two refreshes at once
    assert 3 <= stats.oauth_refreshes <= 6
    assert len(refreshed) == stats.oauth_refreshes


async def test_an_expired_token_is_refreshed_once_and_the_request_sent_again(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory)
    client = client_for(sandbox, tokens_for(sandbox))
    assert await client.associate_default("contacts", 1, "companies", 2)
    assert sandbox.stats().oauth_refreshes == 1
    sandbox.expire_access_tokens()  # HubSpot says expired before the client thought so
    results = await asyncio.gather(
        *(client.associate_default("contacts", i, "companies", 5) for i in range(3, 503))
    )
    await client.aclose()
    assert all(isinstance(r, AssociationSpec) for r in results)
    stats = sandbox.stats()
    assert stats.oauth_refreshes == 2  # one refresh for all the refused requests
    assert stats.oauth_expired >= 1
    assert client.stats.retries == 0  # a resend after a refresh is not a retry


async def test_a_revoked_refresh_token_fails_every_caller_fast(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory)
    sandbox.revoke_refresh_token()
    client = client_for(sandbox, tokens_for(sandbox))
    outcomes = await asyncio.gather(
        *(client.associate_default("contacts", i, "companies", 2) for i in range(1, 201)),
        return_exceptions=True,
    )
    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 200
    with pytest.raises(AuthenticationError):
        await client.put_default("contacts", 1, "companies", 2)
    await client.aclose()
    assert sandbox.stats().oauth_refreshes == 0
    assert sandbox.stats().oauth_refresh_errors == 1  # no retry storm
    assert sandbox.stats().requests == 0  # nothing reached the API


async def test_no_secret_in_any_repr_log_or_error(
    sandbox_factory: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = await oauth_sandbox(sandbox_factory, echo_authorization=True, not_found_ids={"13"})
    tokens = tokens_for(sandbox)
    client = client_for(sandbox, tokens)
    caplog.set_level(logging.DEBUG, logger="hubassoc")
    shown: list[str] = []
    try:
        await client.associate_default("contacts", 13, "companies", 2)
    except Exception as error:
        shown += [str(error), repr(error), repr(vars(error))]
    access = await tokens.get_token()
    sandbox.revoke_refresh_token()
    sandbox.expire_access_tokens()
    try:
        await client.put_default("contacts", 1, "companies", 2)
    except Exception as error:
        shown += [str(error), repr(error), repr(vars(error))]
    await client.aclose()
    shown += [repr(client), repr(tokens)]
    shown += [r.getMessage() + repr(vars(r)) for r in caplog.records]
    text = "\n".join(shown)
    assert len(access) >= 200
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, access):
        assert secret not in text


async def test_many_accounts_in_one_process_share_one_session(
    sandbox_factory: SandboxFactory,
) -> None:
    """One client per installed account, each with its own tokens and pacing, on one
    aiohttp session; all closed cleanly, then the session."""
    accounts = [
        await oauth_sandbox(sandbox_factory, oauth_hub_id=hub_id, rate_limit=(110, 10.0))
        for hub_id in (101, 202, 303)
    ]
    async with aiohttp.ClientSession() as session:
        clients = [
            AssociationsClient(tokens_for(s), base_url=s.url, session=session, rate_limit=None)
            for s in accounts
        ]
        results = await asyncio.gather(
            *(
                c.associate_default("contacts", i, "companies", 77)
                for c in clients
                for i in range(1, 101)
            )
        )
        assert all(isinstance(r, AssociationSpec) for r in results)
        assert [c.pacing.limit.requests for c in clients] == [110, 110, 110]  # type: ignore[union-attr]
        await asyncio.gather(*(c.aclose() for c in clients))
        assert not session.closed  # the caller's session is the caller's to close
    for sandbox in accounts:
        assert len(sandbox.store_pairs("contacts", "companies")) == 100
        assert sandbox.stats().oauth_refreshes == 1

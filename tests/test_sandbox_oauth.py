"""The sandbox's OAuth app: token endpoints, issued access tokens, expiry, rotation, revocation."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hubassoc.sandbox import Sandbox, SandboxConfig

SandboxFactory = Callable[..., Awaitable[Sandbox]]

BATCH = "/crm/v4/associations/contacts/companies/batch/associate/default"
ONE_PAIR = {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"}}]}
V3 = "/oauth/v3/token"
V1 = "/oauth/v1/token"
OAUTH_ERROR_KEYS = {"status", "message", "correlationId", "requestId"}


def refresh_form(sandbox: Sandbox, **changes: str) -> dict[str, str]:
    credentials = sandbox.oauth_credentials
    form = {
        "grant_type": "refresh_token",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "refresh_token": credentials.refresh_token,
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value != "<omit>"}


async def refresh(
    session: aiohttp.ClientSession, form: dict[str, str], path: str = V3
) -> tuple[int, dict[str, Any]]:
    async with session.post(path, data=form) as response:
        body = await response.json()
        if response.status != 200:
            assert set(body) == OAUTH_ERROR_KEYS
            assert body["correlationId"] == response.headers["X-HubSpot-Correlation-Id"]
        return response.status, body


async def api_status(session: aiohttp.ClientSession, token: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.post(BATCH, json=ONE_PAIR, headers=headers) as response:
        return response.status, await response.json()


async def test_refresh_issues_long_bearer_tokens_on_v3_and_v1(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_hub_id=42, rate_limit=(1, 10.0))
    async with aiohttp.ClientSession(sandbox.url) as session:
        answers = [await refresh(session, refresh_form(sandbox), path) for path in (V3, V1) * 2]
        for status, body in answers:
            assert status == 200
            assert set(body) == {
                "token_type",
                "access_token",
                "refresh_token",
                "expires_in",
                "hub_id",
                "scopes",
            }
            assert body["token_type"] == "bearer"
            assert 200 <= len(body["access_token"]) <= 300
            assert re.fullmatch(r"[A-Za-z0-9_-]+", body["access_token"])
            assert body["refresh_token"] == sandbox.oauth_credentials.refresh_token
            assert (body["expires_in"], body["hub_id"]) == (1800, 42)
            assert "oauth" in body["scopes"]
        tokens = {body["access_token"] for _, body in answers}
        assert len(tokens) == 4
        status, _ = await api_status(session, answers[0][1]["access_token"])
        assert status == 200
        # Token calls are not API calls: the 1-per-10 s window was free for this one.
    stats = sandbox.stats()
    assert (stats.requests, stats.oauth_refreshes, stats.oauth_refresh_errors) == (1, 4, 0)
    assert stats.oauth_peak_in_flight == 1
    assert len(stats.oauth_tokens) == 4
    for issued, expires in stats.oauth_tokens:
        assert expires - issued == pytest.approx(1800.0)
    assert stats.as_dict()["oauth_tokens"][0] == list(stats.oauth_tokens[0])


async def test_static_token_and_oauth_only(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(oauth=True)
    async with aiohttp.ClientSession(sandbox.url) as session:
        assert (await api_status(session, "sandbox-token"))[0] == 200
        _, grant = await refresh(session, refresh_form(sandbox))
        sandbox.configure(oauth_only=True)
        status, body = await api_status(session, "sandbox-token")
        assert (status, body["category"]) == (401, "INVALID_AUTHENTICATION")
        assert (await api_status(session, grant["access_token"]))[0] == 200
        # Without a static token OAuth still demands one of its own.
        sandbox.configure(oauth_only=False, token=None)
        assert (await api_status(session, "sandbox-token"))[0] == 401
        async with session.post(BATCH, json=ONE_PAIR) as response:
            assert response.status == 401
        assert (await api_status(session, grant["access_token"]))[0] == 200
        # OAuth off again: its tokens are no longer accepted, the static one is.
        sandbox.configure(oauth=False, token="static")
        assert (await api_status(session, grant["access_token"]))[0] == 401
        assert (await api_status(session, "static"))[0] == 200


@pytest.mark.parametrize(
    ("changes", "http_status", "status"),
    [
        ({"grant_type": "authorization_code"}, 400, "BAD_GRANT_TYPE"),
        ({"grant_type": "<omit>"}, 400, "BAD_GRANT_TYPE"),
        ({"client_id": "someone-else"}, 400, "BAD_CLIENT_ID"),
        ({"client_id": "<omit>"}, 400, "MISSING_PARAMETER"),
        ({"client_secret": "wrong"}, 400, "BAD_CLIENT_SECRET"),
        ({"client_secret": ""}, 400, "MISSING_PARAMETER"),
        ({"refresh_token": "na1-unknown"}, 400, "BAD_REFRESH_TOKEN"),
        ({"refresh_token": "<omit>"}, 400, "MISSING_PARAMETER"),
    ],
)
async def test_refused_refreshes(
    sandbox_factory: SandboxFactory, changes: dict[str, str], http_status: int, status: str
) -> None:
    sandbox = await sandbox_factory(oauth=True)
    async with aiohttp.ClientSession(sandbox.url) as session:
        for path in (V3, V1):
            answer = await refresh(session, refresh_form(sandbox, **changes), path)
            assert (answer[0], answer[1]["status"]) == (http_status, status)
    stats = sandbox.stats()
    assert (stats.oauth_refreshes, stats.oauth_refresh_errors, stats.requests) == (0, 2, 0)


async def test_request_format_is_checked(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(oauth=True)
    form = refresh_form(sandbox)
    async with aiohttp.ClientSession(sandbox.url) as session:
        # v3 takes nothing in the query string (it would end up in access logs).
        async with session.post(V3, params=form, data=form) as response:
            assert response.status == 400
            assert (await response.json())["status"] == "BAD_REQUEST"
        async with session.post(V3, params=form) as response:
            assert response.status == 400
        # v1 still reads the query string.
        async with session.post(V1, params=form) as response:
            assert response.status == 200
        async with session.post(V3, json=form) as response:
            assert response.status == 415
            assert (await response.json())["status"] == "UNSUPPORTED_MEDIA_TYPE"
        async with session.post(V3) as response:
            assert response.status == 400
        async with session.get(V3) as response:
            assert response.status == 401  # not a token route: an API call without a token
        sandbox.configure(oauth=False)
        status, body = await refresh(session, form)
        assert (status, body["status"]) == (400, "BAD_CLIENT_ID")


async def test_access_tokens_expire(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_token_lifetime=0.2)
    async with aiohttp.ClientSession(sandbox.url) as session:
        _, grant = await refresh(session, refresh_form(sandbox))
        assert grant["expires_in"] == 1  # whole seconds, rounded up
        token = grant["access_token"]
        assert (await api_status(session, token))[0] == 200
        await asyncio.sleep(0.25)
        status, body = await api_status(session, token)
        assert status == 401
        assert body["category"] == "EXPIRED_AUTHENTICATION"
        assert body["message"] == "The OAuth token used to make this call expired 0 second(s) ago."
        assert body["correlationId"]
        status, body = await api_status(session, "C" + token[1:-1])
        assert (status, body["category"]) == (401, "INVALID_AUTHENTICATION")

        sandbox.configure(oauth_token_lifetime=60.0)
        _, grant = await refresh(session, refresh_form(sandbox))
        assert grant["expires_in"] == 60
        assert (await api_status(session, grant["access_token"]))[0] == 200
        assert sandbox.expire_access_tokens() == 1
        status, body = await api_status(session, grant["access_token"])
        assert (status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    stats = sandbox.stats()
    assert stats.oauth_expired == 2
    assert stats.by_status == {"200": 2, "401": 3}
    issued, expires = stats.oauth_tokens[0]
    assert expires - issued == pytest.approx(0.2)


async def test_refresh_tokens_rotate_when_asked(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_rotate_refresh_tokens=True)
    first = sandbox.oauth_credentials.refresh_token
    async with aiohttp.ClientSession(sandbox.url) as session:
        status, grant = await refresh(session, refresh_form(sandbox))
        assert status == 200
        second = grant["refresh_token"]
        assert second != first and second == sandbox.oauth_credentials.refresh_token
        status, body = await refresh(session, refresh_form(sandbox, refresh_token=first))
        assert (status, body["status"]) == (400, "BAD_REFRESH_TOKEN")
        assert (await refresh(session, refresh_form(sandbox, refresh_token=second)))[0] == 200
        # Not rotating (HubSpot's way): the same refresh token comes back.
        sandbox.configure(oauth_rotate_refresh_tokens=False)
        current = sandbox.oauth_credentials.refresh_token
        _, grant = await refresh(session, refresh_form(sandbox))
        assert grant["refresh_token"] == current


async def test_revocation(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_refresh_token="na1-given")
    async with aiohttp.ClientSession(sandbox.url) as session:
        status, grant = await refresh(session, refresh_form(sandbox))
        assert (status, grant["refresh_token"]) == (200, "na1-given")
        assert sandbox.revoke_refresh_token("na1-other") == 0
        assert sandbox.revoke_refresh_token() == 1
        status, body = await refresh(session, refresh_form(sandbox))
        assert (status, body["status"]) == (400, "BAD_REFRESH_TOKEN")
        # The access token already issued keeps working until it expires.
        assert (await api_status(session, grant["access_token"]))[0] == 200
        # Naming a new refresh token installs it; re-applying options does not undo a revocation.
        sandbox.configure(oauth_refresh_token="na1-new")
        sandbox.configure(latency=0.0)
        assert (await refresh(session, refresh_form(sandbox)))[0] == 200
        assert sandbox.revoke_refresh_token("na1-new") == 1
        sandbox.configure(latency=0.0)
        assert (await refresh(session, refresh_form(sandbox)))[0] == 400


async def test_peak_of_refreshes_in_flight(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_latency=0.1, latency=0.0)
    form = refresh_form(sandbox)
    async with aiohttp.ClientSession(sandbox.url) as session:
        for _ in range(2):
            await refresh(session, form)
        assert sandbox.stats().oauth_peak_in_flight == 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(refresh(session, form) for _ in range(3)))
        assert loop.time() - started >= 0.1
    stats = sandbox.stats()
    assert (stats.oauth_peak_in_flight, stats.oauth_refreshes) == (3, 5)
    sandbox.reset()
    assert sandbox.stats().oauth_peak_in_flight == 0


async def test_control_endpoints(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_client_id="cid", oauth_hub_id=7)
    credentials = sandbox.oauth_credentials
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as admin:
        async with admin.get("/_sandbox/oauth") as response:
            assert await response.json() == {
                "enabled": True,
                "client_id": "cid",
                "client_secret": credentials.client_secret,
                "refresh_token": credentials.refresh_token,
                "hub_id": 7,
            }
        async with admin.post(V3, data=refresh_form(sandbox)) as response:
            token = (await response.json())["access_token"]
        async with admin.post("/_sandbox/oauth/expire", json={}) as response:
            assert await response.json() == {"expired": 1}
        async with admin.post("/_sandbox/oauth/revoke", json={"refresh_token": "nope"}) as r:
            assert await r.json() == {"revoked": 0}
        async with admin.post("/_sandbox/oauth/revoke", json={"refresh_token": 5}) as r:
            assert r.status == 400
        async with admin.post("/_sandbox/oauth/revoke", json={}) as response:
            assert await response.json() == {"revoked": 1}
        async with admin.post(V3, data=refresh_form(sandbox)) as response:
            assert (await response.json())["status"] == "BAD_REFRESH_TOKEN"
        status, body = await api_status(admin, token)
        assert (status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
        async with admin.get("/_sandbox/stats") as response:
            stats = await response.json()
    assert (stats["oauth_refreshes"], stats["oauth_refresh_errors"]) == (1, 1)
    assert stats["oauth_expired"] == 1 and len(stats["oauth_tokens"]) == 1


def test_secrets_stay_out_of_reprs() -> None:
    config = SandboxConfig(
        token="static-secret",
        control_token="control-secret",
        oauth=True,
        oauth_client_secret="client-secret",
        oauth_refresh_token="na1-refresh-secret",
    )
    sandbox = Sandbox(config)
    for text in (repr(config), repr(sandbox), repr(sandbox.oauth_credentials)):
        for secret in ("static-secret", "control-secret", "client-secret", "na1-refresh-secret"):
            assert secret not in text
    assert "client_id=" in repr(sandbox.oauth_credentials)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"oauth_token_lifetime": 0.0}, "oauth_token_lifetime"),
        ({"oauth_latency": -1.0}, "oauth_latency"),
        ({"oauth_hub_id": -5}, "oauth_hub_id"),
        ({"oauth_client_id": " x"}, "oauth_client_id"),
        ({"oauth_refresh_token": ""}, "oauth_refresh_token"),
    ],
)
def test_invalid_oauth_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SandboxConfig(**options)

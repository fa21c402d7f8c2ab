"""The ``echo_authorization`` mode: every error repeats the caller's credentials everywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest

from hubassoc.sandbox import Sandbox

SandboxFactory = Callable[..., Awaitable[Sandbox]]

TOKEN = "echo-me-0123456789"
BATCH = "/crm/v4/associations/contacts/companies/batch/associate/default"
CONFIG = "/crm/associations/v4/definitions/configurations/contacts/companies/batch/create"
SPEC = {"category": "USER_DEFINED", "typeId": 1, "maxToObjectIds": 5}


def pairs(*ids: tuple[str, str]) -> dict[str, Any]:
    return {"inputs": [{"from": {"id": f}, "to": {"id": t}} for f, t in ids]}


def strings(value: Any, in_map: bool = False) -> Iterator[str]:
    """Every string in a JSON value, keys of ``context`` and ``links`` maps included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if in_map:
                yield key
            yield from strings(item, key in ("context", "links"))


def assert_echoed(body: Any, token: str, *extra: str) -> None:
    found = list(strings(body))
    assert found
    for text in found:
        assert f"Bearer {token}" in text, text
        assert f"[token: {token}]" in text, text
        for secret in extra:
            assert secret in text, text


def assert_error_fields(error: dict[str, Any]) -> None:
    for field in ("message", "category", "subCategory", "context", "links", "id", "errors"):
        assert field in error, field
    for detail in error["errors"]:
        for field in ("message", "code", "in", "subCategory", "context"):
            assert field in detail, field


async def answer(
    session: aiohttp.ClientSession, method: str, path: str, body: Any = None, token: str = TOKEN
) -> tuple[int, Any, str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.request(method, path, json=body, headers=headers) as response:
        text = await response.text()
        correlation = response.headers["X-HubSpot-Correlation-Id"]
        echoed = f"Bearer {token}" in correlation and f"[token: {token}]" in correlation
        assert echoed is (response.status >= 400 or '"errors"' in text)
        try:
            return response.status, await response.json(content_type=None), correlation
        except ValueError:
            return response.status, text, correlation


async def test_whole_call_errors_echo_the_token(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(
        token=TOKEN,
        echo_authorization=True,
        poison_ids={"66"},
        not_found_ids={"13"},
        max_batch_size=2,
        rate_limit=(7, 10.0),  # exactly the calls below that get past auth and the script
    )
    sandbox.script([500, 503, 423, (477, 2.0)])
    async with aiohttp.ClientSession(sandbox.url) as session:
        calls = [
            ("POST", BATCH, pairs(("1", "2"))),  # 500
            ("POST", BATCH, pairs(("1", "2"))),  # 503
            ("POST", BATCH, pairs(("1", "2"))),  # 423
            ("POST", BATCH, pairs(("1", "2"))),  # 477
            ("POST", BATCH.replace("companies", "companys"), pairs(("1", "2"))),
            ("POST", BATCH, {"inputs": [{"from": {"id": "x"}, "to": {"id": "2"}}]}),
            ("POST", BATCH, pairs(("66", "2"))),
            ("POST", BATCH, pairs(("1", "2"), ("3", "4"), ("5", "6"))),
            ("POST", BATCH, "not an object"),
            ("PUT", "/crm/v4/objects/contacts/13/associations/default/companies/2", None),
            ("GET", "/crm/v4/nowhere", None),
        ]
        statuses = []
        for method, path, body in calls:
            status, error, correlation = await answer(session, method, path, body)
            statuses.append(status)
            assert_echoed(error, TOKEN)
            assert_error_fields(error)
            assert error["correlationId"] == correlation
        assert statuses == [500, 503, 423, 477, 400, 400, 400, 400, 400, 404, 404]

        status, error, _ = await answer(session, "POST", BATCH, pairs(("1", "2")), token="wrong")
        assert status == 401
        assert_echoed(error, "wrong")
        assert_error_fields(error)

        status, error, _ = await answer(session, "POST", BATCH, pairs(("1", "2")))
        assert status == 429
        assert_echoed(error, TOKEN)
        assert error["policyName"].startswith("TEN_SECONDLY_ROLLING ")

        sandbox.configure(rate_limit=None, daily_limit=0)
        status, error, _ = await answer(session, "POST", BATCH, pairs(("1", "2")))
        assert status == 429
        assert_echoed(error, TOKEN)
        assert error["policyName"].startswith("DAILY ")

        sandbox.script([502])
        status, page, _ = await answer(session, "POST", BATCH, pairs(("1", "2")))
        assert status == 502 and f"Bearer {TOKEN}" in page and "</body>" in page


async def test_per_input_errors_echo_the_token(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(token=TOKEN, echo_authorization=True, not_found_ids={"13"})
    async with aiohttp.ClientSession(sandbox.url) as session:
        for style in ("per_side", "ids", "none"):
            sandbox.configure(error_style=style)
            status, body, _ = await answer(session, "POST", BATCH, pairs(("13", "2"), ("1", "2")))
            assert status == 200
            # The results are left alone: only the errors are hostile.
            assert body["results"][0]["from"] == {"id": "1"}
            assert body["numErrors"] == 1
            for error in body["errors"]:
                assert_echoed(error, TOKEN)
                assert_error_fields(error)
        assert (await answer(session, "POST", CONFIG, {"inputs": [SPEC]}))[0] == 201
        status, body, _ = await answer(session, "POST", CONFIG, {"inputs": [SPEC]})
        assert status == 207
        assert_echoed(body["errors"], TOKEN)
        assert_error_fields(body["errors"][0])
        # An answer without errors is untouched.
        async with session.post(
            BATCH, json=pairs(("1", "2")), headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert TOKEN not in await response.text()
            assert TOKEN not in response.headers["X-HubSpot-Correlation-Id"]


async def test_oauth_errors_echo_the_secrets(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(
        echo_authorization=True, oauth=True, oauth_token_lifetime=0.05, oauth_only=True
    )
    credentials = sandbox.oauth_credentials
    form = credentials.refresh_form()
    async with aiohttp.ClientSession(sandbox.url) as session:
        async with session.post("/oauth/v3/token", data=form) as response:
            access = (await response.json())["access_token"]
        await asyncio.sleep(0.06)
        status, error, _ = await answer(session, "POST", BATCH, pairs(("1", "2")), token=access)
        assert (status, error["category"].split()[0]) == (401, "EXPIRED_AUTHENTICATION")
        assert_echoed(error, access)

        refused = {**form, "client_id": "nope"}
        headers = {"Authorization": "Bearer sent-by-mistake"}
        async with session.post("/oauth/v3/token", data=refused, headers=headers) as response:
            assert response.status == 400
            error = await response.json()
            correlation = response.headers["X-HubSpot-Correlation-Id"]
        assert_echoed(
            error, "sent-by-mistake", credentials.refresh_token, credentials.client_secret
        )
        assert credentials.client_secret in correlation


@pytest.mark.parametrize("echo", [False, True])
async def test_echo_is_off_by_default(sandbox_factory: SandboxFactory, echo: bool) -> None:
    sandbox = await sandbox_factory(token=TOKEN, echo_authorization=echo)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession(sandbox.url) as session,
        session.get("/nowhere", headers=headers) as response,
    ):
        assert (TOKEN in await response.text()) is echo

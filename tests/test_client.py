"""The direct client against the sandbox on 127.0.0.1: every call, version, error and retry rule."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest

from hubassoc import (
    AssociationsClient,
    AssociationSpecKey,
    AuthenticationError,
    BatchItemError,
    ClientClosedError,
    ConfigurationInput,
    DailyLimitError,
    DecodingError,
    DefaultAssociation,
    HubSpotError,
    InvalidRequestError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from hubassoc.sandbox import Fault, Sandbox

from .conftest import FAST_RETRY, ClientFactory, SandboxFactory

VERSIONS = ["v4", "2026-03", "2026-09"]


# --- every call, every version --------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_put_default(sandbox: Sandbox, make_client: ClientFactory, version: str) -> None:
    client = make_client(api_version=version)
    result = await client.put_default("contacts", "11", "companies", 22)
    assert isinstance(result, DefaultAssociation)
    assert (result.from_.id, result.to.id) == ("11", "22")
    assert result.association_spec.association_type_id == 279
    assert sandbox.has_association("contacts", "companies", "11", "22")


@pytest.mark.parametrize("version", VERSIONS)
async def test_batch_associate_default(
    sandbox: Sandbox, make_client: ClientFactory, version: str
) -> None:
    client = make_client(api_version=version, max_batch_size=7)
    pairs = [(i, 1000 + i) for i in range(30)] + [("3", "1003")]  # one duplicate
    outcome = await client.batch_associate_default("contacts", "companies", pairs)
    assert outcome.ok and len(outcome) == 30
    assert outcome.result(("3", "1003")).association_type_id == 279
    assert len(sandbox.store_pairs("contacts", "companies")) == 30
    assert sandbox.stats().batch_sizes == {7: 4, 2: 1}


@pytest.mark.parametrize("version", VERSIONS)
async def test_configurations(sandbox: Sandbox, make_client: ClientFactory, version: str) -> None:
    client = make_client(api_version=version)
    configs = client.configurations
    created = await configs.batch_create(
        "contacts",
        "companies",
        [
            ConfigurationInput(category="HUBSPOT_DEFINED", type_id=279, max_to_object_ids=5),
            ConfigurationInput(category="USER_DEFINED", type_id=7, max_to_object_ids=2),
        ],
    )
    assert created.ok, created.errors
    assert created.result(("HUBSPOT_DEFINED", 279)).user_enforced_max_to_object_ids == 5

    # Creating one that exists fails that input alone (207, or errors inside a 200).
    again = await configs.batch_create(
        "contacts",
        "companies",
        [
            ConfigurationInput(category="USER_DEFINED", type_id=7, max_to_object_ids=3),
            ConfigurationInput(category="USER_DEFINED", type_id=8, max_to_object_ids=3),
        ],
    )
    assert set(again.results) == {("USER_DEFINED", 8)}
    assert isinstance(again.errors[("USER_DEFINED", 7)], BatchItemError)

    updated = await configs.batch_update(
        "contacts",
        "companies",
        [
            ConfigurationInput(category="USER_DEFINED", type_id=7, max_to_object_ids=9),
            ConfigurationInput(category="USER_DEFINED", type_id=99, max_to_object_ids=1),
        ],
    )
    assert updated.result(("USER_DEFINED", 7)).user_enforced_max_to_object_ids == 9
    with pytest.raises(BatchItemError):
        updated.result(("USER_DEFINED", 99))

    listed = await configs.get("contacts", "companies")
    assert {(c.category, c.type_id) for c in listed} == {
        ("HUBSPOT_DEFINED", 279),
        ("USER_DEFINED", 7),
        ("USER_DEFINED", 8),
    }
    assert len(await configs.list()) == 3

    purged = await configs.batch_purge(
        "contacts",
        "companies",
        [AssociationSpecKey(category="USER_DEFINED", type_id=7), ("USER_DEFINED", 8)],
    )
    assert set(purged.results) == {("USER_DEFINED", 7), ("USER_DEFINED", 8)}
    assert {c.type_id for c in await configs.get("contacts", "companies")} == {279}


# --- per-input error mapping ----------------------------------------------------------


@pytest.mark.parametrize("style", ["per_side", "ids", "none"])
@pytest.mark.parametrize("version", VERSIONS)
async def test_per_input_errors_are_mapped_to_their_pairs(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, style: str, version: str
) -> None:
    sandbox = await sandbox_factory(
        not_found_ids={"13", "2005"},
        error_style=style,
        shuffle_results=True,
        extra_fields=True,
        subcategory_object=style == "ids",
    )
    client = make_client(sandbox, api_version=version)
    pairs = [(str(i), str(2000 + i)) for i in range(20)]  # 13 is a bad from, 2005 a bad to
    outcome = await client.batch_associate_default("contacts", "companies", pairs)
    assert set(outcome.errors) == {("13", "2013"), ("5", "2005")}
    for error in outcome.errors.values():
        assert isinstance(error, BatchItemError)
        if style != "none":
            assert error.category == "OBJECT_NOT_FOUND"
    assert len(outcome.results) == 18
    assert sorted(outcome.results) == sorted(
        p for p in pairs if p not in {("13", "2013"), ("5", "2005")}
    )
    assert [key for key, _ in outcome] == pairs


async def test_single_put_of_a_missing_record(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory(not_found_ids={"404"})
    client = make_client(sandbox)
    with pytest.raises(InvalidRequestError) as caught:
        await client.put_default("contacts", 404, "companies", 1)
    assert caught.value.status == 404
    assert caught.value.correlation_id


# --- retries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failures",
    [
        [503, 503],
        [504],
        [502],  # an HTML gateway page
        ["reset", "reset"],
        [423],
        [Fault(status=477, retry_after=0.01)],
        [429],
        [Fault(status=429, policy="TEN_SECONDLY_ROLLING", retry_after=0.01), 503, "reset"],
    ],
)
async def test_retried_failures_end_in_success(
    sandbox: Sandbox, make_client: ClientFactory, failures: list[Any]
) -> None:
    client = make_client()
    sandbox.script(failures)
    outcome = await client.batch_associate_default("contacts", "companies", [(1, 2)])
    assert outcome.ok
    assert client.stats.requests == len(failures) + 1
    assert client.stats.retries == len(failures)
    assert sandbox.has_association("contacts", "companies", "1", "2")


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, InvalidRequestError),
    ],
)
async def test_never_retried(
    sandbox: Sandbox, make_client: ClientFactory, status: int, error_type: type[HubSpotError]
) -> None:
    client = make_client()
    sandbox.script([status])
    with pytest.raises(error_type) as caught:
        await client.put_default("contacts", 1, "companies", 2)
    assert caught.value.status == status
    assert client.stats.requests == 1


async def test_retry_budget_is_spent_then_the_error_surfaces(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    client = make_client()
    sandbox.script([503] * 4)
    with pytest.raises(ServerError) as caught:
        await client.put_default("contacts", 1, "companies", 2)
    assert caught.value.status == 503
    assert client.stats.requests == 4  # the first attempt and three retries

    sandbox.script([429] * 4)
    with pytest.raises(RateLimitError) as limited:
        await client.put_default("contacts", 1, "companies", 2)
    assert limited.value.policy_name == "TEN_SECONDLY_ROLLING"
    assert not isinstance(limited.value, DailyLimitError)

    # (aiohttp itself may retry an idempotent PUT once on a dropped keep-alive
    # connection, so script more resets than the budget needs.)
    sandbox.script(["reset"] * 12)
    with pytest.raises(TransportError):
        await client.put_default("contacts", 1, "companies", 2)
    sandbox.clear_script()


async def test_non_idempotent_create_is_not_retried_after_a_gateway_error(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    client = make_client()
    sandbox.script([502])
    with pytest.raises(ServerError):
        await client.configurations.batch_create(
            "contacts",
            "companies",
            [ConfigurationInput(category="USER_DEFINED", type_id=1, max_to_object_ids=1)],
        )
    assert client.stats.requests == 1


async def test_timeouts_are_retried_then_reported(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory(latency=0.3)
    client = make_client(sandbox, timeout=0.05, retry=RetryPolicy(max_retries=1, backoff_base=0))
    with pytest.raises(TransportError, match="timed out after 2 attempt"):
        await client.put_default("contacts", 1, "companies", 2)
    assert client.stats.requests == 2


async def test_401_with_hubspot_shape(sandbox: Sandbox, make_client: ClientFactory) -> None:
    client = make_client(access_token="wrong-token")
    with pytest.raises(AuthenticationError) as caught:
        await client.batch_associate_default("contacts", "companies", [(1, 2)])
    assert caught.value.status == 401
    assert caught.value.category == "INVALID_AUTHENTICATION"
    assert caught.value.correlation_id
    assert str(caught.value).startswith(f"[{caught.value.correlation_id}]")
    assert client.stats.requests == 1


async def test_daily_limit_stops_without_further_requests(
    sandbox: Sandbox, make_client: ClientFactory
) -> None:
    client = make_client()
    sandbox.script([(429, "DAILY")])
    with pytest.raises(DailyLimitError, match="midnight"):
        await client.batch_associate_default("contacts", "companies", [(1, 2)])
    with pytest.raises(DailyLimitError):
        await client.put_default("contacts", 1, "companies", 2)
    assert client.stats.requests == 1
    assert sandbox.stats().requests == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"status":"COMPLETE","results":[{"from":{"id":1}}]}', "$.results[0].from.id"),
        (b"<html><body>oops</body></html>", "$"),
        (b'{"status":"COMPLETE"}', "$"),
    ],
)
async def test_decoding_failures(
    sandbox: Sandbox, make_client: ClientFactory, body: bytes, path: str
) -> None:
    client = make_client()
    sandbox.script([Fault(status=200, body=body)])
    with pytest.raises(DecodingError) as caught:
        await client.put_default("contacts", 1, "companies", 2)
    assert caught.value.path == path


# --- bad input: clear errors, nothing sent --------------------------------------------

BAD_IDS: list[object] = ["", "..", "/", "%2F", " 1", "1\n", "12abc", None, True, -1, "-1", 1.5]
BAD_TYPES: list[object] = ["", "..", "/", "a/b", "%2e%2e", "con tacts", None, 1]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_ids_are_refused_before_sending(
    sandbox: Sandbox, make_client: ClientFactory, bad: object
) -> None:
    client = make_client()
    with pytest.raises((ValueError, TypeError)):
        await client.put_default("contacts", bad, "companies", 1)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        await client.associate_default("contacts", 1, "companies", bad)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        await client.batch_associate_default("contacts", "companies", [(1, 2), (bad, 3)])  # type: ignore[list-item]
    assert sandbox.stats().requests == 0


@pytest.mark.parametrize("bad", BAD_TYPES)
async def test_bad_types_are_refused_before_sending(
    sandbox: Sandbox, make_client: ClientFactory, bad: object
) -> None:
    client = make_client()
    with pytest.raises((ValueError, TypeError)):
        await client.put_default(bad, 1, "companies", 1)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        await client.batch_associate_default("contacts", bad, [(1, 2)])  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        await client.configurations.get(bad, "contacts")  # type: ignore[arg-type]
    assert sandbox.stats().requests == 0


@pytest.mark.parametrize(
    "inputs",
    [
        [],
        [ConfigurationInput(category="NOPE", type_id=1, max_to_object_ids=1)],
        [ConfigurationInput(category="USER_DEFINED", type_id=-1, max_to_object_ids=1)],
        [ConfigurationInput(category="USER_DEFINED", type_id=1, max_to_object_ids=0)],
        [{"category": "USER_DEFINED", "typeId": 1, "maxToObjectIds": 1}],
    ],
)
async def test_bad_configuration_inputs(
    sandbox: Sandbox, make_client: ClientFactory, inputs: list[Any]
) -> None:
    client = make_client()
    with pytest.raises((ValueError, TypeError)):
        await client.configurations.batch_create("contacts", "companies", inputs)
    assert sandbox.stats().requests == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "http://api.example.com"}, "plain http"),
        ({"base_url": "ftp://127.0.0.1"}, "absolute http"),
        ({"api_version": "v3"}, "api_version"),
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"linger": -1}, "linger"),
        ({"timeout": 0}, "timeout"),
        ({"access_token": "two words"}, "whitespace"),
    ],
)
def test_bad_client_options(options: dict[str, Any], message: str) -> None:
    options.setdefault("access_token", "t")
    with pytest.raises(ValueError, match=message):
        AssociationsClient(**options)


def test_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    with pytest.raises(ValueError, match="HUBSPOT_ACCESS_TOKEN"):
        AssociationsClient()
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "from-env")
    assert AssociationsClient(base_url="http://localhost:1").api_version == "2026-03"
    assert AssociationsClient(base_url="http://[::1]:1").api_version == "2026-03"


# --- token hygiene --------------------------------------------------------------------

SECRET = "pat-na1-0123456789-SECRET-abcdef"


async def test_the_token_never_leaks(
    sandbox_factory: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hubassoc")
    sandbox = await sandbox_factory(token=SECRET, not_found_ids={"13"})
    errors: list[BaseException] = []
    async with AssociationsClient(SECRET, base_url=sandbox.url, retry=FAST_RETRY) as client:
        assert SECRET not in repr(client)
        sandbox.script(
            [
                400,
                401,
                503,
                503,
                503,
                503,
                # A server that echoes the token back in its message.
                Fault(status=400, body=b'{"message": "bad token ' + SECRET.encode() + b'"}'),
                (429, "DAILY"),
            ]
        )
        for _ in range(3):
            try:
                await client.put_default("contacts", 1, "companies", 2)
            except HubSpotError as exc:
                errors.append(exc)
        for _ in range(2):
            try:
                await client.put_default("contacts", 1, "companies", 2)
            except HubSpotError as exc:
                errors.append(exc)
        outcome = None
        try:
            outcome = await client.batch_associate_default("contacts", "companies", [(13, 1)])
        except HubSpotError as exc:
            errors.append(exc)
        assert outcome is None
    async with AssociationsClient("wrong", base_url=sandbox.url, retry=FAST_RETRY) as other:
        try:
            await other.put_default("contacts", 1, "companies", 2)
        except HubSpotError as exc:
            errors.append(exc)
    assert len(errors) >= 4
    for error in errors:
        assert SECRET not in str(error) and SECRET not in repr(error)
        assert SECRET not in str(error.args)
    assert "[redacted]" in " ".join(str(e) for e in errors)
    assert caplog.records, "DEBUG logging should have said something"
    assert SECRET not in caplog.text


# --- lifecycle ------------------------------------------------------------------------


async def test_a_given_session_is_used_and_never_closed(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session:
        async with AssociationsClient(
            sandbox.token, base_url=sandbox.url, session=session, rate_limit=False
        ) as client:
            await client.put_default("contacts", 1, "companies", 2)
        assert client.closed and not session.closed
        async with session.get(
            f"{sandbox.url}/_sandbox/stats", headers=sandbox.control_headers
        ) as response:
            assert response.status == 200


async def test_an_own_session_is_closed_and_the_client_stays_closed(sandbox: Sandbox) -> None:
    client = AssociationsClient(sandbox.token, base_url=sandbox.url, rate_limit=False)
    async with client:
        await client.put_default("contacts", 1, "companies", 2)
        session = client._transport._session
        assert session is not None
    assert session.closed
    await client.aclose()  # closing twice is harmless
    with pytest.raises(ClientClosedError):
        await client.put_default("contacts", 1, "companies", 2)
    with pytest.raises(ClientClosedError):
        await client.associate_default("contacts", 1, "companies", 2)
    with pytest.raises(ClientClosedError):
        await client.configurations.list()
    with pytest.raises(ClientClosedError):
        async with client:
            pass


def test_the_public_surface() -> None:
    """What users hold, and nothing more (no wire structs they never get, no pacer)."""
    import hubassoc

    assert sorted(hubassoc.__all__) == sorted(
        [
            "DEFAULT_API_VERSION",
            "DEFAULT_BASE_URL",
            "FREE_TIER",
            "TOKEN_ENV",
            "AssociationLimitConfiguration",
            "AssociationSpec",
            "AssociationSpecKey",
            "AssociationSpecWithLabel",
            "AssociationsClient",
            "AuthenticationError",
            "BatchItemError",
            "BatchOutcome",
            "ClientClosedError",
            "ConfigurationInput",
            "ConfigurationKey",
            "ConfigurationUpdateResult",
            "DailyLimitError",
            "DecodingError",
            "DefaultAssociation",
            "HighUsageReport",
            "HubSpotError",
            "InvalidRequestError",
            "LabelsBetweenObjectPair",
            "MultiAssociatedObjectWithLabel",
            "OAuthTokens",
            "PacingView",
            "Pair",
            "PublicObjectId",
            "RateLimit",
            "RateLimitError",
            "RedisBudget",
            "RefreshedTokens",
            "ResponseTooLargeError",
            "RetryPolicy",
            "ServerError",
            "TokenProvider",
            "TransportError",
            "TransportStats",
            "__version__",
            "check_object_type",
            "check_record_id",
            "events",
        ]
    )
    for name in hubassoc.__all__:
        assert hasattr(hubassoc, name), name
    assert sorted(hubassoc.events.__all__) == sorted(
        [name for name in dir(hubassoc.events) if name[0].isupper()] + ["combine"]
    )


async def test_close_waits_for_direct_calls_under_way(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory(latency=0.05)
    client = make_client(sandbox)
    call = asyncio.ensure_future(
        client.batch_associate_default("contacts", "companies", [(1, 2), (3, 4)])
    )
    single = asyncio.ensure_future(client.put_default("contacts", 5, "companies", 6))
    await asyncio.sleep(0.01)
    await client.aclose()
    assert call.done() and call.result().ok
    assert single.done() and single.result().to.id == "6"
    with pytest.raises(ClientClosedError):
        await client.batch_associate_default("contacts", "companies", [(1, 2)])

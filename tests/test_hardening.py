"""Hostile servers and careless callers: bounded bodies and waits, closing under
cancellation, one error object per caller, answers checked against what was sent."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable

import pytest
from aiohttp import web

from hubassoc import (
    AssociationsClient,
    AssociationSpec,
    BatchItemError,
    ClientClosedError,
    DecodingError,
    HubSpotError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
)
from hubassoc.events import Event, PacerWaited, RateLimited, RequestSent, RetryScheduled
from hubassoc.sandbox import Fault

from .conftest import ClientFactory, SandboxFactory
from .hostile import HostileServer, hostile

__all__ = ["hostile"]  # the fixture, for pytest

MiB = 1024 * 1024


def on_request_sent(sent: asyncio.Event) -> Callable[[Event], None]:
    """An ``on_event`` that sets ``sent`` once a request has left."""

    def watch(event: Event) -> None:
        if isinstance(event, RequestSent):
            sent.set()

    return watch


def pairs(n: int, start: int = 1) -> list[tuple[str, str]]:
    return [(str(i), str(700_000 + i)) for i in range(start, start + n)]


# --- 2: response bodies are bounded -------------------------------------------------------


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_body_fails_its_request_without_being_held(
    hostile: HostileServer, make_client: ClientFactory, announced: bool
) -> None:
    sent = 0

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if announced:
            response.content_length = 200 * MiB
        await response.prepare(request)
        chunk = b" " * MiB
        for _ in range(200):
            await response.write(chunk)
            sent += len(chunk)
        return response

    hostile.handler = huge
    async with AssociationsClient(
        "t" * 40, base_url=hostile.url, rate_limit=False, max_response_bytes=4 * MiB
    ) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await client.batch_associate_default("contacts", "companies", pairs(3))
    error = caught.value
    assert isinstance(error, DecodingError)
    assert "max_response_bytes=4194304" in str(error)
    if announced:
        assert error.size == 200 * MiB
    else:
        assert 4 * MiB < error.size <= 5 * MiB
    assert sent < 200 * MiB  # refused as it arrived, not after reading it all
    assert hostile.requests == 1  # not retried


async def test_the_default_cap_is_far_above_any_real_answer(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory()
    client = make_client(sandbox, max_batch_size=2000)
    outcome = await client.batch_associate_default("contacts", "companies", pairs(2000))
    assert outcome.ok
    with pytest.raises(ValueError, match="max_response_bytes"):
        make_client(sandbox, max_response_bytes=0)


# --- 3: a server cannot make the client sleep for an hour ---------------------------------


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (Fault(status=503, retry_after=3600), ServerError),
        (Fault(status=429, policy="TEN_SECONDLY_ROLLING", retry_after=3600), RateLimitError),
    ],
    ids=["503", "rolling-429"],
)
async def test_a_long_retry_after_fails_at_once_carrying_it(
    sandbox_factory: SandboxFactory,
    make_client: ClientFactory,
    fault: Fault,
    error_type: type[HubSpotError],
) -> None:
    sandbox = await sandbox_factory()
    sandbox.script([fault])
    events: list[Event] = []
    client = make_client(sandbox, max_retry_wait=5.0, on_event=events.append)
    # The timeouts only keep a regression from hanging the suite: nothing here waits.
    async with asyncio.timeout(4.0):
        with pytest.raises(error_type) as caught:
            await client.associate_default("contacts", 1, "companies", 2)
    assert caught.value.retry_after == 3600  # type: ignore[attr-defined]
    assert [type(e) for e in events if isinstance(e, RequestSent | RetryScheduled)] == [RequestSent]
    async with asyncio.timeout(4.0):  # the pacer's 5 s pause after a 429 holds no close
        await client.aclose()


async def test_a_rolling_429_pauses_no_longer_than_max_retry_wait(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory()
    sandbox.script([Fault(status=429, policy="TEN_SECONDLY_ROLLING", retry_after=3600)])
    events: list[Event] = []
    client = make_client(sandbox, max_retry_wait=0.2, on_event=events.append)
    with pytest.raises(RateLimitError):
        await client.associate_default("contacts", 1, "companies", 2)
    assert [e.pause for e in events if isinstance(e, RateLimited)] == [0.2]  # capped
    async with asyncio.timeout(4.0):  # keeps a regression from holding for an hour
        assert await client.associate_default("contacts", 3, "companies", 4)
    assert "pause" in {e.reason for e in events if isinstance(e, PacerWaited)}


# --- 4: closing under cancellation --------------------------------------------------------


async def test_a_cancelled_close_leaks_nothing_and_every_caller_gets_a_hubspot_error(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    loop_errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _l, c: loop_errors.append(c))
    sandbox = await sandbox_factory(latency=0.05)
    sent = asyncio.Event()
    client = make_client(
        sandbox, max_concurrency=2, max_batch_size=50, on_event=on_request_sent(sent)
    )
    futures = [client.submit_default("contacts", f, "companies", t) for f, t in pairs(10_000)]
    await sent.wait()  # batches are on the wire
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.aclose(), 0.2)
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(o, AssociationSpec | HubSpotError) for o in outcomes)
    never_sent = [o for o in outcomes if isinstance(o, ClientClosedError)]
    assert len(never_sent) > 5000
    # A second close finishes the job (and no session was made after close began).
    await client.aclose()
    assert client._transport._session is None
    with pytest.raises(ClientClosedError):
        await client.associate_default("contacts", 1, "companies", 2)
    del futures, outcomes
    gc.collect()  # an unclosed session or connector is reported to the loop's handler now
    await asyncio.sleep(0)
    assert not loop_errors


async def test_close_is_bounded_by_close_timeout(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory(latency=2.0)
    sent = asyncio.Event()
    client = make_client(sandbox, close_timeout=0.3, on_event=on_request_sent(sent))
    future = client.submit_default("contacts", 1, "companies", 2)
    await sent.wait()
    await client.aclose()
    # Had the close waited for the answer (2 s away), the call would have succeeded.
    with pytest.raises(ClientClosedError, match="may have acted"):
        await future


# --- 5: one error object per caller -------------------------------------------------------


async def test_each_caller_of_a_failed_batch_gets_its_own_error(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory()
    sandbox.script([Fault(status=500)] * 10)
    client = make_client(sandbox, retry=RetryPolicy(max_retries=0))
    outcomes = await asyncio.gather(
        *(client.associate_default("contacts", f, "companies", t) for f, t in pairs(1000)),
        return_exceptions=True,
    )
    assert all(isinstance(o, ServerError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 1000
    frames = [len(list(_frames(o))) for o in outcomes if isinstance(o, BaseException)]
    assert max(frames) < 20  # no traceback piling up across raises
    first = outcomes[0]
    assert isinstance(first, ServerError)
    first.message = "changed by one caller"
    assert all(o.message != "changed by one caller" for o in outcomes[1:])  # type: ignore[union-attr]


def _frames(error: BaseException) -> list[object]:
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    return frames


# --- 8: put_default checks the answer -----------------------------------------------------


def _answer(results: list[tuple[str, str]], errors: list[dict[str, object]] | None = None) -> bytes:
    body: dict[str, object] = {
        "status": "COMPLETE",
        "results": [
            {
                "from": {"id": f},
                "to": {"id": t},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": 279,
                },
            }
            for f, t in results
        ],
        "startedAt": "2026-11-23T10:00:00Z",
        "completedAt": "2026-11-23T10:00:00Z",
    }
    if errors is not None:
        body["errors"] = errors
        body["numErrors"] = len(errors)
    return json.dumps(body).encode()


async def test_put_default_refuses_an_answer_about_other_records(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory()
    sandbox.script(
        [
            Fault(status=200, body=_answer([("9", "99")])),
            Fault(status=200, body=_answer([])),
            Fault(status=200, body=_answer([("1", "2"), ("9", "99")])),
        ]
    )
    client = make_client(sandbox)
    for _ in range(3):
        with pytest.raises(DecodingError, match="not about the pair sent"):
            await client.put_default("contacts", 1, "companies", 2)
    # Both directions of the pair are about it.
    sandbox.script([Fault(status=200, body=_answer([("2", "1"), ("1", "2")]))])
    answer = await client.put_default("contacts", 1, "companies", 2)
    assert (answer.from_.id, answer.to.id) == ("1", "2")  # the direction asked for
    sandbox.script([Fault(status=200, body=_answer([("2", "1")]))])
    answer = await client.put_default("contacts", 1, "companies", 2)
    assert (answer.from_.id, answer.to.id) == ("2", "1")


async def test_put_default_raises_an_error_inside_a_2xx(
    sandbox_factory: SandboxFactory, make_client: ClientFactory
) -> None:
    sandbox = await sandbox_factory()
    error = {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "No company with ID 2 exists.",
        "context": {"toObjectId": ["2"]},
    }
    sandbox.script([Fault(status=207, body=_answer([], [error]))])
    client = make_client(sandbox)
    with pytest.raises(BatchItemError) as caught:
        await client.put_default("contacts", 1, "companies", 2)
    assert caught.value.category == "OBJECT_NOT_FOUND"
    assert caught.value.input == ("1", "2")


# --- 1: no token in any field of any error, whatever the server echoes --------------------


def _everything_in(error: BaseException) -> str:
    """Every text an error shows or holds: str, repr, args, each attribute (nested too)."""
    parts = [str(error), repr(error), repr(error.args)]
    for value in vars(error).values():
        parts.append(repr(value))
        if isinstance(value, BaseException):
            parts.append(_everything_in(value))
    return "\n".join(parts)


@pytest.mark.parametrize("api_version", ["v4", "2026-09"])
async def test_an_echoing_server_never_gets_the_token_into_an_error(
    sandbox_factory: SandboxFactory,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    api_version: str,
) -> None:
    token = "pat-na1-" + "7f3c9a1e" * 6
    sandbox = await sandbox_factory(
        token=token, echo_authorization=True, not_found_ids={"13"}, poison_ids={"666"}
    )
    events: list[object] = []
    client = make_client(
        sandbox,
        api_version=api_version,
        retry=RetryPolicy(max_retries=0),
        max_retry_wait=0.05,  # a 429's pause, capped
        on_event=events.append,
    )
    errors: list[BaseException] = []
    caplog.set_level("DEBUG", logger="hubassoc")
    for status in (400, 401, 403, 404, 409, 500, 503, (429, "TEN_SECONDLY_ROLLING")):
        sandbox.script([status])
        try:
            await client.put_default("contacts", 1, "companies", 2)
        except HubSpotError as error:
            errors.append(error)
    # Per-input errors inside a 2xx (200 for 2026-09, 207 for v4), coalesced and explicit.
    outcomes = await asyncio.gather(
        client.associate_default("contacts", 13, "companies", 2),
        client.associate_default("contacts", 14, "companies", 2),
        return_exceptions=True,
    )
    errors.extend(o for o in outcomes if isinstance(o, BaseException))
    outcome = await client.batch_associate_default("contacts", "companies", [(13, 3), (15, 3)])
    errors.extend(outcome.errors.values())
    # A whole-batch 400 that bisection narrows to one pair.
    outcome = await client.batch_associate_default("contacts", "companies", [(666, 3), (16, 3)])
    errors.extend(outcome.errors.values())
    with pytest.raises(HubSpotError) as single:
        await client.put_default("contacts", 13, "companies", 2)
    errors.append(single.value)
    sandbox.script([(429, "DAILY")])
    with pytest.raises(HubSpotError) as daily:
        await client.put_default("contacts", 1, "companies", 2)
    errors.append(daily.value)
    assert len(errors) >= 13
    assert any(isinstance(e, BatchItemError) and e.request_error for e in errors)
    for error in errors:
        shown = _everything_in(error)
        assert token not in shown, shown
        assert "redacted" in shown  # the echo was there, and was scrubbed
    assert all(token not in repr(event) for event in events)
    for record in caplog.records:
        assert token not in record.getMessage()
        assert all(token not in repr(value) for value in vars(record).values())
    assert token not in repr(client)

"""Rate limits, latency and injected faults of the sandbox; its limiter on a hand-driven clock."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hubassoc.sandbox import PASS, Fault, Sandbox
from hubassoc.sandbox._limits import ArrivalLog, RollingWindowLimiter, peak_in_window

SandboxFactory = Callable[..., Awaitable[Sandbox]]

BATCH = "/crm/v4/associations/contacts/companies/batch/associate/default"
RATE_LIMIT_KEYS = {"status", "message", "errorType", "correlationId", "policyName", "requestId"}


def one_pair(from_id: str = "1", to_id: str = "2") -> dict[str, Any]:
    return {"inputs": [{"from": {"id": from_id}, "to": {"id": to_id}}]}


async def call(session: aiohttp.ClientSession, body: Any = None) -> aiohttp.ClientResponse:
    async with session.post(BATCH, json=body or one_pair()) as response:
        await response.read()
        return response


def assert_rate_limit_body(body: dict[str, Any], policy: str) -> None:
    # Not in the specs; the shape docs/hubspot.md documents.
    assert set(body) == RATE_LIMIT_KEYS
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == policy
    uuid.UUID(body["correlationId"])
    uuid.UUID(body["requestId"])
    if policy == "DAILY":
        assert body["message"] == "You have reached your daily limit."
    else:
        assert body["message"] == "You have reached your ten_secondly_rolling limit."


# -- the rolling window --------------------------------------------------------------


async def test_rolling_window_429s_with_headers(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(rate_limit=(5, 0.2))
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        responses = [await call(session) for _ in range(8)]
        assert [r.status for r in responses] == [200] * 5 + [429] * 3
        assert [r.headers["X-HubSpot-RateLimit-Remaining"] for r in responses] == list("43210000")
        for response in responses:
            assert response.headers["X-HubSpot-RateLimit-Max"] == "5"
            assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "200"
            assert "X-HubSpot-RateLimit-Daily" not in response.headers
        async with session.post(BATCH, json=one_pair()) as response:
            assert response.status == 429
            body = await response.json()
        assert_rate_limit_body(body, "TEN_SECONDLY_ROLLING")
        assert body["correlationId"] == response.headers["X-HubSpot-Correlation-Id"]
        await asyncio.sleep(0.21)
        assert (await call(session)).status == 200
    stats = sandbox.stats()
    assert stats.rate_limited == 4
    assert stats.by_status == {"200": 6, "429": 4}
    assert stats.peak_window == 9  # every arrival counts, admitted or not
    assert stats.window_seconds == 0.2
    assert stats.pairs_received == 6  # refused calls were never processed


async def test_requests_are_counted_at_arrival_not_after_latency(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await sandbox_factory(rate_limit=(2, 5.0), latency=0.1)
    loop = asyncio.get_running_loop()

    async def timed(session: aiohttp.ClientSession) -> tuple[int, float]:
        response = await call(session)
        return response.status, loop.time()

    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        started = loop.time()
        answers = await asyncio.gather(*(timed(session) for _ in range(3)))
    assert sorted(status for status, _ in answers) == [200, 200, 429]
    arrivals = sandbox.arrival_times()
    assert len(arrivals) == 3
    # Each request arrived half the latency after it left and was answered at
    # least the other half after it arrived, however slow the machine: so
    # pairing the sorted times, every arrival precedes its answer by >= 0.05 s
    # (less the loop's clock resolution, by which a sleep may end early).
    half = 0.05 - 1e-3
    answered = sorted(when for _, when in answers)
    assert all(started + half <= t for t in arrivals)
    assert all(t + half <= done for t, done in zip(sorted(arrivals), answered, strict=True))


async def test_rejected_requests_can_fill_the_window(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(rate_limit=(1, 0.3), count_rejected=True)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        statuses = [(await call(session)).status]
        await asyncio.sleep(0.15)
        statuses.append((await call(session)).status)
        await asyncio.sleep(0.2)
        # The first call has left the window, the refused second one has not.
        statuses.append((await call(session)).status)
    assert statuses == [200, 429, 429]


async def test_peak_window_without_a_rate_limit(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(peak_window_seconds=0.05)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        await asyncio.gather(*(call(session) for _ in range(4)))
        await asyncio.sleep(0.06)
        await call(session)
        async with session.get("/_sandbox/arrivals") as response:
            arrivals = await response.json()
    assert sandbox.stats().peak_window == 4
    assert sandbox.peak_window(10.0) == 5
    assert arrivals["windowSeconds"] == 0.05
    assert arrivals["arrivals"] == sandbox.arrival_times()
    assert peak_in_window(arrivals["arrivals"], 0.05) == 4


async def test_daily_limit(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(daily_limit=3)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        responses = [await call(session) for _ in range(3)]
        assert [r.headers["X-HubSpot-RateLimit-Daily-Remaining"] for r in responses] == list("210")
        async with session.post(BATCH, json=one_pair()) as response:
            assert response.status == 429
            assert response.headers["X-HubSpot-RateLimit-Daily"] == "3"
            assert response.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
            assert "X-HubSpot-RateLimit-Max" not in response.headers
            assert_rate_limit_body(await response.json(), "DAILY")
    assert sandbox.stats().daily_used == 3
    sandbox.configure(daily_limit=4)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        assert (await call(session)).status == 200
        assert (await call(session)).status == 429


async def test_daily_and_rolling_headers_together(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(rate_limit=(100, 10.0), daily_limit=1000)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        response = await call(session)
    assert response.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert response.headers["X-HubSpot-RateLimit-Remaining"] == "99"
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert response.headers["X-HubSpot-RateLimit-Daily"] == "1000"
    assert response.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "999"


async def test_no_rate_headers_without_limits(
    sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    response = await call(sandbox_session)
    assert not [h for h in response.headers if h.lower().startswith("x-hubspot-ratelimit")]


# -- latency ---------------------------------------------------------------------------


async def test_latency_and_jitter(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(latency=0.05, jitter=0.02)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        for _ in range(3):
            started = loop.time()
            assert (await call(session)).status == 200
            assert 0.05 <= loop.time() - started < 0.5
            # Half the round trip is spent before the request arrives.
            assert started + 0.025 <= sandbox.arrival_times()[-1] < started + 0.5


async def test_jitter_moves_arrivals(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(jitter=0.2)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        await asyncio.gather(*(call(session) for _ in range(10)))
    arrivals = sandbox.arrival_times()
    # Sent at once, they arrive spread over the one-way jitter ([0, 0.1] s each).
    assert 0.03 < arrivals[-1] - arrivals[0] <= 0.15


async def test_requests_sent_a_window_apart_can_arrive_closer(
    sandbox_factory: SandboxFactory,
) -> None:
    # With seed 2 the first trip in takes 0.19 s and the second 0.01 s.
    sandbox = await sandbox_factory(rate_limit=(1, 0.3), jitter=0.4, seed=2)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        first_sent = loop.time()
        first = asyncio.ensure_future(call(session))
        await asyncio.sleep(0.3)
        second_sent = loop.time()
        second = await call(session)
        assert (await first).status == 200
    assert second_sent - first_sent >= 0.3
    first_arrival, second_arrival = sandbox.arrival_times()
    assert second_arrival - first_arrival < 0.2
    assert second.status == 429


# -- requests in flight: hang-ups and resets -----------------------------------------


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_a_client_that_hangs_up_cancels_its_held_request(
    sandbox_factory: SandboxFactory,
) -> None:
    # Held 0.2 s on the way in, then 0.2 s on the way out: hung up on in between.
    sandbox = await sandbox_factory(latency=0.4)
    body = json.dumps(one_pair()).encode()
    head = (
        f"POST {BATCH} HTTP/1.1\r\nHost: sandbox\r\n"
        f"Authorization: Bearer {sandbox.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    _, writer = await asyncio.open_connection(sandbox.host, sandbox.port)
    writer.write(head.encode() + body)
    await writer.drain()
    await eventually(lambda: sandbox.stats().requests == 1)
    writer.close()
    await writer.wait_closed()
    await eventually(lambda: sandbox.stats().by_status == {"cancelled": 1})
    stats = sandbox.stats()
    assert (stats.pairs_received, stats.associations) == (0, 0)


async def test_a_client_timeout_cancels_the_request_it_gave_up_on(
    sandbox_factory: SandboxFactory,
) -> None:
    # Arrives after 0.2 s, would be answered after 0.4 s: the client gives up at 0.3 s.
    sandbox = await sandbox_factory(latency=0.4)
    timeout = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(
        sandbox.url, headers=sandbox.auth_headers, timeout=timeout
    ) as session:
        with pytest.raises(asyncio.TimeoutError):
            await call(session)
        await eventually(lambda: sandbox.stats().by_status == {"cancelled": 1})
    assert sandbox.stats().associations == 0


async def test_a_reset_is_final_for_requests_in_flight(sandbox_factory: SandboxFactory) -> None:
    # The clients stay connected, so nothing is cancelled: the requests finish
    # after the reset, and must not store or count into the state it left.
    sandbox = await sandbox_factory(latency=0.2, track_sends=True)
    config_create = "/crm/associations/v4/definitions/configurations/contacts/companies"
    spec = {"category": "USER_DEFINED", "typeId": 1, "maxToObjectIds": 5}

    async with (
        aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as api,
        aiohttp.ClientSession(sandbox.url, headers=sandbox.control_headers) as admin,
    ):

        async def status_of(method: str, path: str, body: Any = None) -> int:
            async with api.request(method, path, json=body) as response:
                await response.read()
                return response.status

        held = asyncio.gather(
            status_of("POST", BATCH, one_pair("1", "2")),
            status_of("PUT", "/crm/v4/objects/contacts/3/associations/default/companies/4"),
            status_of("POST", f"{config_create}/batch/create", {"inputs": [spec]}),
        )
        await eventually(lambda: sandbox.stats().requests == 3)
        async with admin.post("/_sandbox/reset", json={}) as response:
            assert response.status == 200
        # Answered as if served just before the reset...
        assert await held == [200, 200, 201]
        # ... and forgotten by it.
        stats = sandbox.stats()
        assert stats.requests == 0 and stats.by_status == {}
        assert (stats.pairs_received, stats.associations, stats.configurations) == (0, 0, 0)
        assert sandbox.send_counts("contacts", "companies") == {}

        sandbox.configure(latency=0.0)
        assert await status_of("POST", BATCH, one_pair("5", "6")) == 200
    assert sandbox.store_pairs("contacts", "companies") == [("5", "6")]
    assert sandbox.stats().by_status == {"200": 1}
    assert sandbox.send_counts("contacts", "companies") == {("5", "6"): 1}


# -- scripted faults --------------------------------------------------------------------


async def test_script_gives_exactly_n_failures_then_success(
    sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    assert sandbox.script([503, 503]) == 2
    statuses = [(await call(sandbox_session)).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert sandbox.pending_script == 0
    assert sandbox.stats().associations == 1


async def test_every_kind_of_scripted_answer(
    sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    sandbox.script(
        [
            503,
            504,
            502,
            (429, "TEN_SECONDLY_ROLLING"),
            (429, "DAILY"),
            423,
            (477, 2),
            "reset",
            None,
            Fault(status=500, message="boom"),
            PASS,
        ]
    )
    seen: list[tuple[int | str, Any, aiohttp.ClientResponse | None]] = []
    for _ in range(11):
        try:
            async with sandbox_session.post(BATCH, json=one_pair()) as response:
                text = await response.text()
                seen.append((response.status, text, response))
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            seen.append(("reset", None, None))
    assert [s for s, _, _ in seen] == [503, 504, 502, 429, 429, 423, 477, "reset", 200, 500, 200]
    for status, text, response in seen:
        if response is None:
            continue
        assert "X-HubSpot-Correlation-Id" in response.headers
        if status == 502:
            assert response.content_type == "text/html"
            assert "502 Bad Gateway" in text
        elif status == 429:
            continue
        else:
            assert response.content_type == "application/json"
    assert seen[3][1] != seen[4][1]
    assert '"policyName":"DAILY"' in seen[4][1]
    assert seen[6][2] is not None and seen[6][2].headers["Retry-After"] == "2"
    assert '"message":"boom"' in seen[9][1]
    stats = sandbox.stats()
    assert stats.faults == 9
    assert stats.by_status["reset"] == 1
    assert stats.pairs_received == 2  # only the two calls served normally


async def test_script_entries_are_validated(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="not a script entry"):
        sandbox.script([503, "nonsense"])
    with pytest.raises(ValueError, match="not an HTTP status"):
        sandbox.script([42])
    assert sandbox.pending_script == 0
    assert sandbox.script([{"status": 477, "retry_after": 0.5}, [429, "DAILY"], "503"]) == 3
    sandbox.clear_script()
    assert sandbox.pending_script == 0


async def test_scripted_faults_skip_auth_and_limits(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(rate_limit=(1, 5.0))
    sandbox.script([503])
    async with aiohttp.ClientSession(sandbox.url) as session:  # no token at all
        assert (await call(session)).status == 503
        assert (await call(session)).status == 401


# -- random faults ----------------------------------------------------------------------


async def test_random_faults_store_nothing(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(faults={"503": 0.3, "504": 0.2, "502": 0.1}, seed=3)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        statuses = [(await call(session, one_pair(str(i), "1"))).status for i in range(1, 61)]
    ok = statuses.count(200)
    assert {503, 504, 502, 200} <= set(statuses)
    assert sandbox.stats().associations == ok == sandbox.stats().pairs_received
    assert sandbox.stats().faults == 60 - ok


async def test_random_connection_resets(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(faults={"reset": 1.0})
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        for _ in range(2):
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                await call(session)
    assert sandbox.stats().by_status == {"reset": 2}
    assert sandbox.stats().associations == 0


# -- the limiter and arrival log on a hand-driven clock ---------------------------------


def test_limiter_is_a_true_rolling_window() -> None:
    limiter = RollingWindowLimiter(2, 1.0)
    # Binary fractions, so that differences are exact.
    admitted = [limiter.try_admit(t) for t in (0.0, 0.75, 0.875, 1.0, 1.5, 1.75, 1.875)]
    # A fixed window starting at 1.0 would admit 1.0 and 1.5; a rolling one
    # still sees 0.75 until 1.75.
    assert admitted == [True, True, False, True, False, True, False]
    assert limiter.remaining(3.0) == 2
    assert "0/2" in repr(limiter)


def test_limiter_counting_rejected_requests() -> None:
    limiter = RollingWindowLimiter(1, 1.0, count_rejected=True)
    # Each refusal extends the lock-out: 1.25 is refused because 0.5 was.
    assert [limiter.try_admit(t) for t in (0.0, 0.5, 1.25, 2.5)] == [True, False, False, True]


def test_arrival_log_peak_and_window_change() -> None:
    log = ArrivalLog(1.0)
    for t in (0.0, 0.1, 0.2, 1.15, 1.5, 1.6, 1.7, 5.0):
        log.record(t)
    assert log.peak == 4  # 1.15 .. 1.7
    assert len(log) == 8
    log.set_window(0.25)
    assert log.peak == 3
    log.record(5.1)
    assert log.peak == 3
    assert peak_in_window(log.times(), 10.0) == 9
    assert peak_in_window([], 1.0) == 0
    log.clear()
    assert (log.peak, len(log)) == (0, 0)

"""The contenders: one function per client, each timing only its own work.

Every function is synchronous (async ones run their own ``asyncio.run``) and
returns a :class:`Run`. Timing starts after the client object exists and the
input list is built, and stops when the last answer is in: ``perf_counter``
for wall time, ``process_time`` for CPU (this process is the client; the
sandbox runs in another). Building per-call coroutines or the official SDK's
model objects is the caller's real work, so it is inside the timing; the
pipe's request bodies are built before it, by design.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from hubassoc import AssociationsClient, RateLimit, events

__all__ = [
    "BATCH",
    "BATCH_PATH",
    "FROM_TYPE",
    "TO_TYPE",
    "IdSource",
    "Pair",
    "Run",
    "asyncio_floor",
    "bare_round_trips",
    "build_bodies",
    "has_hubspot_sdk",
    "has_submit_default",
    "hubassoc_coalesced",
    "hubassoc_explicit",
    "hubassoc_submitted",
    "hubspot_sdk_batch",
    "lone_call_latencies",
    "official_batch",
    "official_single",
    "pipe",
]

FROM_TYPE = "contacts"
TO_TYPE = "companies"
#: Inputs per batch request, for every contender (hubassoc's default max_batch_size).
BATCH = 100
#: hubassoc's default max_concurrency, which the pipe copies.
CONCURRENCY = 8
_API_VERSION = "2026-03"
BATCH_PATH = f"/crm/associations/{_API_VERSION}/{FROM_TYPE}/{TO_TYPE}/batch/associate/default"

Pair = tuple[str, str]


@dataclass(slots=True)
class Run:
    """What one contender did in one repetition."""

    client: str
    pairs: int  #: pairs sent
    wall: float  #: seconds, first call to last answer
    cpu: float  #: client CPU seconds over the same span
    ok: int = 0  #: pairs the client reported as associated
    failed: int = 0  #: pairs the client reported as failed (exceptions, errors)
    requests: int = 0  #: attempts the client says it sent (0 if it cannot say)
    rate_limited: int = 0  #: 429 answers the client saw (hubassoc's own count)
    retries: int = 0
    #: seconds since start at which each pair (or batch of pairs) completed: (t, pairs)
    done: list[tuple[float, int]] = field(default_factory=list)
    #: seconds since start of every 429 answer seen on the wire (when traced)
    limited_at: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_wall(self) -> float:
        return self.pairs / self.wall if self.wall > 0 else 0.0

    @property
    def per_cpu(self) -> float:
        return self.pairs / self.cpu if self.cpu > 0 else 0.0


class IdSource:
    """Fresh record ids for every run, so no run re-sends another's pairs."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 10_000_000) -> None:
        self._next = start

    def pairs(self, n: int) -> list[Pair]:
        base = self._next
        self._next += n
        return [(str(base + i), str(7_000_000_000 + base + i)) for i in range(n)]


def build_bodies(pairs: Sequence[Pair], size: int = BATCH) -> list[bytes]:
    """Prebuilt ``batch/associate/default`` JSON bodies of ``size`` pairs (for the pipe)."""
    bodies = []
    for i in range(0, len(pairs), size):
        inner = ",".join(
            f'{{"from":{{"id":"{f}"}},"to":{{"id":"{t}"}}}}' for f, t in pairs[i : i + size]
        )
        bodies.append(f'{{"inputs":[{inner}]}}'.encode())
    return bodies


def _status_trace(loop_origin: list[float], limited_at: list[float]) -> aiohttp.TraceConfig:
    """A trace that notes the time of every 429 answer (relative to ``loop_origin[0]``)."""

    async def on_end(
        session: aiohttp.ClientSession,
        context: Any,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        if params.response.status == 429:
            limited_at.append(asyncio.get_running_loop().time() - loop_origin[0])

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    return trace


# --- hubassoc ---------------------------------------------------------------------------


def hubassoc_coalesced(
    name: str,
    url: str,
    token: str,
    pairs: Sequence[Pair],
    *,
    rate_limit: RateLimit | Literal[False] | None = False,
    trace: bool = False,
    max_concurrency: int = 8,
) -> Run:
    """``associate_default`` once per pair, all gathered: the coalescer makes the batches."""
    return asyncio.run(_coalesced(name, url, token, pairs, rate_limit, trace, max_concurrency))


async def _coalesced(
    name: str,
    url: str,
    token: str,
    pairs: Sequence[Pair],
    rate_limit: Any,
    trace: bool,
    max_concurrency: int = 8,
) -> Run:
    loop = asyncio.get_running_loop()
    origin = [loop.time()]
    run = Run(name, len(pairs), 0.0, 0.0)
    session = None
    if trace:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(CONCURRENCY, 10)),
            trace_configs=[_status_trace(origin, run.limited_at)],
        )
    client = AssociationsClient(
        token,
        base_url=url,
        rate_limit=rate_limit,
        session=session,
        max_concurrency=max_concurrency,
    )
    call = client.associate_default
    done = run.done
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        origin[0] = loop.time()
        if trace:

            async def one(f: str, t: str) -> None:
                await call(FROM_TYPE, f, TO_TYPE, t)
                done.append((loop.time() - origin[0], 1))

            answers = await asyncio.gather(*[one(f, t) for f, t in pairs], return_exceptions=True)
        else:
            answers = await asyncio.gather(
                *[call(FROM_TYPE, f, TO_TYPE, t) for f, t in pairs], return_exceptions=True
            )
        run.wall = time.perf_counter() - wall0
        run.cpu = time.process_time() - cpu0
    finally:
        await client.aclose()
        if session is not None:
            await session.close()
    errors = [a for a in answers if isinstance(a, BaseException)]
    run.failed = len(errors)
    run.ok = len(answers) - len(errors)
    if errors:
        run.extra["first_error"] = repr(errors[0])
    _copy_stats(run, client)
    return run


def hubassoc_submitted(
    name: str,
    url: str,
    token: str,
    pairs: Sequence[Pair],
    *,
    rate_limit: RateLimit | Literal[False] | None = False,
) -> Run:
    """``submit_default`` once per pair, the futures gathered: coalescing without a task each."""
    return asyncio.run(_submitted(name, url, token, pairs, rate_limit))


async def _submitted(
    name: str, url: str, token: str, pairs: Sequence[Pair], rate_limit: Any
) -> Run:
    run = Run(name, len(pairs), 0.0, 0.0)
    round_trips: list[float] = []
    pacer_waits: list[float] = []

    def watch(event: events.Event) -> None:
        if isinstance(event, events.RequestAnswered):
            round_trips.append(event.seconds)
        elif isinstance(event, events.PacerWaited):
            pacer_waits.append(event.seconds)

    client = AssociationsClient(token, base_url=url, rate_limit=rate_limit, on_event=watch)
    submit = client.submit_default
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        answers = await asyncio.gather(
            *[submit(FROM_TYPE, f, TO_TYPE, t) for f, t in pairs], return_exceptions=True
        )
        run.wall = time.perf_counter() - wall0
        run.cpu = time.process_time() - cpu0
    finally:
        await client.aclose()
    errors = [a for a in answers if isinstance(a, BaseException)]
    run.failed, run.ok = len(errors), len(answers) - len(errors)
    if errors:
        run.extra["first_error"] = repr(errors[0])
    run.extra["round_trip"] = statistics.median(round_trips) if round_trips else math.nan
    run.extra["pacer_wait"] = sum(pacer_waits)
    _copy_stats(run, client)
    return run


def has_submit_default() -> bool:
    """Whether this hubassoc has ``AssociationsClient.submit_default`` (newer versions)."""
    return callable(getattr(AssociationsClient, "submit_default", None))


def hubassoc_explicit(
    name: str, url: str, token: str, pairs: Sequence[Pair], *, rate_limit: Any = False
) -> Run:
    """One ``batch_associate_default`` call with every pair (split into batches inside)."""
    return asyncio.run(_explicit(name, url, token, pairs, rate_limit))


async def _explicit(name: str, url: str, token: str, pairs: Sequence[Pair], rate_limit: Any) -> Run:
    run = Run(name, len(pairs), 0.0, 0.0)
    client = AssociationsClient(token, base_url=url, rate_limit=rate_limit)
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        outcome = await client.batch_associate_default(FROM_TYPE, TO_TYPE, pairs)
        run.wall = time.perf_counter() - wall0
        run.cpu = time.process_time() - cpu0
    finally:
        await client.aclose()
    run.ok, run.failed = len(outcome.results), len(outcome.errors)
    _copy_stats(run, client)
    return run


def _copy_stats(run: Run, client: AssociationsClient) -> None:
    stats = client.stats
    run.requests, run.rate_limited, run.retries = stats.requests, stats.rate_limited, stats.retries


# --- the pipe: aiohttp and nothing else -------------------------------------------------


def pipe(
    name: str,
    url: str,
    token: str,
    bodies: Sequence[bytes],
    *,
    pairs: int,
    concurrency: int = CONCURRENCY,
) -> Run:
    """Prebuilt bodies (of ``pairs`` pairs in all) POSTed by ``concurrency`` workers.

    Each worker reads every answer's body to the last byte and decodes nothing.
    """
    return asyncio.run(_pipe(name, url, token, bodies, pairs, concurrency))


async def _pipe(
    name: str, url: str, token: str, bodies: Sequence[bytes], pairs: int, concurrency: int
) -> Run:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    target = url + BATCH_PATH
    run = Run(name, pairs, 0.0, 0.0)
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=max(concurrency, 10))
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(bodies)

        async def worker() -> None:
            for body in queue:
                async with session.post(target, data=body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        wall0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        run.wall = time.perf_counter() - wall0
        run.cpu = time.process_time() - cpu0
    run.requests = sum(statuses.values())
    run.ok = pairs if set(statuses) == {200} else 0
    run.failed = pairs - run.ok
    run.extra["by_status"] = statuses
    return run


# --- HubSpot's official SDK (hubspot-api-client), synchronous ---------------------------


def _official_client(url: str, token: str, retry: Any = None) -> Any:
    from hubspot import HubSpot

    # Discovery copies each keyword onto the generated Configuration: ``host``
    # replaces https://api.hubapi.com, ``retry`` becomes urllib3's retries.
    if retry is None:
        return HubSpot(access_token=token, host=url)
    return HubSpot(access_token=token, host=url, retry=retry)


def official_batch(
    name: str,
    url: str,
    token: str,
    pairs: Sequence[Pair],
    *,
    retry: Any = None,
) -> Run:
    """``batch_api.create_default`` with 100 pairs at a time, in a plain loop."""
    from hubspot.crm.associations.v4 import (
        BatchInputPublicDefaultAssociationMultiPost,
        PublicDefaultAssociationMultiPost,
        PublicObjectId,
    )

    batch_api = _official_client(url, token, retry).crm.associations.v4.batch_api
    run = Run(name, len(pairs), 0.0, 0.0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(0, len(pairs), BATCH):
        chunk = pairs[i : i + BATCH]
        body = BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                PublicDefaultAssociationMultiPost(
                    _from=PublicObjectId(id=f), to=PublicObjectId(id=t)
                )
                for f, t in chunk
            ]
        )
        run.requests += 1
        try:
            answer = batch_api.create_default(
                FROM_TYPE, TO_TYPE, batch_input_public_default_association_multi_post=body
            )
        except Exception as exc:  # an ApiException, or urllib3's MaxRetryError after 429s
            run.failed += len(chunk)
            run.extra.setdefault("first_error", repr(exc)[:300])
            continue
        run.ok += len(answer.results)
        run.done.append((time.perf_counter() - wall0, len(answer.results)))
    run.wall = time.perf_counter() - wall0
    run.cpu = time.process_time() - cpu0
    return run


def official_single(name: str, url: str, token: str, pairs: Sequence[Pair]) -> Run:
    """``basic_api.create_default``: one default PUT per pair, in a plain loop."""
    basic_api = _official_client(url, token).crm.associations.v4.basic_api
    run = Run(name, len(pairs), 0.0, 0.0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for f, t in pairs:
        run.requests += 1
        try:
            basic_api.create_default(FROM_TYPE, f, TO_TYPE, t)
        except Exception as exc:
            run.failed += 1
            run.extra.setdefault("first_error", repr(exc)[:300])
            continue
        run.ok += 1
    run.wall = time.perf_counter() - wall0
    run.cpu = time.process_time() - cpu0
    return run


# --- HubSpot's newer async SDK (hubspot-sdk), as it ships ---------------------------------


def has_hubspot_sdk() -> bool:
    """Whether HubSpot's async SDK (``hubspot-sdk``, ``import hubspot_sdk``) is installed."""
    try:
        import hubspot_sdk  # noqa: F401
    except ImportError:
        return False
    return True


def hubspot_sdk_batch(
    name: str, url: str, token: str, pairs: Sequence[Pair], *, concurrency: int = CONCURRENCY
) -> Run:
    """``crm.associations.batch.create_default`` of ``AsyncHubSpot``, 100 pairs a call.

    ``concurrency`` workers share the batches (as the pipe and hubassoc's
    ``max_concurrency`` do). The client keeps its shipped defaults: two retries
    (429, 408, 409, 5xx) with exponential backoff from 0.5 s, or ``Retry-After``,
    and no pacing. A batch whose retries run out is counted as failed
    (``extra["failed_batches"]``, ``extra["rate_limited_batches"]`` for 429s).
    """
    return asyncio.run(_sdk_batch(name, url, token, pairs, concurrency))


async def _sdk_batch(
    name: str, url: str, token: str, pairs: Sequence[Pair], concurrency: int
) -> Run:
    from hubspot_sdk import AsyncHubSpot, RateLimitError

    loop = asyncio.get_running_loop()
    run = Run(name, len(pairs), 0.0, 0.0)
    chunks = [pairs[i : i + BATCH] for i in range(0, len(pairs), BATCH)]
    failed_batches = rate_limited_batches = 0
    async with AsyncHubSpot(access_token=token, base_url=url) as client:
        create = client.crm.associations.batch.create_default
        queue = iter(chunks)
        origin = loop.time()

        async def worker() -> None:
            nonlocal failed_batches, rate_limited_batches
            for chunk in queue:
                inputs: Any = [{"from": {"id": f}, "to": {"id": t}} for f, t in chunk]
                run.requests += 1
                try:
                    answer = await create(TO_TYPE, from_object_type=FROM_TYPE, inputs=inputs)
                except Exception as exc:  # its APIError family, after its own retries
                    failed_batches += 1
                    rate_limited_batches += isinstance(exc, RateLimitError)
                    run.failed += len(chunk)
                    run.extra.setdefault("first_error", repr(exc)[:300])
                    continue
                run.ok += len(answer.results)
                run.done.append((loop.time() - origin, len(answer.results)))

        wall0, cpu0 = time.perf_counter(), time.process_time()
        origin = loop.time()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        run.wall = time.perf_counter() - wall0
        run.cpu = time.process_time() - cpu0
    run.extra["batches"] = len(chunks)
    run.extra["failed_batches"] = failed_batches
    run.extra["rate_limited_batches"] = rate_limited_batches
    return run


# --- latency ------------------------------------------------------------------------------


def lone_call_latencies(
    url: str, token: str, pairs: Sequence[Pair], *, linger: float, gap: float = 0.002
) -> list[float]:
    """Seconds each lone, awaited ``associate_default`` took on an otherwise idle client.

    The first pair warms the connection and is not counted.
    """
    return asyncio.run(_lone(url, token, pairs, linger, gap))


async def _lone(
    url: str, token: str, pairs: Sequence[Pair], linger: float, gap: float
) -> list[float]:
    out: list[float] = []
    async with AssociationsClient(token, base_url=url, rate_limit=False, linger=linger) as client:
        for index, (f, t) in enumerate(pairs):
            await asyncio.sleep(gap)
            start = time.perf_counter()
            await client.associate_default(FROM_TYPE, f, TO_TYPE, t)
            if index:
                out.append(time.perf_counter() - start)
    return out


def bare_round_trips(
    url: str, token: str, pairs: Sequence[Pair], *, gap: float = 0.002
) -> list[float]:
    """Seconds of a bare aiohttp POST of one pair (read to the last byte); first not counted."""
    return asyncio.run(_bare(url, token, build_bodies(pairs, 1), gap))


async def _bare(url: str, token: str, bodies: Sequence[bytes], gap: float) -> list[float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    out: list[float] = []
    async with aiohttp.ClientSession() as session:
        for index, body in enumerate(bodies):
            await asyncio.sleep(gap)
            start = time.perf_counter()
            async with session.post(url + BATCH_PATH, data=body, headers=headers) as response:
                await response.read()
            if index:
                out.append(time.perf_counter() - start)
    return out


# --- a reference: the cost of the calling pattern itself ---------------------------------


def asyncio_floor(name: str, pairs: Sequence[Pair], *, size: int = BATCH) -> Run:
    """N gathered awaits of futures, resolved ``size`` at a time: no HTTP, no client.

    What gathering one coroutine per pair costs in asyncio on this machine,
    whatever a client does: the floor under any coalescing client's CPU per pair.
    """
    return asyncio.run(_floor(name, pairs, size))


async def _floor(name: str, pairs: Sequence[Pair], size: int) -> Run:
    loop = asyncio.get_running_loop()
    waiting: list[asyncio.Future[None]] = []
    left = [len(pairs)]

    def resolve(batch: list[asyncio.Future[None]]) -> None:
        for future in batch:
            future.set_result(None)

    async def call(from_id: str, to_id: str) -> None:
        future = loop.create_future()
        waiting.append(future)
        left[0] -= 1
        if len(waiting) >= size or not left[0]:
            loop.call_soon(resolve, waiting[:])
            waiting.clear()
        await future

    run = Run(name, len(pairs), 0.0, 0.0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*[call(f, t) for f, t in pairs])
    run.wall = time.perf_counter() - wall0
    run.cpu = time.process_time() - cpu0
    run.ok = len(pairs)
    return run

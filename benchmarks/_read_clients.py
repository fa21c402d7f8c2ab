"""The read contenders: one function per client, each timing only its own work.

Each reads every association of some records (``from_ids``) from contacts to
companies and returns a :class:`ReadRun` whose ``counts`` hold, per record,
how many distinct associated records it was given. Timing starts after the
client object exists and stops when the last answer is in (``perf_counter``
for wall time, ``process_time`` for CPU: this process is the client, the
sandbox runs in another); counting the answers is done after the timing.

:func:`mixed` is the one-window check: reads, labelled and default creates
and archives on one hubassoc client at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from benchmarks._clients import FROM_TYPE, TO_TYPE
from hubassoc import AssociationsClient, AssociationSpec, RateLimit

__all__ = [
    "OFFICIAL_BATCH_SIZE",
    "OFFICIAL_PAGE_LIMIT",
    "MixedOps",
    "ReadRun",
    "hubassoc_batch_read",
    "hubassoc_gathered",
    "mixed",
    "official_batch_read",
    "official_record_pages",
]

#: Ids per request of the official SDK's batch read: HubSpot's most (``docs/hubspot.md``).
OFFICIAL_BATCH_SIZE = 1000
#: ``limit`` of the per-record GET as its SDK documents it ("Limit 500 per call").
OFFICIAL_PAGE_LIMIT = 500
#: contacts -> companies, HubSpot's unlabelled (default) association type.
DEFAULT_TYPE = AssociationSpec("HUBSPOT_DEFINED", 279)

RateLimitArg = RateLimit | Literal[False] | None


@dataclass(slots=True)
class ReadRun:
    """What one read contender did in one run."""

    client: str
    records: int  #: records asked for
    wall: float = 0.0  #: seconds, first call to last answer
    cpu: float = 0.0  #: client CPU seconds over the same span
    #: record id -> distinct associated records returned (records that failed: absent)
    counts: dict[str, int] = field(default_factory=dict)
    failed: int = 0  #: records the client reported as failed
    requests: int = 0  #: requests the client says it sent (hubassoc: its stats)
    rate_limited: int = 0  #: 429s the client saw (hubassoc's own count)
    extra: dict[str, Any] = field(default_factory=dict)

    def fail(self, count: int, error: BaseException) -> None:
        """Note ``count`` failed records, keeping the first error's text."""
        self.failed += count
        self.extra.setdefault("first_error", repr(error)[:300])


class _Timed:
    """Sets ``run.wall`` and ``run.cpu`` to the seconds its with-block took."""

    __slots__ = ("_cpu0", "_run", "_wall0")

    def __init__(self, run: ReadRun) -> None:
        self._run = run

    def __enter__(self) -> None:
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()

    def __exit__(self, *exc_info: object) -> None:
        self._run.wall = time.perf_counter() - self._wall0
        self._run.cpu = time.process_time() - self._cpu0


def _distinct(to_ids: Iterable[object]) -> int:
    return len(set(to_ids))


# --- hubassoc ---------------------------------------------------------------------------


def hubassoc_gathered(
    name: str,
    url: str,
    token: str,
    from_ids: Sequence[str],
    *,
    submit: bool = False,
    rate_limit: RateLimitArg = False,
) -> ReadRun:
    """``get_associations`` (or ``submit_get_associations``) once per record, all gathered."""
    return asyncio.run(_gathered(name, url, token, from_ids, submit, rate_limit))


async def _gathered(
    name: str,
    url: str,
    token: str,
    from_ids: Sequence[str],
    submit: bool,
    rate_limit: RateLimitArg,
) -> ReadRun:
    run = ReadRun(name, len(from_ids))
    client = AssociationsClient(token, base_url=url, rate_limit=rate_limit)
    call = client.submit_get_associations if submit else client.get_associations
    try:
        with _Timed(run):
            answers = await asyncio.gather(
                *[call(FROM_TYPE, i, TO_TYPE) for i in from_ids], return_exceptions=True
            )
    finally:
        await client.aclose()
    for record, answer in zip(from_ids, answers, strict=True):
        if isinstance(answer, BaseException):
            run.fail(1, answer)
        else:
            run.counts[record] = _distinct(a.to_object_id for a in answer)
    _copy_stats(run, client)
    return run


def hubassoc_batch_read(
    name: str, url: str, token: str, from_ids: Sequence[str], *, rate_limit: RateLimitArg = False
) -> ReadRun:
    """One ``batch_read`` call with every record (split and paged inside)."""
    return asyncio.run(_batch_read(name, url, token, from_ids, rate_limit))


async def _batch_read(
    name: str, url: str, token: str, from_ids: Sequence[str], rate_limit: RateLimitArg
) -> ReadRun:
    run = ReadRun(name, len(from_ids))
    client = AssociationsClient(token, base_url=url, rate_limit=rate_limit)
    try:
        with _Timed(run):
            outcome = await client.batch_read(FROM_TYPE, TO_TYPE, from_ids)
    finally:
        await client.aclose()
    for record, found in outcome.results.items():
        run.counts[record] = _distinct(a.to_object_id for a in found)
    for error in outcome.errors.values():
        run.fail(1, error)
    _copy_stats(run, client)
    return run


def _copy_stats(run: ReadRun, client: AssociationsClient) -> None:
    stats = client.stats
    run.requests, run.rate_limited = stats.requests, stats.rate_limited


# --- HubSpot's official SDK (hubspot-api-client), synchronous ---------------------------


def _official_api(url: str, token: str) -> Any:
    from hubspot import HubSpot

    # ``host`` replaces https://api.hubapi.com on the generated Configuration.
    return HubSpot(access_token=token, host=url).crm.associations.v4


def official_batch_read(name: str, url: str, token: str, from_ids: Sequence[str]) -> ReadRun:
    """``batch_api.get_page`` with 1,000 ids a call in a plain loop, ``after`` NOT followed.

    This is the pattern of the reported bugs: each record's first page only.
    ``extra["cut_short"]`` counts the records whose answer said more pages follow.
    """
    from hubspot.crm.associations.v4 import (
        BatchInputPublicFetchAssociationsBatchRequest,
        PublicFetchAssociationsBatchRequest,
    )

    batch_api = _official_api(url, token).batch_api
    run = ReadRun(name, len(from_ids))
    answers: list[tuple[Sequence[str], Any]] = []
    with _Timed(run):
        for start in range(0, len(from_ids), OFFICIAL_BATCH_SIZE):
            chunk = from_ids[start : start + OFFICIAL_BATCH_SIZE]
            body = BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in chunk]
            )
            run.requests += 1
            try:
                answer = batch_api.get_page(
                    FROM_TYPE, TO_TYPE, batch_input_public_fetch_associations_batch_request=body
                )
            except Exception as exc:  # an ApiException
                run.fail(len(chunk), exc)
                continue
            answers.append((chunk, answer))
    cut_short = 0
    for chunk, answer in answers:
        # A record left out of the results (or reported in ``errors``) has none.
        run.counts.update(dict.fromkeys(chunk, 0))
        for result in answer.results:
            run.counts[result._from.id] = _distinct(to.to_object_id for to in result.to)
            cut_short += result.paging is not None and result.paging.next is not None
    run.extra["cut_short"] = cut_short
    return run


def official_record_pages(name: str, url: str, token: str, from_ids: Sequence[str]) -> ReadRun:
    """``basic_api.get_page`` per record in a plain loop, following ``after`` to the end.

    As a careful user writes it (the SDK's docs describe ``after`` but do not loop):
    ``limit=500``, the most its docs allow; the server may page at fewer.
    """
    basic_api = _official_api(url, token).basic_api
    run = ReadRun(name, len(from_ids))
    found: dict[str, list[Any]] = {}
    with _Timed(run):
        for record in from_ids:
            try:
                found[record] = _every_page(basic_api, record, run)
            except Exception as exc:  # an ApiException
                run.fail(1, exc)
    for record, results in found.items():
        run.counts[record] = _distinct(to.to_object_id for to in results)
    return run


def _every_page(basic_api: Any, record: str, run: ReadRun) -> list[Any]:
    """Every associated record of ``record``, page after page (counting requests in ``run``)."""
    found: list[Any] = []
    after = None
    while True:
        run.requests += 1
        page = basic_api.get_page(
            FROM_TYPE, record, TO_TYPE, after=after, limit=OFFICIAL_PAGE_LIMIT
        )
        found.extend(page.results)
        if page.paging is None or page.paging.next is None:
            return found
        after = page.paging.next.after


# --- reads and writes on one client, one window ---------------------------------------


@dataclass
class MixedOps:
    """The calls of one mixed run, each list in submission order."""

    reads: list[str]  #: record ids to read
    associate: list[tuple[str, str]]  #: new pairs, labelled create (the default type)
    associate_default: list[tuple[str, str]]  #: new pairs, default create
    archive: list[tuple[str, str]]  #: existing pairs to remove

    def interleaved(self) -> list[tuple[str, tuple[str, ...]]]:
        """``(operation, args)`` round-robin over the four lists."""
        lists: list[tuple[str, Sequence[Any]]] = [
            ("read", [(i,) for i in self.reads]),
            ("associate", self.associate),
            ("associate_default", self.associate_default),
            ("archive", self.archive),
        ]
        out = []
        for index in range(max(len(items) for _, items in lists)):
            out += [(op, tuple(items[index])) for op, items in lists if index < len(items)]
        return out


def mixed(
    name: str,
    url: str,
    token: str,
    ops: MixedOps,
    *,
    rate_limit: RateLimitArg,
    handlers: int = 64,
) -> tuple[ReadRun, dict[str, int]]:
    """Every call of ``ops`` on one client, ``handlers`` at a time, as a service does.

    Returns the run (``counts`` holds the reads) and the failures per operation.
    """
    return asyncio.run(_mixed(name, url, token, ops, rate_limit, handlers))


async def _mixed(
    name: str, url: str, token: str, ops: MixedOps, rate_limit: RateLimitArg, handlers: int
) -> tuple[ReadRun, dict[str, int]]:
    run = ReadRun(name, len(ops.reads))
    failures = {"read": 0, "associate": 0, "associate_default": 0, "archive": 0}
    client = AssociationsClient(token, base_url=url, rate_limit=rate_limit)
    calls: dict[str, Callable[..., Any]] = {
        "read": lambda i: client.get_associations(FROM_TYPE, i, TO_TYPE),
        "associate": lambda f, t: client.associate(FROM_TYPE, f, TO_TYPE, t, DEFAULT_TYPE),
        "associate_default": lambda f, t: client.associate_default(FROM_TYPE, f, TO_TYPE, t),
        "archive": lambda f, t: client.archive(FROM_TYPE, f, TO_TYPE, t),
    }
    queue = iter(ops.interleaved())

    async def handler() -> None:
        for op, args in queue:
            try:
                answer = await calls[op](*args)
            except Exception as exc:  # each failure is counted, the run goes on
                failures[op] += 1
                run.fail(1, exc)
                continue
            if op == "read":
                run.counts[args[0]] = _distinct(a.to_object_id for a in answer)

    try:
        with _Timed(run):
            await asyncio.gather(*[handler() for _ in range(handlers)])
    finally:
        await client.aclose()
    _copy_stats(run, client)
    return run, failures

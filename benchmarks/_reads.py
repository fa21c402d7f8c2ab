"""Section ``reads``: complete association reads, and reads mixed with writes on one window.

**Complete reads.** The sandbox is seeded directly (through its control
endpoints, no API requests) with ``records`` contacts whose company counts run
from 0 to ``most``, skewed towards small counts (``most x u**2``), and reads
are paged at ``page_size``, so that reading a record completely takes one to
``ceil(most / page_size)`` pages. Every contender reads every record (the
official SDK's per-record loop, a hundred times slower, the first
``loop_records``); what it returned is compared with what was seeded. Runs without a rate limit or
latency give requests, the share of associations returned and client CPU per
record; repetition ``r`` runs every contender once before ``r + 1``, ratios
are taken within a repetition, then the median is reported. Then, under the
Free window (100 requests per 10 s, with a 150 ms round trip, both scaled by
``time_scale``), the contenders that fit a few windows are timed again; for
every contender the least time the window allows for its requests is given
too (the per-record loop's requests would take far longer than a run).

**Mixed.** A fresh sandbox with the Free window; one hubassoc client paced at
``RateLimit(100, window)`` runs reads of some records, labelled and default
creates and archives of other records' pairs at once, 64 calls in flight as a
service handles requests. Reported: the rolling-window 429s (0 is the
target), the busiest window the sandbox saw, and whether the reads returned
every association and the writes left what they should.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks import _read_clients as rc
from benchmarks._clients import FROM_TYPE, TO_TYPE, IdSource
from benchmarks._efficiency import Ratio
from benchmarks._limits import ADAPTIVE, FIXED
from benchmarks._sandbox_proc import SandboxProcess
from benchmarks._stats import median, ratio
from hubassoc import RateLimit

__all__ = [
    "BATCH_READ",
    "FREE_REQUESTS",
    "GATHERED",
    "OFFICIAL_BATCH",
    "OFFICIAL_PAGES",
    "ROUND_TRIP",
    "SUBMITTED",
    "ContenderReads",
    "MixedRun",
    "ReadsResult",
    "ReadsSummary",
    "association_counts",
    "run_reads",
]

GATHERED = "hubassoc get_associations"
SUBMITTED = "hubassoc submit_get_associations"
BATCH_READ = "hubassoc batch_read"
OFFICIAL_BATCH = "official SDK batch read"
OFFICIAL_PAGES = "official SDK per-record GET"

WHAT = {
    GATHERED: "`get_associations` once per record, all gathered (every page followed)",
    SUBMITTED: "`submit_get_associations` once per record (a future, no task each), gathered",
    BATCH_READ: "one `batch_read` call with every record (every page of every id)",
    OFFICIAL_BATCH: "`batch_api.get_page`, 1,000 ids a call, plain loop, `after` not followed "
    "(first page of each record only)",
    OFFICIAL_PAGES: f"`basic_api.get_page(limit={rc.OFFICIAL_PAGE_LIMIT})` per record, plain "
    "loop, following `paging.next.after` to the last page",
}

#: (numerator, denominator): records per CPU second and per wall second, within a repetition.
RATIOS = [
    (GATHERED, OFFICIAL_BATCH),
    (GATHERED, OFFICIAL_PAGES),
    (BATCH_READ, OFFICIAL_BATCH),
    (BATCH_READ, OFFICIAL_PAGES),
    (SUBMITTED, GATHERED),
]
#: The contenders also timed under the Free window (each within a few windows).
UNDER_WINDOW = (GATHERED, BATCH_READ, OFFICIAL_BATCH)

#: HubSpot's Free window, at time scale 1: 100 requests per 10 s.
FREE_REQUESTS = 100
FREE_WINDOW = 10.0
#: The round trip HubSpot's API takes from a typical client, at time scale 1.
ROUND_TRIP = 0.15
#: First to id of the seeded companies (each record's are TO_BASE, TO_BASE + 1, ...).
TO_BASE = 8_000_000_000
#: Records read in the warm-up run of each contender.
WARM_RECORDS = 200
#: The clients of the mixed runs: paced at the Free window, and adaptive (the default).
MIXED_CLIENTS = (FIXED, ADAPTIVE)
#: Mixed run, per written record: associations seeded (then all archived), and new pairs
#: created labelled and created default (as many of each).
MIXED_PER_RECORD = 8


def association_counts(records: int, most: int, seed: int = 16) -> list[int]:
    """How many companies each record is seeded with: ``most x u**2``, u uniform in [0, 1).

    Deterministic for a seed; the first record has none and the second ``most``,
    so both ends are always present.
    """
    rng = random.Random(seed)
    counts = [int((most + 1) * rng.random() ** 2) for _ in range(records)]
    counts[:2] = [0, most][: len(counts)]
    return counts


def _to_ids(first: int, count: int) -> list[str]:
    return [str(TO_BASE + first + k) for k in range(count)]


def _ranges(seeded: dict[str, int], first: int = 0) -> list[tuple[str, int, int]]:
    """Seeding ranges: each record with its count of companies numbered from ``first``."""
    return [(record, TO_BASE + first, count) for record, count in seeded.items()]


@dataclass
class ContenderReads:
    """One contender's read of every record in one repetition."""

    records: int
    seeded: int  #: associations seeded for those records
    wall: float
    cpu: float
    requests: int  #: requests the sandbox saw
    returned: int  #: distinct associations returned, over every record
    complete: int  #: records given every seeded association
    failed: int  #: records the client reported as failed
    sandbox_cpu: float
    by_status: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_per_record(self) -> float:
        return self.cpu / self.records if self.records else math.nan


@dataclass
class WindowReads:
    """One contender's read of every record under the Free window."""

    wall: float
    requests: int
    rate_limited: int  #: 429s the sandbox answered
    complete: int


@dataclass
class ReadsSummary:
    """One contender's medians (and the Free window's figures)."""

    records: int  #: records read
    seeded: int  #: associations seeded for those records
    requests: float
    #: requests for every seeded record (``requests`` scaled when only some were read)
    requests_all: float
    returned: float
    share: float  #: of the seeded associations
    missed: float  #: seeded associations not returned
    complete: float  #: records given all of theirs
    wall: float
    cpu: float
    cpu_per_record_us: float
    sandbox_cpu: float
    #: median wall seconds of the runs under the Free window (NaN: not run)
    window_wall: float = math.nan
    window_429: int = 0  #: total over the repetitions
    #: least seconds the Free window allows for ``requests_all`` requests
    window_bound: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class MixedRun:
    """One mixed run: reads and writes on one client under the Free window."""

    client: str  #: `FIXED` or `ADAPTIVE`
    ops: dict[str, int]  #: calls made per operation
    failures: dict[str, int]
    wall: float
    cpu: float
    requests: int  #: requests the sandbox saw
    rate_limited: int  #: 429s hubassoc saw
    sandbox_429: int
    peak_window: int
    reads_complete: int  #: reads given every association of the record
    writes_checked: int  #: written records whose associations were read back
    writes_right: int  #: of which as expected (seeded ones archived, new ones created)
    by_status: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadsResult:
    records: int
    most: int
    page_size: int
    seeded: int  #: associations seeded, over every record
    repeat: int
    time_scale: float
    #: records the official SDK's per-record loop reads (the first ones; it is slow)
    loop_records: int
    counts_histogram: dict[str, int] = field(default_factory=dict)  #: pages needed -> records
    #: contender -> one run per repetition (no limit, no latency)
    runs: dict[str, list[ContenderReads]] = field(default_factory=dict)
    #: contender -> one run per repetition under the Free window
    window_runs: dict[str, list[WindowReads]] = field(default_factory=dict)
    summary: dict[str, ReadsSummary] = field(default_factory=dict)
    ratios: list[Ratio] = field(default_factory=list)
    mixed: list[MixedRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def window(self) -> float:
        return FREE_WINDOW * self.time_scale

    @property
    def round_trip(self) -> float:
        return ROUND_TRIP * self.time_scale


def window_bound(requests: float, window: float, round_trip: float) -> float:
    """Least seconds ``requests`` take under a ``FREE_REQUESTS``-per-``window`` limit.

    Each window admits ``FREE_REQUESTS``, so the last one is sent
    ``floor((requests - 1) / FREE_REQUESTS)`` windows after the first, and
    answered one round trip later.
    """
    if not requests or math.isnan(requests):
        return math.nan
    return math.floor((requests - 1) / FREE_REQUESTS) * window + round_trip


# --- seeding ------------------------------------------------------------------------------


def _seed(sandbox: SandboxProcess, seeded: dict[str, int]) -> None:
    sandbox.seed_associations(FROM_TYPE, TO_TYPE, _ranges(seeded))


def _pages(count: int, page_size: int) -> int:
    return max(1, math.ceil(count / page_size))


# --- complete reads ------------------------------------------------------------------------

Contender = Callable[[Sequence[str]], rc.ReadRun]


def _contenders(sandbox: SandboxProcess, rate_limit: Any = False) -> dict[str, Contender]:
    url, token = sandbox.url, sandbox.token
    return {
        GATHERED: lambda ids: rc.hubassoc_gathered(
            GATHERED, url, token, ids, rate_limit=rate_limit
        ),
        SUBMITTED: lambda ids: rc.hubassoc_gathered(
            SUBMITTED, url, token, ids, submit=True, rate_limit=rate_limit
        ),
        BATCH_READ: lambda ids: rc.hubassoc_batch_read(
            BATCH_READ, url, token, ids, rate_limit=rate_limit
        ),
        OFFICIAL_BATCH: lambda ids: rc.official_batch_read(OFFICIAL_BATCH, url, token, ids),
        OFFICIAL_PAGES: lambda ids: rc.official_record_pages(OFFICIAL_PAGES, url, token, ids),
    }


def _complete(run: rc.ReadRun, expected: dict[str, int]) -> tuple[int, int]:
    """(distinct associations returned, records given all of theirs)."""
    counts = run.counts
    returned = sum(min(counts.get(record, 0), want) for record, want in expected.items())
    complete = sum(1 for record, want in expected.items() if counts.get(record, -1) == want)
    return returned, complete


def _stat_delta(after: dict[str, Any], before: dict[str, Any]) -> tuple[int, dict[str, int]]:
    statuses = {
        status: count - before["by_status"].get(status, 0)
        for status, count in after["by_status"].items()
        if count != before["by_status"].get(status, 0)
    }
    return after["requests"] - before["requests"], statuses


def _read_once(
    sandbox: SandboxProcess, make: Contender, expected: dict[str, int]
) -> ContenderReads:
    ids = list(expected)
    before, cpu_before = sandbox.stats(), sandbox.cpu_seconds()
    run = make(ids)
    sandbox_cpu = sandbox.cpu_seconds() - cpu_before
    requests, statuses = _stat_delta(sandbox.stats(), before)
    returned, complete = _complete(run, expected)
    extra = dict(run.extra)
    if run.requests and run.requests != requests:
        extra["client_requests"] = run.requests
    return ContenderReads(
        records=len(ids),
        seeded=sum(expected.values()),
        wall=run.wall,
        cpu=run.cpu,
        requests=requests,
        returned=returned,
        complete=complete,
        failed=run.failed,
        sandbox_cpu=sandbox_cpu,
        by_status=statuses,
        extra=extra,
    )


def _read_under_window(
    sandbox: SandboxProcess, make: Contender, expected: dict[str, int], result: ReadsResult
) -> WindowReads:
    # A new limiter for every run: each starts with an empty window.
    sandbox.configure(rate_limit=None)
    sandbox.configure(
        rate_limit=[FREE_REQUESTS, result.window], latency=result.round_trip, jitter=0.0
    )
    before = sandbox.stats()
    run = make(list(expected))
    requests, statuses = _stat_delta(sandbox.stats(), before)
    return WindowReads(
        wall=run.wall,
        requests=requests,
        rate_limited=statuses.get("429", 0),
        complete=_complete(run, expected)[1],
    )


def _log_read(log: Callable[[str], None], r: int, repeat: int, name: str, out: Any) -> None:
    log(
        f"reads rep {r + 1}/{repeat} {name:34} {out.requests:>6,} requests "
        f"{out.complete:>6,}/{out.records:,} complete  "
        f"{out.cpu_per_record * 1e6:>8,.0f} us CPU/record  {out.wall:6.2f}s"
    )


def _run_complete_reads(
    sandbox: SandboxProcess,
    expected: dict[str, int],
    result: ReadsResult,
    log: Callable[[str], None],
) -> None:
    repeat = result.repeat
    unlimited = _contenders(sandbox)
    windowed = _contenders(sandbox, RateLimit(FREE_REQUESTS, result.window))
    warm = dict(list(expected.items())[:WARM_RECORDS])
    first = dict(list(expected.items())[: result.loop_records])
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
    for make in unlimited.values():
        _read_once(sandbox, make, warm)
    for r in range(repeat):
        sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
        for name, make in unlimited.items():
            out = _read_once(sandbox, make, first if name == OFFICIAL_PAGES else expected)
            result.runs.setdefault(name, []).append(out)
            _log_read(log, r, repeat, name, out)
            if name != OFFICIAL_BATCH and (out.failed or out.complete != out.records):
                result.problems.append(
                    f"reads {name} rep {r + 1}: {out.failed} failed, {out.complete} of "
                    f"{out.records} complete ({out.extra})"
                )
        for name in UNDER_WINDOW:
            w = _read_under_window(sandbox, windowed[name], expected, result)
            result.window_runs.setdefault(name, []).append(w)
            log(
                f"reads rep {r + 1}/{repeat} {name:34} under the Free window: "
                f"{w.wall:6.2f}s, {w.requests} requests, {w.rate_limited} 429s"
            )
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)


def _summarise(result: ReadsResult) -> None:
    for name, runs in result.runs.items():
        records, seeded = runs[0].records, runs[0].seeded
        requests = median([run.requests for run in runs])
        requests_all = requests * result.records / records
        returned = median([run.returned for run in runs])
        windows = result.window_runs.get(name, [])
        result.summary[name] = ReadsSummary(
            records=records,
            seeded=seeded,
            requests=requests,
            requests_all=requests_all,
            returned=returned,
            share=ratio(returned, seeded),
            missed=seeded - returned,
            complete=median([run.complete for run in runs]),
            wall=median([run.wall for run in runs]),
            cpu=median([run.cpu for run in runs]),
            cpu_per_record_us=median([run.cpu_per_record * 1e6 for run in runs]),
            sandbox_cpu=median([run.sandbox_cpu for run in runs]),
            window_wall=median([w.wall for w in windows]),
            window_429=sum(w.rate_limited for w in windows),
            window_bound=window_bound(requests_all, result.window, result.round_trip),
            extra=runs[-1].extra,
        )
    for num, den in RATIOS:
        if num not in result.runs or den not in result.runs:
            continue
        reps = list(zip(result.runs[num], result.runs[den], strict=True))
        # Per record: the per-record loop reads fewer records than the others.
        cpu_reps = [ratio(b.cpu_per_record, a.cpu_per_record) for a, b in reps]
        wall_reps = [ratio(b.wall / b.records, a.wall / a.records) for a, b in reps]
        result.ratios.append(
            Ratio(num, den, None, median(cpu_reps), median(wall_reps), cpu_reps, wall_reps)
        )


# --- reads and writes on one window --------------------------------------------------------


def _mixed_plan(
    ids: IdSource, expected: dict[str, int], ops: int
) -> tuple[rc.MixedOps, dict[str, list[str]], dict[str, int]]:
    """The calls, what to seed for the written records, and what each should end with."""
    written = [f for f, _ in ids.pairs(math.ceil(ops / MIXED_PER_RECORD))]
    labelled = [(f, t) for f in written for t in _to_ids(10_000, MIXED_PER_RECORD)]
    default = [(f, t) for f in written for t in _to_ids(20_000, MIXED_PER_RECORD)]
    archive = [(f, t) for f in written for t in _to_ids(0, MIXED_PER_RECORD)]
    reads = list(expected)[:ops]
    plan = rc.MixedOps(reads, labelled, default, archive)
    return (
        plan,
        dict.fromkeys(written, MIXED_PER_RECORD),
        dict.fromkeys(written, 2 * MIXED_PER_RECORD),
    )


def _run_mixed_once(
    sandbox: SandboxProcess,
    ids: IdSource,
    expected: dict[str, int],
    ops: int,
    client: str,
    result: ReadsResult,
) -> MixedRun:
    calls, seeded_writes, after_writes = _mixed_plan(ids, expected, ops)
    reads = {record: expected[record] for record in calls.reads}
    sandbox.reset()
    sandbox.configure(
        rate_limit=[FREE_REQUESTS, result.window], latency=result.round_trip, jitter=0.0
    )
    _seed(sandbox, reads)
    _seed(sandbox, seeded_writes)
    # The adaptive client learns the window from the answers' rate-limit headers.
    limit = RateLimit(FREE_REQUESTS, result.window) if client == FIXED else None
    run, failures = rc.mixed(client, sandbox.url, sandbox.token, calls, rate_limit=limit)
    stats = sandbox.stats()
    # Read the written records back (after the figures above were taken).
    sandbox.configure(rate_limit=None, latency=0.0)
    check = rc.hubassoc_batch_read("check", sandbox.url, sandbox.token, list(after_writes))
    return MixedRun(
        client=client,
        ops={
            "get_associations": len(calls.reads),
            "associate": len(calls.associate),
            "associate_default": len(calls.associate_default),
            "archive": len(calls.archive),
        },
        failures=failures,
        wall=run.wall,
        cpu=run.cpu,
        requests=stats["requests"],
        rate_limited=run.rate_limited,
        sandbox_429=int(stats["by_status"].get("429", 0)),
        peak_window=stats["peak_window"],
        reads_complete=_complete(run, reads)[1],
        writes_checked=len(after_writes),
        writes_right=_complete(check, after_writes)[1],
        by_status=stats["by_status"],
        extra=run.extra,
    )


def _run_mixed(
    sandbox: SandboxProcess,
    ids: IdSource,
    expected: dict[str, int],
    ops: int,
    repeat: int,
    result: ReadsResult,
    log: Callable[[str], None],
) -> None:
    for r in range(repeat):
        for client in MIXED_CLIENTS:
            m = _run_mixed_once(sandbox, ids, expected, ops, client, result)
            result.mixed.append(m)
            _note_mixed(m, f"{r + 1}/{repeat}", result, log)


def _note_mixed(m: MixedRun, rep: str, result: ReadsResult, log: Callable[[str], None]) -> None:
    """Log one mixed run, and note it as a problem if anything went wrong."""
    log(
        f"reads mixed rep {rep} {m.client}: {sum(m.ops.values()):,} calls, "
        f"{m.requests} requests in {m.wall:.2f}s, {m.sandbox_429} 429s, peak "
        f"{m.peak_window}/{FREE_REQUESTS}, reads complete {m.reads_complete:,}/"
        f"{m.ops['get_associations']:,}, writes right {m.writes_right}/{m.writes_checked}"
    )
    failed = sum(m.failures.values())
    if failed or m.sandbox_429 or m.writes_right != m.writes_checked:
        result.problems.append(
            f"reads mixed rep {rep} {m.client}: failures {m.failures}, {m.sandbox_429} 429s, "
            f"writes right {m.writes_right}/{m.writes_checked} ({m.extra})"
        )


def run_reads(
    sandbox: SandboxProcess,
    ids: IdSource,
    *,
    records: int,
    most: int,
    page_size: int,
    loop_records: int,
    mixed_ops: int,
    repeat: int,
    mixed_repeat: int,
    time_scale: float,
    log: Callable[[str], None],
) -> ReadsResult:
    """Seed, read completely (``repeat`` interleaved rounds), then ``mixed_repeat`` mixed runs."""
    counts = association_counts(records, most)
    from_ids = [f for f, _ in ids.pairs(records)]
    expected = dict(zip(from_ids, counts, strict=True))
    result = ReadsResult(
        records, most, page_size, sum(counts), repeat, time_scale, min(loop_records, records)
    )
    for count in counts:
        pages = str(_pages(count, page_size))
        result.counts_histogram[pages] = result.counts_histogram.get(pages, 0) + 1
    sandbox.reset()
    # Records without associations come back as per-input errors (207), as users
    # report HubSpot answers: the harder of the two answers the docs allow.
    sandbox.configure(
        rate_limit=None,
        latency=0.0,
        jitter=0.0,
        read_page_size=page_size,
        no_associations_errors=True,
    )
    started = time.perf_counter()
    _seed(sandbox, expected)
    log(
        f"reads: seeded {records:,} records with {result.seeded:,} associations in "
        f"{time.perf_counter() - started:.1f}s; pages per record {result.counts_histogram}"
    )
    _run_complete_reads(sandbox, expected, result, log)
    _summarise(result)
    _run_mixed(sandbox, ids, expected, mixed_ops, mixed_repeat, result, log)
    return result

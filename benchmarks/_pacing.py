"""Section 5, pacing: bursts, short jobs, long runs, K processes on one window, Redis's cost.

All against the sandbox's rolling window (``time_scale`` shrinks HubSpot's
10 s window and 150 ms round trip, as in section 2):

a. **burst**: 50 requests' worth of pairs on an idle ``RateLimit(100, 10)``
   client at a 20 ms round trip must be done within
   ``linger + ceil(50 / max_concurrency) round trips + 20 ms``: a window with
   room to spare sends at once;
b. **short job**: 4 windows' worth of requests at 20/1 s and at 100/10 s:
   ``N`` requests need ``ceil(N / limit) - 1`` windows, and the run must take
   no more than that over 95% (zero 429s);
c. **long run** at 100/10 s and 190/10 s with a jittered 150 ms round trip:
   sustained (the rate after the first window's worth of pairs is done) >= 99%
   of the ceiling, zero 429s, and the busiest rolling window at most the limit;
d. **K processes** (1, 2, 4, 8), each a client in its own interpreter, on one
   window through a shared ``hubassoc.RedisBudget`` (a ``redis-server`` this
   section starts): together >= 95% of the ceiling after the first window,
   zero 429s; beside it the same K without Redis (adaptive, ``rate_limit=None``);
e. **Redis's cost**: client CPU and wall per request with and without the
   shared budget, requests one at a time, against one Redis round trip.

Parts d (with Redis) and e need ``hubassoc.RedisBudget`` and
``AssociationsClient(shared_budget=...)``; without them they are reported as
not run.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import hubassoc
from benchmarks import _clients as clients
from benchmarks._redis_proc import RedisProcess, redis_server_path
from benchmarks._sandbox_proc import SandboxProcess
from benchmarks._stats import median, steady_rate
from hubassoc import AssociationsClient, RateLimit

__all__ = [
    "BURST_ROUND_TRIP",
    "BurstResult",
    "LongRun",
    "PacingResult",
    "ProcessRun",
    "RedisCost",
    "ShortJob",
    "has_shared_budget",
    "run_pacing",
]

ROOT = Path(__file__).resolve().parent.parent
#: HubSpot's round trip at time scale 1 (as section 2), and the jitter of part c.
ROUND_TRIP = 0.15
JITTER = 0.05  #: uniform [0, JITTER] on top of ROUND_TRIP - JITTER / 2: mean ROUND_TRIP
#: Part a: the round trip, the burst (requests), and what the client may add.
BURST_ROUND_TRIP = 0.02
BURST_REQUESTS = 50
BURST_SLACK = 0.02
#: hubassoc's defaults, which every part uses.
LINGER = 0.005
MAX_CONCURRENCY = 8
SHORT_WINDOWS = 4
SHORT_TARGET = 0.95
#: Short jobs run at this max_concurrency: at hubassoc's default (8) a window of 100
#: requests takes ceil(100 / 8) = 13 round trips just to leave, 1.95 s at 150 ms, so
#: the last window ends at 30 + 1.95 + 0.15 s of an allowed 30 s: 93.5% at best.
SHORT_CONCURRENCY = 16
LONG_TARGET = 0.99
PROCESS_TARGET = 0.95


def has_shared_budget() -> bool:
    """Whether this hubassoc has ``RedisBudget`` and ``AssociationsClient(shared_budget=)``."""
    parameters = inspect.signature(AssociationsClient).parameters
    return hasattr(hubassoc, "RedisBudget") and "shared_budget" in parameters


@dataclass
class BurstResult:
    """Part a."""

    requests: int  #: the limit per window
    window: float
    burst: int  #: requests' worth of pairs sent at once
    pairs: int
    round_trip: float
    bound: float  #: seconds the burst may take
    walls: list[float] = field(default_factory=list)
    wall: float = math.nan  #: median, pairs given with submit_default (futures, gathered)
    cpu: float = math.nan  #: median client CPU seconds of those
    await_walls: list[float] = field(default_factory=list)
    await_wall: float = math.nan  #: median, one awaited associate_default per pair, gathered
    await_cpu: float = math.nan  #: median client CPU seconds of those
    #: median seconds from a request leaving to its answer, measured in the burst
    #: (the configured round trip plus the sandbox's own time for each round)
    measured_round_trip: float = math.nan
    pacer_wait: float = 0.0  #: seconds the pacer held any request, all repetitions
    rate_limited: int = 0  #: total over repetitions (both ways)
    peak_window: int = 0

    @property
    def passed(self) -> bool:
        return self.wall <= self.bound and self.rate_limited == 0

    @property
    def measured_bound(self) -> float:
        """The bound's formula at the round trip measured in the burst."""
        rounds = math.ceil(self.burst / MAX_CONCURRENCY)
        return LINGER + rounds * self.measured_round_trip + BURST_SLACK


@dataclass
class ShortJob:
    """Part b: one window size."""

    name: str
    requests: int
    window: float
    round_trip: float
    sent: int  #: requests the job needs (N)
    pairs: int
    allowed: float  #: seconds the rolling window allows: (ceil(N / limit) - 1) windows
    walls: list[float] = field(default_factory=list)
    wall: float = math.nan  #: median
    fraction: float = math.nan  #: allowed / wall
    rate_limited: int = 0
    peak_window: int = 0

    @property
    def passed(self) -> bool:
        return self.fraction >= SHORT_TARGET and self.rate_limited == 0


@dataclass
class LongRun:
    """Part c: one tier."""

    name: str
    requests: int
    window: float
    round_trip: float  #: mean
    jitter: float
    windows: int
    pairs: int
    wall: float = math.nan
    fraction: float = math.nan  #: of the ceiling, whole run
    sustained_fraction: float = math.nan  #: of the ceiling, after the first window
    rate_limited: int = 0
    peak_window: int = 0
    failed: int = 0

    @property
    def ceiling(self) -> float:
        return self.requests * clients.BATCH / self.window

    @property
    def passed(self) -> bool:
        return (
            self.sustained_fraction >= LONG_TARGET
            and self.rate_limited == 0
            and self.peak_window <= self.requests
        )


@dataclass
class ProcessRun:
    """Part d: K processes, with the shared budget or adaptive."""

    processes: int
    mode: Literal["redis", "adaptive"]
    requests: int
    window: float
    pairs: int
    wall: float = math.nan
    sustained_fraction: float = math.nan  #: of the ceiling, after the first window
    rate_limited: int = 0  #: the clients' own count
    sandbox_429: int = 0
    peak_window: int = 0
    failed: int = 0
    cpu: float = 0.0  #: all processes' client CPU
    late_start: float = 0.0  #: seconds the latest process started after the common start
    error: str = ""

    @property
    def passed(self) -> bool | None:
        """The target holds for the shared budget; adaptive runs are shown beside it."""
        if self.mode != "redis":
            return None
        return (
            self.sustained_fraction >= PROCESS_TARGET
            and self.sandbox_429 == 0
            and self.failed == 0
            and not self.error
        )


@dataclass
class RedisCost:
    """Part e: per request, with and without the shared budget (requests one at a time)."""

    requests: int
    redis_rtt: float  #: median PING round trip, seconds
    cpu_without: float  #: client CPU seconds per request
    cpu_with: float
    wall_without: float  #: seconds per request
    wall_with: float

    @property
    def passed(self) -> bool:
        """Redis adds at most one round trip (and 0.5 ms) of wall per request."""
        return self.wall_with - self.wall_without <= self.redis_rtt + 0.0005


@dataclass
class PacingResult:
    time_scale: float
    repeat: int
    burst: BurstResult | None = None
    short: list[ShortJob] = field(default_factory=list)
    long: list[LongRun] = field(default_factory=list)
    processes: list[ProcessRun] = field(default_factory=list)
    redis_cost: RedisCost | None = None
    #: parts not run, and why
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --- a. burst --------------------------------------------------------------------------


def _burst(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    time_scale: float,
    repeat: int,
    log: Callable[[str], None],
) -> BurstResult:
    window = 10.0 * time_scale
    rounds = math.ceil(BURST_REQUESTS / MAX_CONCURRENCY)
    result = BurstResult(
        requests=100,
        window=window,
        burst=BURST_REQUESTS,
        pairs=BURST_REQUESTS * clients.BATCH,
        round_trip=BURST_ROUND_TRIP,
        bound=LINGER + rounds * BURST_ROUND_TRIP + BURST_SLACK,
    )
    sandbox.configure(rate_limit=[100, window], latency=BURST_ROUND_TRIP, jitter=0.0)
    cpus: list[float] = []
    await_cpus: list[float] = []
    round_trips: list[float] = []
    for r in range(repeat):
        for way in ("submit", "await"):
            sandbox.reset()
            pairs = ids.pairs(result.pairs)
            if way == "submit":
                run = clients.hubassoc_submitted(
                    "burst", sandbox.url, sandbox.token, pairs, rate_limit=RateLimit(100, window)
                )
                result.walls.append(run.wall)
                cpus.append(run.cpu)
                round_trips.append(run.extra["round_trip"])
                result.pacer_wait += run.extra["pacer_wait"]
            else:
                run = clients.hubassoc_coalesced(
                    "burst", sandbox.url, sandbox.token, pairs, rate_limit=RateLimit(100, window)
                )
                result.await_walls.append(run.wall)
                await_cpus.append(run.cpu)
            stats = sandbox.stats()
            result.rate_limited += int(stats["by_status"].get("429", 0))
            result.peak_window = max(result.peak_window, stats["peak_window"])
            log(
                f"pacing burst ({way}) rep {r + 1}/{repeat}: {result.pairs:,} pairs in "
                f"{run.wall * 1000:.0f} ms, client CPU {run.cpu * 1000:.0f} ms "
                f"(bound {result.bound * 1000:.0f} ms), 429s {stats['by_status'].get('429', 0)}"
            )
    result.wall = median(result.walls)
    result.cpu = median(cpus)
    result.await_wall = median(result.await_walls)
    result.await_cpu = median(await_cpus)
    result.measured_round_trip = median(round_trips)
    return result


# --- b. short jobs ---------------------------------------------------------------------


def _short(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    name: str,
    requests: int,
    window: float,
    round_trip: float,
    repeat: int,
    log: Callable[[str], None],
) -> ShortJob:
    sent = SHORT_WINDOWS * requests
    job = ShortJob(
        name=name,
        requests=requests,
        window=window,
        round_trip=round_trip,
        sent=sent,
        pairs=sent * clients.BATCH,
        allowed=(math.ceil(sent / requests) - 1) * window,
    )
    sandbox.configure(rate_limit=[requests, window], latency=round_trip, jitter=0.0)
    for r in range(repeat):
        sandbox.reset()
        run = clients.hubassoc_coalesced(
            name,
            sandbox.url,
            sandbox.token,
            ids.pairs(job.pairs),
            rate_limit=RateLimit(requests, window),
            max_concurrency=SHORT_CONCURRENCY,
        )
        stats = sandbox.stats()
        job.walls.append(run.wall)
        job.rate_limited += int(stats["by_status"].get("429", 0))
        job.peak_window = max(job.peak_window, stats["peak_window"])
        log(
            f"pacing short job {name} rep {r + 1}/{repeat}: {run.wall:.2f} s "
            f"(allowed {job.allowed:.2f} s = {job.allowed / run.wall:.1%}), "
            f"429s {stats['by_status'].get('429', 0)}, peak {stats['peak_window']}/{requests}"
        )
    job.wall = median(job.walls)
    job.fraction = job.allowed / job.wall if job.wall > 0 else math.nan
    return job


# --- c. long runs ----------------------------------------------------------------------


def _long(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    name: str,
    requests: int,
    time_scale: float,
    windows: int,
    log: Callable[[str], None],
) -> LongRun:
    window = 10.0 * time_scale
    jitter = JITTER * time_scale
    run_spec = LongRun(
        name=name,
        requests=requests,
        window=window,
        round_trip=ROUND_TRIP * time_scale,
        jitter=jitter,
        windows=windows,
        pairs=requests * clients.BATCH * windows,
    )
    sandbox.configure(
        rate_limit=[requests, window],
        latency=(ROUND_TRIP - JITTER / 2) * time_scale,
        jitter=jitter,
    )
    sandbox.reset()
    run = clients.hubassoc_coalesced(
        name,
        sandbox.url,
        sandbox.token,
        ids.pairs(run_spec.pairs),
        rate_limit=RateLimit(requests, window),
        trace=True,
    )
    stats = sandbox.stats()
    run_spec.wall = run.wall
    run_spec.fraction = run.ok / run.wall / run_spec.ceiling if run.wall > 0 else math.nan
    first = requests * clients.BATCH  # one window's worth of pairs
    run_spec.sustained_fraction = steady_rate(run.done, first) / run_spec.ceiling
    run_spec.rate_limited = int(stats["by_status"].get("429", 0))
    run_spec.peak_window = stats["peak_window"]
    run_spec.failed = run.failed
    log(
        f"pacing long run {name}: {run.wall:.1f} s, sustained "
        f"{run_spec.sustained_fraction:.1%} of the ceiling, 429s {run_spec.rate_limited}, "
        f"peak {run_spec.peak_window}/{requests}"
    )
    return run_spec


# --- d. K processes --------------------------------------------------------------------


def _processes(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    k: int,
    mode: Literal["redis", "adaptive"],
    redis_url: str,
    requests: int,
    window: float,
    windows: int,
) -> ProcessRun:
    total = requests * clients.BATCH * windows
    result = ProcessRun(k, mode, requests, window, total)
    share = total // k
    sandbox.reset()
    # Every process starts on the same monotonic instant, after its interpreter is up.
    start_at = time.monotonic() + 1.5 + 0.1 * k
    key = f"bench-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": sandbox.token}
    children = []
    for i in range(k):
        count = share if i < k - 1 else total - share * (k - 1)
        first = ids.pairs(count)[0][0]
        argv = [sandbox.url, first, str(count), repr(start_at), str(requests), repr(window)]
        if mode == "redis":
            argv += [redis_url, key]
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks._pacing_worker", *argv],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    done: list[float] = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0 or not out.strip():
            last = err.strip().splitlines()[-1:] or ["(no output)"]
            result.error = result.error or f"exit {child.returncode}: {last[0][:300]}"
            continue
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        done += report["done"]
        result.failed += report["failed"]
        result.rate_limited += report["rate_limited"]
        result.cpu += report["cpu"]
        result.late_start = max(result.late_start, report.get("late_start", 0.0))
        if report["first_error"] and not result.error:
            result.error = report["first_error"]
    stats = sandbox.stats()
    result.sandbox_429 = int(stats["by_status"].get("429", 0))
    result.peak_window = stats["peak_window"]
    if done:
        result.wall = max(done)
        ceiling = requests * clients.BATCH / window
        result.sustained_fraction = (
            steady_rate([(t, 1) for t in done], requests * clients.BATCH) / ceiling
        )
    return result


# --- e. Redis's cost -------------------------------------------------------------------


def _redis_rtt(url: str, count: int = 200) -> float:
    import redis.asyncio

    async def go() -> list[float]:
        connection = redis.asyncio.Redis.from_url(url)
        try:
            await connection.ping()
            times = []
            for _ in range(count):
                start = time.perf_counter()
                await connection.ping()
                times.append(time.perf_counter() - start)
            return times
        finally:
            await connection.aclose()

    return median(asyncio.run(go()))


def _one_at_a_time(
    url: str, token: str, pairs: Sequence[clients.Pair], budget_url: str
) -> clients.Run:
    """Every pair its own request, awaited one after another; CPU and wall of the lot."""

    async def go() -> clients.Run:
        options: dict[str, Any] = {"rate_limit": RateLimit(1_000_000, 10), "max_concurrency": 1}
        budget: Any = None
        if budget_url:
            budget = hubassoc.RedisBudget(budget_url, key=f"bench-{uuid.uuid4().hex[:12]}")
            options["shared_budget"] = budget
        run = clients.Run("redis cost", len(pairs), 0.0, 0.0)
        client = AssociationsClient(token, base_url=url, **options)
        try:
            await client.batch_associate_default(clients.FROM_TYPE, clients.TO_TYPE, pairs[:1])
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for pair in pairs[1:]:
                await client.batch_associate_default(clients.FROM_TYPE, clients.TO_TYPE, [pair])
            run.wall = time.perf_counter() - wall0
            run.cpu = time.process_time() - cpu0
        finally:
            await client.aclose()
            close = getattr(budget, "aclose", None)
            if close is not None:
                await close()
        run.requests = len(pairs) - 1
        return run

    return asyncio.run(go())


def _redis_cost(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    redis_url: str,
    requests: int,
    repeat: int,
    log: Callable[[str], None],
) -> RedisCost:
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
    per: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    for r in range(repeat):
        for name, budget_url in (("without", ""), ("with", redis_url)):
            sandbox.reset()
            run = _one_at_a_time(sandbox.url, sandbox.token, ids.pairs(requests + 1), budget_url)
            per[name].append((run.cpu / run.requests, run.wall / run.requests))
        log(
            f"pacing redis cost rep {r + 1}/{repeat}: "
            + ", ".join(
                f"{name} {v[-1][0] * 1e6:.0f} us CPU / {v[-1][1] * 1000:.2f} ms per request"
                for name, v in per.items()
            )
        )
    return RedisCost(
        requests=requests,
        redis_rtt=_redis_rtt(redis_url),
        cpu_without=median([cpu for cpu, _ in per["without"]]),
        cpu_with=median([cpu for cpu, _ in per["with"]]),
        wall_without=median([wall for _, wall in per["without"]]),
        wall_with=median([wall for _, wall in per["with"]]),
    )


# --- the section -----------------------------------------------------------------------


def run_pacing(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    *,
    time_scale: float,
    repeat: int,
    long_windows: int,
    process_windows: int,
    process_counts: Sequence[int],
    redis_requests: int,
    log: Callable[[str], None],
) -> PacingResult:
    """Parts a to e; d with Redis and e only where hubassoc has the shared budget."""
    result = PacingResult(time_scale, repeat)
    result.burst = _burst(sandbox, ids, time_scale, repeat, log)
    short_rtt = ROUND_TRIP * 0.1  # the 20/1 s window's round trip, as in section 2
    result.short = [
        _short(sandbox, ids, "20/1 s", 20, 1.0, short_rtt, repeat, log),
        _short(
            sandbox,
            ids,
            "Free 100/10 s",
            100,
            10.0 * time_scale,
            ROUND_TRIP * time_scale,
            repeat,
            log,
        ),
    ]
    result.long = [
        _long(sandbox, ids, "Free 100/10 s", 100, time_scale, long_windows, log),
        _long(sandbox, ids, "Professional 190/10 s", 190, time_scale, long_windows, log),
    ]
    shared = has_shared_budget()
    server = redis_server_path()
    modes: list[Literal["redis", "adaptive"]] = ["adaptive"]
    if not shared:
        result.skipped.append(
            "K processes through Redis and Redis's cost: this hubassoc has no "
            "RedisBudget / AssociationsClient(shared_budget=...)"
        )
    elif server is None:
        result.skipped.append("K processes through Redis and Redis's cost: no redis-server")
    else:
        modes = ["redis", "adaptive"]
    window = 10.0 * time_scale
    sandbox.configure(rate_limit=[100, window], latency=ROUND_TRIP * time_scale, jitter=0.0)
    redis: RedisProcess | None = RedisProcess() if "redis" in modes else None
    try:
        if redis is not None:
            redis.start()
            log(f"redis-server on {redis.url}")
        for k in process_counts:
            for mode in modes:
                run = _processes(
                    sandbox,
                    ids,
                    k,
                    mode,
                    redis.url if redis else "",
                    100,
                    window,
                    process_windows,
                )
                result.processes.append(run)
                log(
                    f"pacing {k} process(es), {mode}: sustained "
                    f"{run.sustained_fraction:.1%} of the ceiling, 429s {run.sandbox_429}, "
                    f"peak {run.peak_window}/100, failed {run.failed}"
                    + (f", error {run.error}" if run.error else "")
                )
                if run.late_start > 0.05:
                    result.problems.append(
                        f"pacing {k} process(es) {mode}: a process started "
                        f"{run.late_start:.2f} s late (its interpreter was slow to come up)"
                    )
                if run.error or run.failed:
                    result.problems.append(
                        f"pacing {k} process(es) {mode}: {run.failed} failed ({run.error})"
                    )
        if redis is not None:
            result.redis_cost = _redis_cost(sandbox, ids, redis.url, redis_requests, repeat, log)
    finally:
        if redis is not None:
            redis.close()
    for part in (*result.short, *result.long):
        if part.rate_limited:
            result.problems.append(f"pacing {part.name}: {part.rate_limited} 429s")
    return result

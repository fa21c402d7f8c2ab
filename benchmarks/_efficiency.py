"""Section 1, client efficiency: pairs per wall second and per client CPU second.

The sandbox has no rate limit and no latency, so each contender goes as fast
as its own CPU (and the sandbox's) allows. Repetition ``r`` runs every
contender once before repetition ``r + 1``; the sandbox is reset before each
run and every run gets fresh ids. Ratios are taken within a repetition, then
the median over repetitions is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import _clients as clients
from benchmarks._sandbox_proc import SandboxProcess
from benchmarks._stats import median, ratio

__all__ = [
    "COALESCED",
    "EXPLICIT",
    "FLOOR",
    "OFFICIAL_BATCH",
    "OFFICIAL_SINGLE",
    "PIPE",
    "SDK_BATCH",
    "SUBMITTED",
    "TARGETS",
    "ContenderRun",
    "ContenderSummary",
    "EfficiencyResult",
    "Ratio",
    "run_efficiency",
]

COALESCED = "hubassoc coalesced"
SUBMITTED = "hubassoc submit_default"
EXPLICIT = "hubassoc explicit batch"
PIPE = "pipe (bare aiohttp)"
OFFICIAL_BATCH = "official SDK batch"
OFFICIAL_SINGLE = "official SDK single PUT"
SDK_BATCH = "hubspot-sdk batch (async)"
FLOOR = "asyncio floor (no I/O)"

#: (numerator, denominator, target on the CPU ratio or None for information only)
TARGETS: list[tuple[str, str, float | None]] = [
    (COALESCED, PIPE, 0.5),
    (COALESCED, OFFICIAL_BATCH, 8.0),
    (EXPLICIT, PIPE, 0.9),
    (EXPLICIT, OFFICIAL_BATCH, None),
    (COALESCED, OFFICIAL_SINGLE, None),
    (COALESCED, FLOOR, None),
    (SUBMITTED, PIPE, None),
    (SUBMITTED, OFFICIAL_BATCH, None),
    (COALESCED, SDK_BATCH, None),
    (EXPLICIT, SDK_BATCH, None),
]

WHAT = {
    COALESCED: "`associate_default` once per pair, all gathered, `rate_limit=False`",
    SUBMITTED: "`submit_default` once per pair (a future, no task each), all gathered",
    EXPLICIT: "one `batch_associate_default` call with every pair, `rate_limit=False`",
    PIPE: "8 aiohttp workers POSTing prebuilt 100-pair bodies, reading every answer",
    OFFICIAL_BATCH: "`batch_api.create_default`, 100 pairs a call, plain loop",
    OFFICIAL_SINGLE: "`basic_api.create_default`, one PUT per pair, plain loop",
    SDK_BATCH: "`AsyncHubSpot().crm.associations.batch.create_default`, 100 pairs a call, "
    "8 concurrent workers",
    FLOOR: "reference: gathered awaits of futures resolved 100 at a time, no HTTP",
}


@dataclass
class ContenderRun:
    """One contender's figures in one repetition."""

    pairs: int
    wall: float
    cpu: float
    per_wall: float
    per_cpu: float
    ok: int
    failed: int
    requests: int  #: requests the sandbox saw
    sandbox_cpu: float
    sandbox_created: int
    by_status: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContenderSummary:
    """One contender's medians over the repetitions."""

    pairs: int
    per_wall: float
    per_cpu: float
    wall: float
    cpu: float
    sandbox_cpu: float
    requests: float


@dataclass
class Ratio:
    """``num`` against ``den``: medians of the per-repetition ratios."""

    num: str
    den: str
    target: float | None  #: on the CPU ratio; None for information only
    cpu: float
    wall: float
    cpu_reps: list[float] = field(default_factory=list)
    wall_reps: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """Whether the CPU ratio met its target (None without one)."""
        return None if self.target is None else self.cpu >= self.target


@dataclass
class EfficiencyResult:
    pairs: int
    single_pairs: int
    repeat: int
    #: contender -> one run per repetition
    runs: dict[str, list[ContenderRun]] = field(default_factory=dict)
    #: contender -> medians
    summary: dict[str, ContenderSummary] = field(default_factory=dict)
    ratios: list[Ratio] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _contenders(
    sandbox: SandboxProcess, ids: clients.IdSource, pairs: int, single_pairs: int
) -> list[tuple[str, Callable[[], clients.Run]]]:
    url, token = sandbox.url, sandbox.token

    def coalesced() -> clients.Run:
        return clients.hubassoc_coalesced(COALESCED, url, token, ids.pairs(pairs))

    def submitted() -> clients.Run:
        return clients.hubassoc_submitted(SUBMITTED, url, token, ids.pairs(pairs))

    def explicit() -> clients.Run:
        return clients.hubassoc_explicit(EXPLICIT, url, token, ids.pairs(pairs))

    def pipe() -> clients.Run:
        batch = ids.pairs(pairs)
        return clients.pipe(PIPE, url, token, clients.build_bodies(batch), pairs=len(batch))

    def official_batch() -> clients.Run:
        return clients.official_batch(OFFICIAL_BATCH, url, token, ids.pairs(pairs))

    def official_single() -> clients.Run:
        return clients.official_single(OFFICIAL_SINGLE, url, token, ids.pairs(single_pairs))

    def sdk_batch() -> clients.Run:
        return clients.hubspot_sdk_batch(SDK_BATCH, url, token, ids.pairs(pairs))

    def floor() -> clients.Run:
        return clients.asyncio_floor(FLOOR, ids.pairs(pairs))

    return [
        (COALESCED, coalesced),
        *([(SUBMITTED, submitted)] if clients.has_submit_default() else []),
        (EXPLICIT, explicit),
        (PIPE, pipe),
        (OFFICIAL_BATCH, official_batch),
        (OFFICIAL_SINGLE, official_single),
        *([(SDK_BATCH, sdk_batch)] if clients.has_hubspot_sdk() else []),
        (FLOOR, floor),
    ]


def _one(sandbox: SandboxProcess, name: str, make: Callable[[], clients.Run]) -> ContenderRun:
    sandbox.reset()
    cpu_before = sandbox.cpu_seconds()
    run = make()
    sandbox_cpu = sandbox.cpu_seconds() - cpu_before
    stats = sandbox.stats()
    return ContenderRun(
        pairs=run.pairs,
        wall=run.wall,
        cpu=run.cpu,
        per_wall=run.per_wall,
        per_cpu=run.per_cpu,
        ok=run.ok,
        failed=run.failed,
        requests=stats["requests"],
        sandbox_cpu=sandbox_cpu,
        sandbox_created=stats["pairs_created"],
        by_status=stats["by_status"],
        extra=run.extra,
    )


def run_efficiency(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    *,
    pairs: int,
    single_pairs: int,
    repeat: int,
    log: Callable[[str], None],
) -> EfficiencyResult:
    """Run every contender ``repeat`` times, interleaved, after one small warm-up each."""
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
    result = EfficiencyResult(pairs, single_pairs, repeat)
    warm = _contenders(sandbox, ids, min(pairs, 2000), min(single_pairs, 200))
    for name, make in warm:
        _one(sandbox, name, make)
    contenders = _contenders(sandbox, ids, pairs, single_pairs)
    for r in range(repeat):
        for name, make in contenders:
            out = _one(sandbox, name, make)
            result.runs.setdefault(name, []).append(out)
            log(
                f"efficiency rep {r + 1}/{repeat} {name:26} {out.per_wall:>10,.0f} pairs/s "
                f"{out.per_cpu:>10,.0f} pairs/CPU-s  sandbox CPU {out.sandbox_cpu:.2f}s"
            )
            if name != FLOOR and (out.failed or out.sandbox_created != out.pairs):
                result.problems.append(
                    f"{name} rep {r + 1}: {out.failed} failed, sandbox created "
                    f"{out.sandbox_created} of {out.pairs} ({out.extra})"
                )
    for name, runs in result.runs.items():
        result.summary[name] = ContenderSummary(
            pairs=runs[0].pairs,
            per_wall=median([run.per_wall for run in runs]),
            per_cpu=median([run.per_cpu for run in runs]),
            wall=median([run.wall for run in runs]),
            cpu=median([run.cpu for run in runs]),
            sandbox_cpu=median([run.sandbox_cpu for run in runs]),
            requests=median([run.requests for run in runs]),
        )
    for num, den, target in TARGETS:
        if num not in result.runs or den not in result.runs:
            continue
        pairs_of_reps = list(zip(result.runs[num], result.runs[den], strict=True))
        cpu_reps = [ratio(a.per_cpu, b.per_cpu) for a, b in pairs_of_reps]
        wall_reps = [ratio(a.per_wall, b.per_wall) for a, b in pairs_of_reps]
        result.ratios.append(
            Ratio(num, den, target, median(cpu_reps), median(wall_reps), cpu_reps, wall_reps)
        )
    return result

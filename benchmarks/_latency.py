"""Section 3, latency: a lone awaited ``associate_default`` on an idle client, against linger.

A lone call cannot be coalesced with anything, so the best it can do is wait
out ``linger`` and make one round trip. The round trip is measured in the same
repetition as a bare aiohttp POST of one pair to the same sandbox (no rate
limit, no added latency). Target: the call's median within
``linger + RTT + 2 ms`` (and its p90 within ``linger + p90 RTT + 2 ms``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks import _clients as clients
from benchmarks._sandbox_proc import SandboxProcess
from benchmarks._stats import median, percentile

__all__ = ["SLACK", "LatencyResult", "LatencyVerdict", "Spread", "run_latency", "verdicts"]

#: What the client may add on top of linger + round trip.
SLACK = 0.002


@dataclass
class Spread:
    """Seconds: the median and the 90th percentile of some timings."""

    median: float
    p90: float


@dataclass
class LatencyResult:
    calls: int
    lingers: list[float]
    repeat: int
    #: per repetition: {"rtt": ..., "linger=0.005": ...}
    reps: list[dict[str, Spread]] = field(default_factory=list)
    #: "rtt" and each linger -> medians over repetitions
    summary: dict[str, Spread] = field(default_factory=dict)


@dataclass
class LatencyVerdict:
    """One linger's lone-call latency against its bound (seconds)."""

    linger: float
    median: float
    p90: float
    bound_median: float
    bound_p90: float
    median_ok: bool
    p90_ok: bool
    overhead_median: float  #: median - linger - median RTT


def _key(linger: float) -> str:
    return f"linger={linger:g}"


def run_latency(
    sandbox: SandboxProcess,
    ids: clients.IdSource,
    *,
    calls: int,
    lingers: Sequence[float],
    repeat: int,
    log: Callable[[str], None],
) -> LatencyResult:
    """Bare round trips, then lone calls at each linger; ``repeat`` interleaved rounds."""
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
    result = LatencyResult(calls, list(lingers), repeat)
    url, token = sandbox.url, sandbox.token
    for r in range(repeat):
        rep: dict[str, Spread] = {}
        sandbox.reset()
        rtts = clients.bare_round_trips(url, token, ids.pairs(calls + 1))
        rep["rtt"] = Spread(median(rtts), percentile(rtts, 90))
        for linger in lingers:
            sandbox.reset()
            times = clients.lone_call_latencies(url, token, ids.pairs(calls + 1), linger=linger)
            rep[_key(linger)] = Spread(median(times), percentile(times, 90))
        result.reps.append(rep)
        log(
            f"latency rep {r + 1}/{repeat} "
            + " ".join(f"{k}: {v.median * 1000:.2f}/{v.p90 * 1000:.2f} ms" for k, v in rep.items())
        )
    for key in result.reps[0]:
        result.summary[key] = Spread(
            median([rep[key].median for rep in result.reps]),
            median([rep[key].p90 for rep in result.reps]),
        )
    return result


def verdicts(result: LatencyResult) -> list[LatencyVerdict]:
    """Per linger: the measured median/p90, the bound, and whether it held."""
    rtt = result.summary["rtt"]
    out = []
    for linger in result.lingers:
        measured = result.summary[_key(linger)]
        bound_median = linger + rtt.median + SLACK
        bound_p90 = linger + rtt.p90 + SLACK
        out.append(
            LatencyVerdict(
                linger=linger,
                median=measured.median,
                p90=measured.p90,
                bound_median=bound_median,
                bound_p90=bound_p90,
                median_ok=measured.median <= bound_median,
                p90_ok=measured.p90 <= bound_p90,
                overhead_median=measured.median - linger - rtt.median,
            )
        )
    return out

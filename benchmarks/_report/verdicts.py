"""The targets each section is held to: :class:`Verdict`, shared by the summary and the sections."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import _efficiency as eff
from benchmarks import _latency as lat
from benchmarks import _limits as lim
from benchmarks import _pacing as pac
from benchmarks import _reads as rd
from benchmarks._report.fmt import pct, x

__all__ = [
    "Verdict",
    "efficiency_verdicts",
    "latency_verdicts",
    "limits_verdicts",
    "pacing_verdicts",
    "reads_verdicts",
]


@dataclass(frozen=True)
class Verdict:
    """One target, what was measured against it, and whether it was met."""

    target: str
    measured: str
    passed: bool


def efficiency_verdicts(result: eff.EfficiencyResult) -> list[Verdict]:
    """One verdict per ratio that has a target."""
    return [
        Verdict(
            target=f"{item.num} / {item.den}, pairs per CPU-s >= {item.target:g}",
            measured=f"{x(item.cpu)} (wall {x(item.wall)})",
            passed=item.cpu >= item.target,
        )
        for item in result.ratios
        if item.target is not None
    ]


def limits_verdicts(result: lim.LimitsResult) -> list[Verdict]:
    """The 20/1 s limit efficiency, and the adaptive client on the Professional tier."""
    out = []
    fast = result.summary.get("20/1 s", {}).get(lim.FIXED)
    if fast is not None:
        out.append(
            Verdict(
                target="limit efficiency, RateLimit(20, 1) at 20/1 s: zero 429s, "
                "sustained >= 95% of ceiling",
                measured=f"{fast.rate_limited} 429s, sustained "
                f"{pct(fast.sustained_fraction)} (overall {pct(fast.fraction)})",
                passed=fast.rate_limited == 0 and fast.sustained_fraction >= 0.95,
            )
        )
    pro = next((s for s in result.scenarios if s.name.startswith("Professional")), None)
    adaptive = result.summary.get(pro.name, {}).get(lim.ADAPTIVE) if pro else None
    if pro is not None and adaptive is not None:
        out.append(
            Verdict(
                target=f"adaptive (rate_limit=None) at {pro.requests}/{pro.window:g} s: "
                ">= 90% of capacity after the first window, 429s only in the first window",
                measured=f"sustained {pct(adaptive.sustained_fraction)}; "
                f"429s: {adaptive.limited_first_window} in the first window, "
                f"{adaptive.limited_later} later",
                passed=adaptive.sustained_fraction >= 0.9 and adaptive.limited_later == 0,
            )
        )
    return out


def latency_verdicts(result: lat.LatencyResult) -> list[Verdict]:
    """One verdict per linger: the lone call's median against linger + RTT + 2 ms."""
    return [
        Verdict(
            target=f"lone call at linger={v.linger * 1000:g} ms: median <= linger + RTT + 2 ms",
            measured=f"{v.median * 1000:.2f} ms (bound {v.bound_median * 1000:.2f} ms)"
            f"; p90 {v.p90 * 1000:.2f} ms (bound {v.bound_p90 * 1000:.2f} ms)",
            passed=v.median_ok,
        )
        for v in lat.verdicts(result)
    ]


def pacing_verdicts(result: pac.PacingResult) -> list[Verdict]:
    """Burst, short jobs, long runs, K processes through Redis, Redis's cost."""
    out = []
    b = result.burst
    if b is not None:
        out.append(
            Verdict(
                target=f"burst: {b.burst} requests' worth on an idle RateLimit({b.requests}, "
                f"{b.window:g}) client done within linger + ceil({b.burst}/"
                f"{pac.MAX_CONCURRENCY}) round trips + 20 ms",
                measured=f"{b.wall * 1000:.0f} ms (bound {b.bound * 1000:.0f} ms), "
                f"{b.rate_limited} 429s",
                passed=b.passed,
            )
        )
    for j in result.short:
        out.append(
            Verdict(
                target=f"short job at {j.requests}/{j.window:g} s ({j.sent} requests): >= 95% "
                "of what the rolling window allows, zero 429s",
                measured=f"{pct(j.fraction)} ({j.wall:.2f} s for {j.allowed:.2f} s allowed), "
                f"{j.rate_limited} 429s",
                passed=j.passed,
            )
        )
    for r in result.long:
        out.append(
            Verdict(
                target=f"long run at {r.requests}/{r.window:g} s, jittered round trip: "
                "sustained >= 99% of the ceiling, zero 429s, peak <= limit",
                measured=f"sustained {pct(r.sustained_fraction)}, {r.rate_limited} 429s, "
                f"peak {r.peak_window}/{r.requests}",
                passed=r.passed,
            )
        )
    for p in result.processes:
        if p.passed is None:
            continue
        out.append(
            Verdict(
                target=f"{p.processes} process(es) on one {p.requests}/{p.window:g} s window "
                "through Redis: together >= 95% of the ceiling, zero 429s",
                measured=f"sustained {pct(p.sustained_fraction)}, {p.sandbox_429} 429s",
                passed=p.passed,
            )
        )
    c = result.redis_cost
    if c is not None:
        out.append(
            Verdict(
                target="Redis's cost: at most one Redis round trip (+ 0.5 ms) per request",
                measured=f"{(c.wall_with - c.wall_without) * 1000:+.3f} ms and "
                f"{(c.cpu_with - c.cpu_without) * 1e6:+.0f} us CPU per request "
                f"(PING {c.redis_rtt * 1000:.3f} ms)",
                passed=c.passed,
            )
        )
    return out


def reads_verdicts(result: rd.ReadsResult) -> list[Verdict]:
    """Complete reads (every association of every record), and 0 429s with reads and writes."""
    out = []
    for name in (rd.GATHERED, rd.SUBMITTED, rd.BATCH_READ):
        s = result.summary.get(name)
        if s is None:
            continue
        out.append(
            Verdict(
                target=f"complete reads: {name} returns 100% of associations",
                measured=f"{s.returned:,.0f} of {s.seeded:,} ({pct(s.share)}), "
                f"{s.complete:,.0f}/{s.records:,} records complete, {s.requests:,.0f} requests",
                passed=s.returned == s.seeded and s.complete == s.records,
            )
        )
    if result.mixed:
        limited = sum(m.sandbox_429 for m in result.mixed)
        peak = max(m.peak_window for m in result.mixed)
        right = all(
            m.reads_complete == m.ops["get_associations"]
            and m.writes_right == m.writes_checked
            and not sum(m.failures.values())
            for m in result.mixed
        )
        out.append(
            Verdict(
                target=f"mixed reads and writes: 0 429s on one client at {rd.FREE_REQUESTS}/"
                f"{result.window:g} s (RateLimit and adaptive), every call right",
                measured=f"{limited} 429s in {len(result.mixed)} runs, peak window "
                f"{peak}/{rd.FREE_REQUESTS}, " + ("every call right" if right else "WRONG results"),
                passed=limited == 0 and peak <= rd.FREE_REQUESTS and right,
            )
        )
    return out

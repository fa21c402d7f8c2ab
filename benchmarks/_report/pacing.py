"""Section 5 of the report: pacing (burst, short jobs, long runs, K processes, Redis's cost)."""

from __future__ import annotations

from benchmarks import _pacing as pac
from benchmarks._report.fmt import n, pct, reps, table
from benchmarks._stats import mark

__all__ = ["pacing_section"]


def pacing_section(result: pac.PacingResult) -> list[str]:
    """The section's markdown lines."""
    scale = result.time_scale
    out = [
        "## 5. Pacing",
        "",
        f"Time scale {scale:g} (HubSpot's 10 s window is {10 * scale:g} s here, its 150 ms "
        f"round trip {pac.ROUND_TRIP * scale * 1000:g} ms); hubassoc's defaults "
        f"(`linger` {pac.LINGER * 1000:g} ms, `max_concurrency` {pac.MAX_CONCURRENCY}); "
        "429s are the sandbox's count; peak is the most requests the sandbox saw in any "
        "rolling window.",
    ]
    if result.burst is not None:
        out += ["", *_burst(result.burst, result.repeat)]
    if result.short:
        out += ["", *_short(result.short, result.repeat)]
    if result.long:
        out += ["", *_long(result.long)]
    if result.processes:
        out += ["", *_processes(result.processes)]
    if result.redis_cost is not None:
        out += ["", *_redis_cost(result.redis_cost, result.repeat)]
    if result.skipped:
        out += ["", *[f"Not run: {why}." for why in result.skipped]]
    return out


def _burst(b: pac.BurstResult, repeat: int) -> list[str]:
    return [
        "**a. Burst.** "
        f"{b.pairs:,} pairs ({b.burst} requests' worth) given at once to an idle "
        f"`RateLimit({b.requests}, {b.window:g})` client, {b.round_trip * 1000:g} ms round "
        f"trip, {reps(repeat)}: the window has room for all of it, so it should go at once. "
        "Two ways of giving them: `submit_default` per pair, the futures gathered (the way "
        "for bulk fan-out; the target is judged on it), and one awaited `associate_default` "
        "per pair, gathered (a coroutine and a task per pair: asyncio's own cost of those, "
        "about 20 us a pair on this machine, is most of its client CPU, inside its wall time).",
        "",
        *table(
            [
                "pairs given by",
                "median ms",
                "client CPU ms",
                "bound ms (linger + ceil(50/8) RTT + 20)",
                "429s",
                "peak",
                "result",
                "per repetition ms",
            ],
            [
                [
                    "submit_default",
                    f"{b.wall * 1000:.0f}",
                    n(b.cpu * 1000),
                    f"{b.bound * 1000:.0f}",
                    str(b.rate_limited),
                    f"{b.peak_window}/{b.requests}",
                    f"**{mark(b.passed)}**",
                    ", ".join(f"{w * 1000:.0f}" for w in b.walls),
                ],
                [
                    "associate_default",
                    f"{b.await_wall * 1000:.0f}",
                    n(b.await_cpu * 1000),
                    f"{b.bound * 1000:.0f}",
                    "",
                    "",
                    "(info)" if b.await_wall <= b.bound else "(over the bound)",
                    ", ".join(f"{w * 1000:.0f}" for w in b.await_walls),
                ],
            ],
            "lrrrrrcl",
        ),
        "",
        f"Measured in the burst: a request's round trip is {b.measured_round_trip * 1000:.1f} ms "
        f"(the configured {b.round_trip * 1000:g} ms plus the single-process sandbox serving "
        f"each round's {pac.MAX_CONCURRENCY} requests one after another), and the pacer held "
        f"requests for {b.pacer_wait * 1000:.1f} ms in all. At the measured round "
        f"trip the bound's formula gives {b.measured_bound * 1000:.0f} ms.",
    ]


def _short(jobs: list[pac.ShortJob], repeat: int) -> list[str]:
    return [
        f"**b. Short jobs.** {pac.SHORT_WINDOWS} windows' worth of requests, {reps(repeat)}: "
        "N requests need `ceil(N / limit) - 1` windows; *of allowed* is that time over the "
        "median wall time (target >= 95%, zero 429s). Each window's requests leave "
        "`max_concurrency` at a time, one round trip apart, and that spread counts too: "
        f"these runs use `max_concurrency={pac.SHORT_CONCURRENCY}`, since at the default (8) "
        "a window of 100 requests needs 13 round trips to leave (1.95 s at HubSpot's 150 ms), "
        "which alone caps a 4-window job at 100/10 s at 30 / 32.1 s = 93.5%.",
        "",
        *table(
            [
                "window",
                "RTT ms",
                "requests",
                "pairs",
                "allowed s",
                "wall s",
                "of allowed",
                "429s",
                "peak",
                "result",
            ],
            [
                [
                    j.name
                    if j.name.endswith(f"{j.requests}/{j.window:g} s")
                    else f"{j.name} (run as {j.requests}/{j.window:g} s)",
                    f"{j.round_trip * 1000:g}",
                    str(j.sent),
                    n(j.pairs),
                    f"{j.allowed:.2f}",
                    f"{j.wall:.2f}",
                    pct(j.fraction),
                    str(j.rate_limited),
                    f"{j.peak_window}/{j.requests}",
                    f"**{mark(j.passed)}**",
                ]
                for j in jobs
            ],
            "lrrrrrrrrc",
        ),
    ]


def _long(runs: list[pac.LongRun]) -> list[str]:
    first = runs[0]
    return [
        f"**c. Long runs.** {first.windows} windows' worth of pairs with a jittered round "
        f"trip (mean {first.round_trip * 1000:g} ms, uniform over "
        f"{first.jitter * 1000:g} ms): sustained >= 99% of the ceiling, zero 429s, peak <= "
        "the limit. *Sustained* is the rate from the moment the first window's worth of pairs "
        "is done to the last completion (the same whether a pacer sends each window's share "
        "at its start or spreads it); *of ceiling* is the whole run's rate.",
        "",
        *table(
            [
                "window",
                "pairs",
                "wall s",
                "ceiling pairs/s",
                "of ceiling",
                "sustained",
                "429s",
                "peak",
                "result",
            ],
            [
                [
                    f"{r.name} (run as {r.requests}/{r.window:g} s)",
                    n(r.pairs),
                    n(r.wall, 1),
                    n(r.ceiling),
                    pct(r.fraction),
                    pct(r.sustained_fraction),
                    str(r.rate_limited),
                    f"{r.peak_window}/{r.requests}",
                    f"**{mark(r.passed)}**",
                ]
                for r in runs
            ],
            "lrrrrrrrc",
        ),
    ]


def _processes(runs: list[pac.ProcessRun]) -> list[str]:
    first = runs[0]
    return [
        f"**d. K processes on one window** ({first.requests}/{first.window:g} s, "
        f"{n(first.pairs)} pairs shared out, each process a client in its own interpreter, "
        "all starting on the same instant): through one `hubassoc.RedisBudget` "
        "(`rate_limit=RateLimit(...)`, `shared_budget=...`), together >= 95% of the ceiling "
        "(sustained, as in c) with zero 429s; beside it, the same K without Redis "
        "(adaptive, `rate_limit=None`), for information.",
        "",
        *table(
            [
                "K",
                "budget",
                "wall s",
                "sustained of ceiling",
                "429s (sandbox)",
                "429s (clients)",
                "peak",
                "failed",
                "client CPU s",
                "result",
            ],
            [
                [
                    str(r.processes),
                    "Redis" if r.mode == "redis" else "none (adaptive)",
                    n(r.wall, 1),
                    pct(r.sustained_fraction),
                    str(r.sandbox_429),
                    str(r.rate_limited),
                    f"{r.peak_window}/{r.requests}",
                    n(r.failed),
                    f"{r.cpu:.2f}",
                    f"**{mark(r.passed)}**" if r.passed is not None else "(info)",
                ]
                for r in runs
            ],
            "rlrrrrrrrc",
        ),
    ]


def _redis_cost(c: pac.RedisCost, repeat: int) -> list[str]:
    extra_cpu = (c.cpu_with - c.cpu_without) * 1e6
    extra_wall = (c.wall_with - c.wall_without) * 1000
    return [
        f"**e. Redis's cost per request.** {c.requests} one-pair requests awaited one after "
        f"another (sandbox without latency), with and without the shared budget, "
        f"{reps(repeat)}; a Redis round trip (`PING`) takes {c.redis_rtt * 1000:.3f} ms. "
        "Target: the budget adds at most one Redis round trip (+ 0.5 ms) of wall per request.",
        "",
        *table(
            ["", "client CPU us/request", "wall ms/request"],
            [
                ["without Redis", f"{c.cpu_without * 1e6:.0f}", f"{c.wall_without * 1000:.3f}"],
                ["with RedisBudget", f"{c.cpu_with * 1e6:.0f}", f"{c.wall_with * 1000:.3f}"],
                ["Redis's cost", f"{extra_cpu:+.0f}", f"{extra_wall:+.3f}"],
            ],
            "lrr",
        ),
        "",
        f"Result: **{mark(c.passed)}**.",
    ]

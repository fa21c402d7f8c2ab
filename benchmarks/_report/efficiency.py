"""Section 1 of the report: client efficiency (no rate limit, no latency)."""

from __future__ import annotations

from benchmarks import _efficiency as eff
from benchmarks._report.fmt import n, reps, table, x
from benchmarks._stats import mark

__all__ = ["efficiency_section"]


def efficiency_section(result: eff.EfficiencyResult) -> list[str]:
    """The section's markdown lines."""
    out = [
        "## 1. Client efficiency (no rate limit, no latency)",
        "",
        f"{result.pairs:,} pairs per run ({result.single_pairs:,} for single PUTs; rates are "
        f"per pair), {reps(result.repeat)} after one small warm-up run each; the sandbox "
        "is reset before every run and every run uses fresh ids.",
        "",
    ]
    rows = [
        [
            name,
            eff.WHAT.get(name, ""),
            n(s.pairs),
            n(s.per_wall),
            n(s.per_cpu),
            n(s.cpu, 2),
            n(s.sandbox_cpu, 2),
            n(s.requests),
        ]
        for name, s in result.summary.items()
    ]
    out += table(
        [
            "contender",
            "what",
            "pairs",
            "pairs/s (wall)",
            "pairs/CPU-s (client)",
            "client CPU s",
            "sandbox CPU s",
            "requests",
        ],
        rows,
        "llrrrrrr",
    )
    out += [
        "",
        "Ratios, taken within each repetition, then the median (CPU ratios are primary):",
        "",
    ]
    rows = [
        [
            f"{item.num} / {item.den}",
            x(item.cpu),
            x(item.wall),
            f">= {item.target:g}" if item.target is not None else "(info)",
            f"**{mark(item.passed)}**" if item.target is not None else "",
            ", ".join(x(v) for v in item.cpu_reps),
        ]
        for item in result.ratios
    ]
    out += table(
        ["ratio", "per CPU-s", "per wall-s", "target (CPU)", "result", "CPU ratio per repetition"],
        rows,
        "lrrrcl",
    )
    out += _losses(result)
    out += _cpu_per_pair(result)
    return out


def _losses(result: eff.EfficiencyResult) -> list[str]:
    losses = [
        item
        for item in result.ratios
        if item.num.startswith("hubassoc")
        and item.den != eff.FLOOR
        and (item.cpu < 1 or item.wall < 1)
    ]
    if not losses:
        return []
    out = ["", "Where hubassoc loses to an anchor:", ""]
    for item in losses:
        out.append(
            f"- {item.num} does {x(item.cpu)} the pairs per CPU second and "
            f"{x(item.wall)} the pairs per wall second of {item.den}."
        )
    return out


def _cpu_per_pair(result: eff.EfficiencyResult) -> list[str]:
    us = {name: 1e6 / s.per_cpu for name, s in result.summary.items() if s.per_cpu > 0}
    if not {eff.COALESCED, eff.EXPLICIT, eff.PIPE, eff.FLOOR} <= us.keys():
        return []
    coalesced, explicit, pipe, floor = (
        us[eff.COALESCED],
        us[eff.EXPLICIT],
        us[eff.PIPE],
        us[eff.FLOOR],
    )
    return [
        "",
        "Client CPU per pair, in microseconds (medians): "
        + ", ".join(f"{name} {value:.1f}" for name, value in us.items())
        + ".",
        f"Roughly, of the coalesced client's {coalesced:.1f} us per pair, {floor:.1f} us is "
        "what gathering one awaited coroutine per pair costs in asyncio with no client "
        f"at all (the floor) and {pipe:.1f} us is the HTTP itself (the pipe); "
        + (
            f"the remaining {coalesced - floor - pipe:.1f} us is hubassoc's own work "
            "(validation, batching, decoding, resolving each caller's future). "
            if coalesced - floor - pipe > 0
            else "what remains for hubassoc's own work is within run-to-run noise. "
        )
        + f"The explicit batch spends {explicit - pipe:.1f} us per pair beyond the pipe.",
    ]

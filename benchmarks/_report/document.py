"""``RESULTS.md``: the header, the targets met or missed, then one section per result."""

from __future__ import annotations

from benchmarks._machine import Machine
from benchmarks._report.backfill import backfill_section
from benchmarks._report.efficiency import efficiency_section
from benchmarks._report.fmt import table
from benchmarks._report.latency import latency_section
from benchmarks._report.limits import limits_section
from benchmarks._report.pacing import pacing_section
from benchmarks._report.reads import reads_section
from benchmarks._report.verdicts import (
    Verdict,
    efficiency_verdicts,
    latency_verdicts,
    limits_verdicts,
    pacing_verdicts,
    reads_verdicts,
)
from benchmarks._results import Results
from benchmarks._stats import mark

__all__ = ["markdown"]


def markdown(results: Results) -> str:
    """The whole document."""
    efficiency, limits, latency, backfill, pacing, reads = (
        results.efficiency,
        results.limits,
        results.latency,
        results.backfill,
        results.pacing,
        results.reads,
    )
    out: list[str] = ["# hubassoc benchmarks", ""]
    out += [
        "Produced by `python -m benchmarks` (see `benchmarks/__main__.py`); every figure is a "
        "median over repetitions, and repetition r runs every client once before "
        "repetition r+1. The HubSpot-compatible sandbox runs in its own process on "
        "127.0.0.1; client CPU is `time.process_time()` of the benchmark process. "
        'To reproduce: `pip install -e ".[bench]"`, then the command below from the '
        "repository root (`python -m benchmarks --quick` for a few-minute smoke run at "
        "time scale 0.1).",
        "",
    ]
    out += _machine_table(results.machine, results.elapsed)
    verdicts: list[Verdict] = []
    if efficiency is not None:
        verdicts += efficiency_verdicts(efficiency)
    if limits is not None:
        verdicts += limits_verdicts(limits)
    if latency is not None:
        verdicts += latency_verdicts(latency)
    if pacing is not None:
        verdicts += pacing_verdicts(pacing)
    if reads is not None:
        verdicts += reads_verdicts(reads)
    if verdicts:
        out += ["", "## Targets", ""]
        out += table(
            ["target", "measured", "result"],
            [[v.target, v.measured, f"**{mark(v.passed)}**"] for v in verdicts],
            "llc",
        )
    if efficiency is not None:
        out += ["", *efficiency_section(efficiency)]
    if limits is not None:
        out += ["", *limits_section(limits)]
    if latency is not None:
        out += ["", *latency_section(latency)]
    if backfill is not None:
        out += ["", *backfill_section(backfill)]
    if pacing is not None:
        out += ["", *pacing_section(pacing)]
    if reads is not None:
        out += ["", *reads_section(reads)]
    problems = [
        *(efficiency.problems if efficiency else []),
        *(limits.problems if limits else []),
        *(backfill.problems if backfill else []),
        *(pacing.problems if pacing else []),
        *(reads.problems if reads else []),
    ]
    if problems:
        out += ["", "## Problems seen during the run", ""]
        out += [f"- {p}" for p in problems]
    return "\n".join(out) + "\n"


def _machine_table(info: Machine, elapsed: float) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in info.versions.items())
    load_before = " ".join(f"{v:.2f}" for v in info.load_before)
    load_after = " ".join(f"{v:.2f}" for v in info.load_after)
    return table(
        ["", ""],
        [
            ["command", f"`{info.command}`"],
            ["date", info.date],
            ["CPU", f"{info.cpu}, {info.cores} cores"],
            ["Python", info.python],
            ["packages", f"{versions}, urllib3 {info.urllib3}"],
            ["code", f"git {info.git}, hubassoc sources sha256 {info.source_digest}"],
            ["load average (1/5/15 min)", f"before {load_before}; after {load_after}"],
            ["duration", f"{elapsed / 60:.1f} min"],
        ],
        "ll",
    )

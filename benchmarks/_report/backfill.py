"""Section 4 of the report: ``hubassoc backfill`` over a large file."""

from __future__ import annotations

from benchmarks._backfill import BackfillResult
from benchmarks._report.fmt import n, reps, table

__all__ = ["backfill_section"]


def backfill_section(result: BackfillResult) -> list[str]:
    """The section's markdown lines."""
    out = ["## 4. Backfill", ""]
    if result.skipped:
        return [*out, f"Not measured: {result.skipped}."]
    out += [
        f"`{result.command}` over {result.rows:,} CSV rows against the sandbox without limits, "
        f"{reps(len(result.reps))} (runner: {result.runner}, called in a fresh interpreter). "
        "Wall time includes the child's interpreter start-up. Peak RSS is the child's own "
        "high-water mark after exec (`VmHWM`; its `ru_maxrss` would also count the copy of "
        "the process that spawned it); the runner's own peak is shown beside it.",
        "",
    ]
    s = result.summary
    if s is None:
        return [*out, "Every run failed; see the problems below."]
    out += table(
        [
            "rows",
            "pairs/s",
            "wall s",
            "child CPU s",
            "pairs/CPU-s",
            "peak RSS MB (median/max)",
            "runner process peak MB",
        ],
        [
            [
                n(result.rows),
                n(s.per_s),
                n(s.wall, 1),
                n(s.cpu, 1),
                n(s.per_cpu),
                f"{n(s.peak_rss_mb)} / {n(s.peak_rss_mb_max)}",
                n(s.runner_rss_mb_max),
            ]
        ],
    )
    return out

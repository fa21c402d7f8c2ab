"""Section 3 of the report: the latency of a lone call."""

from __future__ import annotations

from benchmarks import _latency as lat
from benchmarks._report.fmt import reps, table
from benchmarks._stats import mark

__all__ = ["latency_section"]


def latency_section(result: lat.LatencyResult) -> list[str]:
    """The section's markdown lines."""
    rtt = result.summary["rtt"]
    out = [
        "## 3. Latency of a lone call",
        "",
        f"One awaited `associate_default` at a time on an idle client ({result.calls} calls, "
        f"{reps(result.repeat)}; 2 ms pause between calls; the first call, which opens "
        f"the connection, is not counted). RTT: a bare aiohttp POST of one pair to the same "
        f"sandbox: median {rtt.median * 1000:.2f} ms, p90 {rtt.p90 * 1000:.2f} ms.",
        "",
    ]
    rows = [
        [
            f"{v.linger * 1000:g} ms",
            f"{v.median * 1000:.2f}",
            f"{v.bound_median * 1000:.2f}",
            f"**{mark(v.median_ok)}**",
            f"{v.p90 * 1000:.2f}",
            f"{v.bound_p90 * 1000:.2f}",
            mark(v.p90_ok),
            f"{v.overhead_median * 1000:+.2f}",
        ]
        for v in lat.verdicts(result)
    ]
    out += table(
        [
            "linger",
            "median ms",
            "bound (linger+RTT+2)",
            "result",
            "p90 ms",
            "bound (linger+p90 RTT+2)",
            "p90 result",
            "median - linger - RTT, ms",
        ],
        rows,
        "lrrcrrcr",
    )
    return out

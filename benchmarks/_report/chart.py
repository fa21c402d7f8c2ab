"""``throughput.png``: the rolling-window panel and the client-efficiency panel (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import _efficiency as eff
from benchmarks import _limits as lim
from benchmarks import _pacing as pac

__all__ = ["write_chart"]

_COLOURS = {
    lim.FIXED: "#1f77b4",
    lim.ADAPTIVE: "#6baed6",
    lim.OFFICIAL: "#d62728",
    lim.SDK: "#ff7f0e",
}


def write_chart(
    path: Path,
    efficiency: eff.EfficiencyResult | None,
    limits: lim.LimitsResult | None,
    pacing: pac.PacingResult | None = None,
) -> bool:
    """Write the PNG; False if there is nothing to draw or matplotlib is missing."""
    if pacing is not None and not pacing.processes:
        pacing = None
    if efficiency is None and limits is None and pacing is None:
        return False
    try:
        import matplotlib
    except ModuleNotFoundError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in (limits, efficiency, pacing) if p is not None]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(7.5 * len(panels), 5.0), squeeze=False, layout="constrained"
    )
    column = 0
    if limits is not None:
        _limits_panel(axes[0][column], limits)
        column += 1
    if efficiency is not None:
        _efficiency_panel(axes[0][column], efficiency)
        column += 1
    if pacing is not None:
        _processes_panel(axes[0][column], pacing)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _limits_panel(ax: Any, result: lim.LimitsResult) -> None:
    clients = [lim.FIXED, lim.ADAPTIVE, lim.OFFICIAL, lim.SDK]
    width = 0.8 / len(clients)
    for g, scenario in enumerate(result.scenarios):
        summary = result.summary.get(scenario.name, {})
        present = [c for c in clients if c in summary]
        left = g - width * len(present) / 2
        for i, client in enumerate(present):
            s = summary[client]
            x = left + width * (i + 0.5)
            ax.bar(
                x, s.per_s, width * 0.9, color=_COLOURS[client], label=client if g == 0 else None
            )
            ax.annotate(
                f"{s.fraction:.0%}",
                (x, s.per_s),
                ha="center",
                va="top",
                fontsize=8,
                color="white",
                fontweight="bold",
                xytext=(0, -3),
                textcoords="offset points",
            )
        ax.hlines(
            scenario.ceiling,
            g - 0.45,
            g + 0.45,
            colors="black",
            linestyles="dashed",
            label="ceiling (requests x 100 / window)" if g == 0 else None,
        )
    ax.set_xticks(range(len(result.scenarios)))
    rtt = lim.ROUND_TRIP * result.time_scale * 1000
    ax.set_xticklabels(
        [
            s.label.replace(" (", "\n(")
            + (
                ""
                if round(s.latency * 1000, 3) == round(rtt, 3)
                else f"\n{s.latency * 1000:g} ms RTT"
            )
            for s in result.scenarios
        ]
    )
    ax.set_ylabel("associations per second")
    ax.set_title(
        f"Under HubSpot's rolling-window limits, {rtt:g} ms round trip\n"
        "(on each bar: % of the ceiling; official SDK in a plain loop; hubspot-sdk as shipped)",
        fontsize=10,
    )
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.set_ylim(0, max(s.ceiling for s in result.scenarios) * 1.35)


def _efficiency_panel(ax: Any, result: eff.EfficiencyResult) -> None:
    names = [name for name in result.summary if name != eff.FLOOR]
    values = [result.summary[name].per_cpu for name in names]
    colours = ["#1f77b4" if name.startswith("hubassoc") else "#7f7f7f" for name in names]
    colours = [
        "#d62728" if name.startswith("official") else c
        for name, c in zip(names, colours, strict=True)
    ]
    colours = [
        "#ff7f0e" if name.startswith("hubspot-sdk") else c
        for name, c in zip(names, colours, strict=True)
    ]
    ax.barh(range(len(names)), values, color=colours)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    for i, v in enumerate(values):
        ax.annotate(
            f"{v:,.0f}", (v, i), va="center", fontsize=8, xytext=(3, 0), textcoords="offset points"
        )
    ax.set_xlabel("associations per client CPU second (log scale)")
    ax.set_title(
        "Client efficiency: no limits, no latency\n"
        f"({result.pairs:,} pairs; single PUTs {result.single_pairs:,}; higher is better)",
        fontsize=10,
    )
    ax.set_xlim(right=max(values) * 4)


def _processes_panel(ax: Any, result: pac.PacingResult) -> None:
    counts = sorted({run.processes for run in result.processes})
    modes = [
        ("redis", "shared RedisBudget", "#1f77b4"),
        ("adaptive", "adaptive, no Redis", "#6baed6"),
    ]
    width = 0.38
    for i, (mode, label, colour) in enumerate(modes):
        runs = {run.processes: run for run in result.processes if run.mode == mode}
        if not runs:
            continue
        xs = [g + (i - 0.5) * width for g, k in enumerate(counts) if k in runs]
        values = [runs[k].sustained_fraction * 100 for k in counts if k in runs]
        ax.bar(xs, values, width * 0.9, color=colour, label=label)
        for x, k in zip(xs, [k for k in counts if k in runs], strict=True):
            run = runs[k]
            ax.annotate(
                f"{run.sandbox_429} 429s",
                (x, run.sustained_fraction * 100),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.axhline(pac.PROCESS_TARGET * 100, color="black", linestyle="dashed", label="target 95%")
    ax.set_xticks(range(len(counts)))
    ax.set_xticklabels([f"K = {k}" for k in counts])
    ax.set_ylabel("sustained, % of the ceiling (all processes together)")
    first = result.processes[0]
    ax.set_title(
        f"K processes on one {first.requests}/{first.window:g} s window\n"
        "(on each bar: 429s the sandbox answered)",
        fontsize=10,
    )
    ax.set_ylim(0, 115)
    ax.legend(loc="lower left", fontsize=8)

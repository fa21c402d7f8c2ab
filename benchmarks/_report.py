"""Turning results into ``RESULTS.md`` (also printed) and ``throughput.png``."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from benchmarks import _efficiency as eff
from benchmarks import _latency as lat
from benchmarks import _limits as lim
from benchmarks._backfill import BackfillResult
from benchmarks._stats import mark

__all__ = ["machine_info", "markdown", "write_chart"]

ROOT = Path(__file__).resolve().parent.parent


# --- the machine ------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _source_digest() -> str:
    """A digest of hubassoc's sources, to tie results to code that may be uncommitted."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "hubassoc").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def machine_info(command: str) -> dict[str, Any]:
    """Where and with what the benchmark ran."""
    head = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--", "hubassoc")
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {
            dist: _version(dist)
            for dist in ("hubassoc", "aiohttp", "msgspec", "aiolimiter", "hubspot-api-client")
        },
        "urllib3": _version("urllib3"),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": head + (" + uncommitted changes in hubassoc/" if dirty else ""),
        "source_digest": _source_digest(),
        "command": command,
        "load_before": os.getloadavg(),
    }


# --- formatting -----------------------------------------------------------------------------


def _n(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.1%}"


def _x(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def _reps(n: int) -> str:
    return f"{n} repetition" + ("" if n == 1 else "s")


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# --- target verdicts, shared by the summary and the sections -----------------------------


def _efficiency_verdicts(result: eff.EfficiencyResult) -> list[dict[str, Any]]:
    out = []
    for item in result.ratios:
        target = item["target"]
        if target is None:
            continue
        out.append(
            {
                "target": f"{item['num']} / {item['den']}, pairs per CPU-s >= {target:g}",
                "measured": f"{_x(item['cpu'])} (wall {_x(item['wall'])})",
                "passed": item["cpu"] >= target,
            }
        )
    return out


def _limits_verdicts(result: lim.LimitsResult) -> list[dict[str, Any]]:
    out = []
    fast = result.summary.get("20/1 s", {}).get(lim.FIXED)
    if fast is not None:
        out.append(
            {
                "target": "limit efficiency, RateLimit(20, 1) at 20/1 s: zero 429s, "
                "sustained >= 95% of ceiling",
                "measured": f"{fast['rate_limited']} 429s, sustained "
                f"{_pct(fast['sustained_fraction'])} (overall {_pct(fast['fraction'])})",
                "passed": fast["rate_limited"] == 0 and fast["sustained_fraction"] >= 0.95,
            }
        )
    pro = next((s for s in result.scenarios if s.name.startswith("Professional")), None)
    adaptive = result.summary.get(pro.name, {}).get(lim.ADAPTIVE) if pro else None
    if pro is not None and adaptive is not None:
        out.append(
            {
                "target": f"adaptive (rate_limit=None) at {pro.requests}/{pro.window:g} s: "
                ">= 90% of capacity after the first window, 429s only in the first window",
                "measured": f"{_pct(adaptive['sustained_fraction'])} after the first window; "
                f"429s: {adaptive['limited_first_window']} in the first window, "
                f"{adaptive['limited_later']} later",
                "passed": adaptive["sustained_fraction"] >= 0.9 and adaptive["limited_later"] == 0,
            }
        )
    return out


def _latency_verdicts(result: lat.LatencyResult) -> list[dict[str, Any]]:
    out = []
    for v in lat.verdicts(result):
        out.append(
            {
                "target": f"lone call at linger={v['linger'] * 1000:g} ms: median <= "
                "linger + RTT + 2 ms",
                "measured": f"{v['median'] * 1000:.2f} ms (bound {v['bound_median'] * 1000:.2f} ms)"
                f"; p90 {v['p90'] * 1000:.2f} ms (bound {v['bound_p90'] * 1000:.2f} ms)",
                "passed": v["median_ok"],
            }
        )
    return out


# --- the document -------------------------------------------------------------------------


def markdown(
    info: dict[str, Any],
    efficiency: eff.EfficiencyResult | None,
    limits: lim.LimitsResult | None,
    latency: lat.LatencyResult | None,
    backfill: BackfillResult | None,
    *,
    elapsed: float,
) -> str:
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
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    load_before = " ".join(f"{x:.2f}" for x in info["load_before"])
    load_after = " ".join(f"{x:.2f}" for x in info.get("load_after", ()))
    out += _table(
        ["", ""],
        [
            ["command", f"`{info['command']}`"],
            ["date", info["date"]],
            ["CPU", f"{info['cpu']}, {info['cores']} cores"],
            ["Python", info["python"]],
            ["packages", f"{versions}, urllib3 {info['urllib3']}"],
            ["code", f"git {info['git']}, hubassoc sources sha256 {info['source_digest']}"],
            ["load average (1/5/15 min)", f"before {load_before}; after {load_after}"],
            ["duration", f"{elapsed / 60:.1f} min"],
        ],
        "ll",
    )
    verdicts: list[dict[str, Any]] = []
    if efficiency is not None:
        verdicts += _efficiency_verdicts(efficiency)
    if limits is not None:
        verdicts += _limits_verdicts(limits)
    if latency is not None:
        verdicts += _latency_verdicts(latency)
    if verdicts:
        out += ["", "## Targets", ""]
        out += _table(
            ["target", "measured", "result"],
            [[v["target"], v["measured"], f"**{mark(v['passed'])}**"] for v in verdicts],
            "llc",
        )
    if efficiency is not None:
        out += ["", *_efficiency_section(efficiency)]
    if limits is not None:
        out += ["", *_limits_section(limits)]
    if latency is not None:
        out += ["", *_latency_section(latency)]
    if backfill is not None:
        out += ["", *_backfill_section(backfill)]
    problems = [
        *(efficiency.problems if efficiency else []),
        *(limits.problems if limits else []),
        *(backfill.problems if backfill else []),
    ]
    if problems:
        out += ["", "## Problems seen during the run", ""]
        out += [f"- {p}" for p in problems]
    return "\n".join(out) + "\n"


def _efficiency_section(result: eff.EfficiencyResult) -> list[str]:
    out = [
        "## 1. Client efficiency (no rate limit, no latency)",
        "",
        f"{result.pairs:,} pairs per run ({result.single_pairs:,} for single PUTs; rates are "
        f"per pair), {_reps(result.repeat)} after one small warm-up run each; the sandbox "
        "is reset before every run and every run uses fresh ids.",
        "",
    ]
    rows = []
    for name, s in result.summary.items():
        rows.append(
            [
                name,
                eff.WHAT.get(name, ""),
                _n(s["pairs"]),
                _n(s["per_wall"]),
                _n(s["per_cpu"]),
                _n(s["cpu"], 2),
                _n(s["sandbox_cpu"], 2),
                _n(s["requests"]),
            ]
        )
    out += _table(
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
    rows = []
    for item in result.ratios:
        target = item["target"]
        rows.append(
            [
                f"{item['num']} / {item['den']}",
                _x(item["cpu"]),
                _x(item["wall"]),
                f">= {target:g}" if target is not None else "(info)",
                f"**{mark(item['cpu'] >= target)}**" if target is not None else "",
                ", ".join(_x(v) for v in item["cpu_reps"]),
            ]
        )
    out += _table(
        ["ratio", "per CPU-s", "per wall-s", "target (CPU)", "result", "CPU ratio per repetition"],
        rows,
        "lrrrcl",
    )
    losses = [
        item
        for item in result.ratios
        if item["num"].startswith("hubassoc")
        and item["den"] != eff.FLOOR
        and (item["cpu"] < 1 or item["wall"] < 1)
    ]
    if losses:
        out += ["", "Where hubassoc loses to an anchor:", ""]
        for item in losses:
            out.append(
                f"- {item['num']} does {_x(item['cpu'])} the pairs per CPU second and "
                f"{_x(item['wall'])} the pairs per wall second of {item['den']}."
            )
    us = {name: 1e6 / s["per_cpu"] for name, s in result.summary.items() if s["per_cpu"] > 0}
    if {eff.COALESCED, eff.EXPLICIT, eff.PIPE, eff.FLOOR} <= us.keys():
        coalesced, explicit, pipe, floor = (
            us[eff.COALESCED],
            us[eff.EXPLICIT],
            us[eff.PIPE],
            us[eff.FLOOR],
        )
        out += [
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
    return out


def _limits_section(result: lim.LimitsResult) -> list[str]:
    scale = result.time_scale
    out = [
        "## 2. Under HubSpot's rate limits",
        "",
        f"Time scale {scale:g}: HubSpot's 10 s window is {10 * scale:g} s here and the round "
        f"trip {lim.ROUND_TRIP * scale * 1000:g} ms (HubSpot-like: {lim.ROUND_TRIP * 1000:g} ms "
        f"at scale 1). Each run carries requests x 100 x windows pairs. The ceiling is "
        "requests x 100 pairs per window. *Sustained* counts only pairs completed after the "
        "first window. 429s are totals over all repetitions (hubassoc's own count; for the "
        "official SDK the sandbox's, as urllib3 retries them silently); peak is the most "
        "requests the sandbox saw in any rolling window (max over repetitions). The official "
        f"SDK uses `Retry(total={lim.RETRY_TOTAL}, status_forcelist=(429,), allowed_methods=None, "
        f"backoff_factor={lim.RETRY_BACKOFF * scale:g})` in a plain loop, as its README suggests "
        "(plus `allowed_methods=None`, without which urllib3 never retries a POST).",
        "",
    ]
    rows = []
    for scenario in result.scenarios:
        for client, s in result.summary.get(scenario.name, {}).items():
            rows.append(
                [
                    scenario.label,
                    client,
                    str(s["repeat"]),
                    _n(s["pairs"]),
                    _n(s["per_s"]),
                    _n(scenario.ceiling),
                    _pct(s["fraction"]),
                    _pct(s["sustained_fraction"]),
                    str(s["rate_limited"]),
                    f"{s['peak_window']}/{scenario.requests}",
                    _n(s["wall"], 1),
                ]
            )
    out += _table(
        [
            "window",
            "client",
            "reps",
            "pairs",
            "pairs/s",
            "ceiling",
            "of ceiling",
            "sustained",
            "429s",
            "peak",
            "wall s",
        ],
        rows,
        "llrrrrrrrrr",
    )
    official = [
        (scenario, result.summary.get(scenario.name, {}).get(lim.OFFICIAL))
        for scenario in result.scenarios
    ]
    notes = [
        f"- The official SDK in a plain loop is bound by the round trip, not by the limit: "
        f"at most one request per {lim.ROUND_TRIP * scale * 1000:g} ms plus its own overhead, "
        f"so {_pct(s['fraction'])} of the {scenario.name} ceiling."
        for scenario, s in official
        if s is not None
    ]
    if notes:
        out += ["", *notes]
    return out


def _latency_section(result: lat.LatencyResult) -> list[str]:
    rtt = result.summary["rtt"]
    out = [
        "## 3. Latency of a lone call",
        "",
        f"One awaited `associate_default` at a time on an idle client ({result.calls} calls, "
        f"{_reps(result.repeat)}; 2 ms pause between calls; the first call, which opens "
        f"the connection, is not counted). RTT: a bare aiohttp POST of one pair to the same "
        f"sandbox: median {rtt['median'] * 1000:.2f} ms, p90 {rtt['p90'] * 1000:.2f} ms.",
        "",
    ]
    rows = []
    for v in lat.verdicts(result):
        rows.append(
            [
                f"{v['linger'] * 1000:g} ms",
                f"{v['median'] * 1000:.2f}",
                f"{v['bound_median'] * 1000:.2f}",
                f"**{mark(v['median_ok'])}**",
                f"{v['p90'] * 1000:.2f}",
                f"{v['bound_p90'] * 1000:.2f}",
                mark(v["p90_ok"]),
                f"{v['overhead_median'] * 1000:+.2f}",
            ]
        )
    out += _table(
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


def _backfill_section(result: BackfillResult) -> list[str]:
    out = ["## 4. Backfill", ""]
    if result.skipped:
        return [*out, f"Not measured: {result.skipped}."]
    out += [
        f"`{result.command}` over {result.rows:,} CSV rows against the sandbox without limits, "
        f"{_reps(len(result.reps))} (runner: {result.runner}, called in a fresh interpreter). "
        "Wall time includes the child's interpreter start-up. Peak RSS is the child's own "
        "high-water mark after exec (`VmHWM`; its `ru_maxrss` would also count the copy of "
        "the process that spawned it); the runner's own peak is shown beside it.",
        "",
    ]
    s = result.summary
    if not s:
        return [*out, "Every run failed; see the problems below."]
    out += _table(
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
                _n(result.rows),
                _n(s["per_s"]),
                _n(s["wall"], 1),
                _n(s["cpu"], 1),
                _n(s["per_cpu"]),
                f"{_n(s['peak_rss_mb'])} / {_n(s['peak_rss_mb_max'])}",
                _n(s.get("runner_rss_mb_max", math.nan)),
            ]
        ],
    )
    return out


# --- the chart ----------------------------------------------------------------------------


def write_chart(
    path: Path, efficiency: eff.EfficiencyResult | None, limits: lim.LimitsResult | None
) -> bool:
    """Write the PNG; False if there is nothing to draw or matplotlib is missing."""
    if efficiency is None and limits is None:
        return False
    try:
        import matplotlib
    except ModuleNotFoundError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in (limits, efficiency) if p is not None]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(7.5 * len(panels), 5.0), squeeze=False, layout="constrained"
    )
    column = 0
    if limits is not None:
        _limits_panel(axes[0][column], limits)
        column += 1
    if efficiency is not None:
        _efficiency_panel(axes[0][column], efficiency)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


_COLOURS = {
    lim.FIXED: "#1f77b4",
    lim.ADAPTIVE: "#6baed6",
    lim.OFFICIAL: "#d62728",
}


def _limits_panel(ax: Any, result: lim.LimitsResult) -> None:
    clients = [lim.FIXED, lim.ADAPTIVE, lim.OFFICIAL]
    width = 0.26
    for g, scenario in enumerate(result.scenarios):
        summary = result.summary.get(scenario.name, {})
        present = [c for c in clients if c in summary]
        left = g - width * len(present) / 2
        for i, client in enumerate(present):
            s = summary[client]
            x = left + width * (i + 0.5)
            ax.bar(
                x, s["per_s"], width * 0.9, color=_COLOURS[client], label=client if g == 0 else None
            )
            ax.annotate(
                f"{s['fraction']:.0%}",
                (x, s["per_s"]),
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
        "(on each bar: % of the ceiling; official SDK in a plain loop)",
        fontsize=10,
    )
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.set_ylim(0, max(s.ceiling for s in result.scenarios) * 1.35)


def _efficiency_panel(ax: Any, result: eff.EfficiencyResult) -> None:
    names = [n for n in result.summary if n != eff.FLOOR]
    values = [result.summary[n]["per_cpu"] for n in names]
    colours = ["#1f77b4" if n.startswith("hubassoc") else "#7f7f7f" for n in names]
    colours = [
        "#d62728" if n.startswith("official") else c for n, c in zip(names, colours, strict=True)
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

"""Section 4, backfill: ``hubassoc backfill`` over a large CSV, as a child process.

The runner is ``run_backfill_bench`` of ``benchmarks/backfill_bench.py``
(which also stands alone as ``python -m benchmarks.backfill_bench``). It is
called in a fresh interpreter (``python -m benchmarks._backfill --child ...``),
never in the benchmark process itself, so the runner's own memory stays small;
its peak is recorded beside the figure (``runner_rss_mb``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._sandbox_proc import SandboxProcess
from benchmarks._stats import median
from benchmarks.backfill_bench import backfill_command, run_backfill_bench, shown

__all__ = ["BackfillResult", "BackfillSummary", "run_backfill"]

ROOT = Path(__file__).resolve().parent.parent
TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"


@dataclass
class BackfillSummary:
    """Medians over the runs that succeeded, and the peaks' maxima."""

    per_s: float
    wall: float
    cpu: float
    per_cpu: float
    peak_rss_mb: float
    requests: float
    peak_rss_mb_max: float
    runner_rss_mb_max: float = math.nan


@dataclass
class BackfillResult:
    rows: int
    repeat: int
    runner: str = "benchmarks/backfill_bench.py:run_backfill_bench"
    command: str = ""
    skipped: str = ""  #: why nothing was measured, if nothing was
    #: the runner's figures per run, as it printed them (JSON)
    reps: list[dict[str, Any]] = field(default_factory=list)
    summary: BackfillSummary | None = None
    problems: list[str] = field(default_factory=list)


def _own_peak_mb() -> float:
    """This process's high-water RSS (``VmHWM``), in MB; NaN where ``/proc`` is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _in_fresh_process(url: str, token: str, rows: int) -> dict[str, Any]:
    child = ["-m", "benchmarks._backfill", "--child", url, str(rows)]
    done = subprocess.run(
        [sys.executable, *child],
        cwd=ROOT,
        env={**os.environ, TOKEN_ENV: token},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not done.stdout.strip():
        return {"exit": f"runner process exited {done.returncode}", "stderr": done.stderr[-1500:]}
    rep: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return rep


def _child(argv: list[str]) -> int:
    """``--child URL ROWS``: one measurement, printed as JSON."""
    url, rows = argv[0], int(argv[1])
    rep = dict(run_backfill_bench(url=url, token=os.environ[TOKEN_ENV], rows=rows))
    # This runner's own high-water mark, shown beside the child's figure.
    rep["runner_rss_mb"] = _own_peak_mb()
    print(json.dumps(rep, default=str))
    return 0


def run_backfill(
    sandbox: SandboxProcess, *, rows: int, repeat: int, log: Callable[[str], None]
) -> BackfillResult:
    """``repeat`` backfills of ``rows`` rows each, against the sandbox without limits."""
    result = BackfillResult(rows, repeat)
    result.command = shown(backfill_command(Path("pairs.csv"), "URL"))
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
    for r in range(repeat):
        sandbox.reset()
        rep = _in_fresh_process(sandbox.url, sandbox.token, rows)
        result.reps.append(rep)
        log(
            f"backfill rep {r + 1}/{repeat}: {rep.get('per_s', 0):,.0f} pairs/s, "
            f"peak RSS {rep.get('peak_rss_mb', 0):.0f} MB (runner process "
            f"{rep.get('runner_rss_mb', math.nan):.0f} MB), exit {rep.get('exit')}"
        )
        if rep.get("exit") or rep.get("created", rows) != rows:
            result.problems.append(
                f"backfill rep {r + 1}: exit {rep.get('exit')}, created "
                f"{rep.get('created')} of {rows}: {rep.get('stderr', '')}"
            )
    ok = [rep for rep in result.reps if rep.get("exit") == 0]
    if ok:

        def middle(key: str) -> float:
            return median([rep[key] for rep in ok if key in rep])

        result.summary = BackfillSummary(
            per_s=middle("per_s"),
            wall=middle("wall"),
            cpu=middle("cpu"),
            per_cpu=middle("per_cpu"),
            peak_rss_mb=middle("peak_rss_mb"),
            requests=middle("requests"),
            peak_rss_mb_max=max(rep.get("peak_rss_mb", math.nan) for rep in ok),
            runner_rss_mb_max=max(rep.get("runner_rss_mb", math.nan) for rep in ok),
        )
    return result


if __name__ == "__main__":
    if sys.argv[1:2] != ["--child"]:
        sys.exit("usage: python -m benchmarks._backfill --child URL ROWS")
    sys.exit(_child(sys.argv[2:]))

"""Section 4, backfill: ``hubassoc backfill`` over a large CSV, as a child process.

If ``benchmarks/backfill_bench.py`` (written separately) provides
``run_backfill_bench(url=..., token=..., rows=...)``, it is used; otherwise
this module's own runner: generate a CSV of ``rows`` fresh ``from_id,to_id``
pairs in a temporary directory, run ``python -m hubassoc backfill FILE
--from-type contacts --to-type companies --base-url URL --rate-limit off
--quiet`` with ``HUBSPOT_ACCESS_TOKEN`` set, and read the child's peak RSS
and CPU from ``os.wait4``. Wall time includes the child's interpreter start-up.

Either runner is called in a fresh interpreter (``python -m
benchmarks._backfill --child ...``), never in the benchmark process itself:
Linux carries the high-water RSS of the process that spawns a child into the
child's ``ru_maxrss`` (it survives ``exec``), so a backfill spawned from the
benchmark process, which has grown to a couple of hundred MB by then, would
report that process's peak instead of its own. The fresh interpreter's own
peak is recorded beside the figure (``runner_rss_mb``): the child's figure is
its own only when it is above that.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._sandbox_proc import SandboxProcess
from benchmarks._stats import median

__all__ = ["BackfillResult", "backfill_available", "measure", "run_backfill"]

#: The option value that turns the command's pacing off (the sandbox has no limit).
NO_RATE_LIMIT = "off"
ROOT = Path(__file__).resolve().parent.parent
TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"


@dataclass
class BackfillResult:
    rows: int
    repeat: int
    runner: str = "benchmarks/_backfill.py"
    command: str = ""
    skipped: str = ""  #: why nothing was measured, if nothing was
    reps: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def backfill_available() -> str:
    """``""`` if ``hubassoc backfill`` exists in this checkout, else why not."""
    done = subprocess.run(
        [sys.executable, "-m", "hubassoc", "backfill", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`hubassoc backfill` is not available in this checkout ({last})"
    return ""


def write_csv(path: Path, rows: int, first_id: int) -> None:
    """``from_id,to_id`` and ``rows`` distinct pairs of fresh ids."""
    with path.open("w", encoding="ascii", newline="") as f:
        f.write("from_id,to_id\n")
        step = 100_000
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            f.write(
                "".join(
                    f"{first_id + i},{8_000_000_000 + first_id + i}\n" for i in range(start, stop)
                )
            )


def _command(csv: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hubassoc",
        "backfill",
        str(csv),
        "--from-type",
        "contacts",
        "--to-type",
        "companies",
        "--base-url",
        url,
        "--rate-limit",
        NO_RATE_LIMIT,
        "--quiet",
    ]


def _sandbox_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_sandbox/stats", timeout=30) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


def measure(url: str, token: str, rows: int, first_id: int) -> dict[str, Any]:
    """This module's runner: one backfill of ``rows`` fresh pairs against ``url``."""
    with tempfile.TemporaryDirectory(prefix="hubassoc-bench-") as tmp:
        csv = Path(tmp) / "pairs.csv"
        write_csv(csv, rows, first_id)
        env = {**os.environ, TOKEN_ENV: token}
        with (Path(tmp) / "stderr.txt").open("w+b") as stderr:
            start = time.perf_counter()
            proc = subprocess.Popen(
                _command(csv, url), cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=stderr
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            stderr.seek(0)
            err = stderr.read().decode(errors="replace")[-1500:]
    stats = _sandbox_stats(url)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "rows": rows,
        "exit": proc.returncode,
        "wall": wall,
        "per_s": rows / wall,
        "cpu": cpu,
        "per_cpu": rows / cpu if cpu else 0.0,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "created": stats["pairs_created"],
        "requests": stats["requests"],
        "by_status": stats["by_status"],
        "stderr": err if proc.returncode else "",
    }


def _external() -> Callable[..., Any] | None:
    """``run_backfill_bench`` of ``benchmarks/backfill_bench.py``, if that module offers it."""
    try:
        module = importlib.import_module("benchmarks.backfill_bench")
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks.backfill_bench":
            raise
        return None
    runner = getattr(module, "run_backfill_bench", None)
    return runner if callable(runner) else None


def _own_peak_mb() -> float:
    """This process's high-water RSS (``VmHWM``), in MB; NaN where ``/proc`` is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _in_fresh_process(
    url: str, token: str, rows: int, first_id: int, runner: str
) -> dict[str, Any]:
    child = ["-m", "benchmarks._backfill", "--child", runner, url, str(rows), str(first_id)]
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
    """``--child external|own URL ROWS FIRST_ID``: one measurement, printed as JSON."""
    runner, url, rows, first_id = argv[0], argv[1], int(argv[2]), int(argv[3])
    token = os.environ[TOKEN_ENV]
    if runner == "external":
        external = _external()
        assert external is not None
        rep = dict(external(url=url, token=token, rows=rows))
    else:
        rep = measure(url, token, rows, first_id)
    # The high-water mark is monotonic, so this is at least what it was when the
    # backfill was spawned: the floor under the child's ru_maxrss.
    rep["runner_rss_mb"] = _own_peak_mb()
    print(json.dumps(rep, default=str))
    return 0


def run_backfill(
    sandbox: SandboxProcess, *, rows: int, repeat: int, log: Callable[[str], None]
) -> BackfillResult:
    """``repeat`` backfills of ``rows`` rows each, against the sandbox without limits."""
    result = BackfillResult(rows, repeat)
    result.command = "python " + " ".join(_command(Path("pairs.csv"), "URL")[1:])
    runner = "own"
    if _external() is not None:
        runner = "external"
        result.runner = "benchmarks/backfill_bench.py:run_backfill_bench"
    else:
        why = backfill_available()
        if why:
            result.skipped = why
            log(f"backfill skipped: {why}")
            return result
    sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
    for r in range(repeat):
        sandbox.reset()
        first_id = 50_000_000_000 + r * rows
        rep = _in_fresh_process(sandbox.url, sandbox.token, rows, first_id, runner)
        if runner == "external" and "per_s" not in rep:
            # Its interface may not be the one assumed here: fall back to ours.
            result.problems.append(
                f"{result.runner} failed ({rep.get('exit')}: {rep.get('stderr', '')[-300:]}); "
                "used benchmarks/_backfill.py instead"
            )
            runner, result.runner = "own", "benchmarks/_backfill.py"
            sandbox.reset()
            rep = _in_fresh_process(sandbox.url, sandbox.token, rows, first_id, runner)
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
        result.summary = {
            key: median([rep[key] for rep in ok if key in rep])
            for key in ("per_s", "wall", "cpu", "per_cpu", "peak_rss_mb", "requests")
        }
        result.summary["peak_rss_mb_max"] = max(rep.get("peak_rss_mb", math.nan) for rep in ok)
        result.summary["runner_rss_mb_max"] = max(rep.get("runner_rss_mb", math.nan) for rep in ok)
    return result


def as_json(result: BackfillResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--child"]:
        sys.exit("usage: python -m benchmarks._backfill --child external|own URL ROWS FIRST_ID")
    sys.exit(_child(sys.argv[2:]))

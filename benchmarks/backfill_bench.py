"""``hubassoc backfill`` at scale: throughput, peak memory, and the cost of resuming.

Usage::

    python -m benchmarks.backfill_bench                 # 1,000,000 rows, medians of 3
    python -m benchmarks.backfill_bench --rows 200000 --repeat 1 --format jsonl

Against a ``hubassoc sandbox`` child process with no rate limit and no
latency (so the figures are the backfill's own cost), it measures:

1. **Throughput and memory**: ``python -m hubassoc backfill`` over a file made
   by ``examples/generate.py``, as a child process: pairs per second (wall
   time, interpreter start-up included), CPU seconds, and the child's peak
   resident memory (``VmHWM`` after exec; the target is under 150 MB).
2. **Resume overhead**: the journal of a finished run, less its last records
   (``--tail`` rows), is put back and the same command run again; the figure
   is the time from starting the process to the sandbox seeing its first
   request (the target is under 2 s for a 1,000,000-row journal). Both
   clocks are ``CLOCK_MONOTONIC`` (the sandbox stamps arrivals with its
   loop's time), so they compare across the two processes. The interpreter's
   own start-up (importing the command) is shown beside it.

``run_backfill_bench(url=..., token=..., rows=...)`` is the first measurement
as a function, for ``python -m benchmarks`` (its ``_backfill`` section).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._sandbox_proc import SandboxProcess
from hubassoc.backfill import command_line

__all__ = ["main", "run_backfill_bench"]

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO / "examples" / "generate.py"
RSS_TARGET_MB = 150.0
RESUME_TARGET_S = 2.0


def generate(directory: Path, rows: int, fmt: str = "csv") -> Path:
    """Write ``rows`` distinct pairs with ``examples/generate.py``; returns the file."""
    path = directory / f"pairs.{fmt}"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--rows", str(rows), "--out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def backfill_command(input_path: Path, url: str, *extra: str) -> list[str]:
    """The measured command (the token travels in the environment)."""
    return command_line(
        input_path,
        *("--base-url", url, "--rate-limit", "off", "--quiet", *extra),
        from_type="contacts",
        to_type="companies",
        program=(sys.executable, "-m", "hubassoc"),
    )


def shown(command: Sequence[str]) -> str:
    """``command`` as a user would type it."""
    return "HUBSPOT_ACCESS_TOKEN=... python " + shlex.join(command[1:])


def _get(url: str, token: str) -> Any:
    """``GET`` a ``/_sandbox/`` route (the sandbox's token is also its control token)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _run_child(command: Sequence[str], token: str, cwd: Path) -> tuple[int, float, Any, str]:
    """Run the command; returns exit status, wall seconds, rusage, and stderr's tail."""
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": token}
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        status, usage, peak_kib = _wait_watching_memory(process.pid)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        tail = stderr.read().decode(errors="replace")[-1500:]
    return process.returncode, wall, (usage, peak_kib), tail


def _wait_watching_memory(pid: int) -> tuple[int, Any, int]:
    """Wait for ``pid``; return its status, rusage and peak resident KiB after exec.

    ``ru_maxrss`` of a child counts what it had before exec, a copy of its
    parent: started from a large process (``python -m benchmarks``), it
    reports the parent's size. ``VmHWM`` in /proc starts afresh at exec, so
    it is sampled instead, once the child runs ``python -m hubassoc`` (any
    of its commands).
    """
    peak = 0
    status_file = Path(f"/proc/{pid}/status")
    cmdline_file = Path(f"/proc/{pid}/cmdline")
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, peak
        try:
            if b"\0-m\0hubassoc\0" in cmdline_file.read_bytes():
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            pass  # exiting: the last sample stands
        time.sleep(0.02)


def measure_run(input_path: Path, url: str, token: str, rows: int, *extra: str) -> dict[str, Any]:
    """One backfill of ``input_path`` as a child process; its figures.

    The journal and dead-letter file of an earlier run of the same input are
    removed first, so every run does the whole job.
    """
    # The journal (pairs.csv.journal) and dead-letter files (pairs.dead.csv, ...) sit
    # beside the input, which lives in a directory of its own.
    for leftover in input_path.parent.glob(f"{input_path.stem}.*"):
        if leftover.name.endswith(".journal") or ".dead." in leftover.name:
            leftover.unlink(missing_ok=True)
    command = backfill_command(input_path, url, *extra)
    code, wall, (usage, peak_kib), err = _run_child(command, token, input_path.parent)
    stats = _get(url + "/_sandbox/stats", token)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "rows": rows,
        "exit": code,
        "wall": wall,
        "per_s": rows / wall,
        "cpu": cpu,
        "per_cpu": rows / cpu if cpu else 0.0,
        "peak_rss_mb": (peak_kib or usage.ru_maxrss) / 1024,  # KiB on Linux
        "created": stats["pairs_created"],
        "requests": stats["requests"],
        "by_status": stats["by_status"],
        "stderr": err if code else "",
        "command": shown(command),
    }


def run_backfill_bench(*, url: str, token: str, rows: int) -> dict[str, Any]:
    """One backfill of ``rows`` fresh pairs against the (reset) sandbox at ``url``."""
    with tempfile.TemporaryDirectory(prefix="hubassoc-backfill-bench-") as tmp:
        return measure_run(generate(Path(tmp), rows), url, token, rows)


def cut_journal(journal: bytes, rows: int) -> tuple[bytes, int]:
    """The journal without its last records covering about ``rows`` rows; and how many."""
    lines = journal.splitlines(keepends=True)
    header, records = lines[0], lines[1:]
    dropped = 0
    while records and dropped < rows:
        for part in records.pop()[2:].strip().split(b","):
            first, _, last = part.partition(b"-")
            dropped += int(last or first) - int(first) + 1
    return header + b"".join(records), dropped


def measure_resume(
    input_path: Path, url: str, token: str, cut: bytes, repeat: int
) -> list[dict[str, float]]:
    """Time from process start to the first request, resuming from the ``cut`` journal."""
    journal = Path(f"{input_path}.journal")
    command = backfill_command(input_path, url)
    runs: list[dict[str, float]] = []
    for _ in range(repeat):
        journal.write_bytes(cut)
        _post(url + "/_sandbox/reset", token)
        started = time.monotonic()
        code, wall, _, err = _run_child(command, token, input_path.parent)
        if code != 0:
            raise RuntimeError(f"the resumed run exited {code}: {err}")
        arrivals = _get(url + "/_sandbox/arrivals", token)["arrivals"]
        runs.append({"first_request": arrivals[0] - started, "wall": wall})
    return runs


def interpreter_startup(repeat: int) -> float:
    """Median seconds to start Python and load the backfill command (until its help appears)."""
    command = [sys.executable, "-m", "hubassoc", "backfill", "--help"]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE)
        assert process.stdout is not None
        process.stdout.read(1)  # loaded: the interpreter's teardown is not counted
        times.append(time.perf_counter() - start)
        process.communicate()
    return statistics.median(times)


def _post(url: str, token: str) -> None:
    """``POST {}`` to a ``/_sandbox/`` route."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=30):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backfill_bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (medians)")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--tail", type=int, default=1000, help="rows left to do when resuming")
    args = parser.parse_args(argv)
    extra = [] if args.batch_size == 100 else ["--batch-size", str(args.batch_size)]

    with (
        SandboxProcess(token="bench-token") as sandbox,
        tempfile.TemporaryDirectory(prefix="hubassoc-backfill-bench-") as tmp,
    ):
        sandbox.configure(rate_limit=None, latency=0.0, jitter=0.0)
        print(f"generating {args.rows:,} rows ({args.format}) with {GENERATOR.name} ...")
        input_path = generate(Path(tmp), args.rows, args.format)
        size_mb = input_path.stat().st_size / 1e6
        print(f"input: {size_mb:.1f} MB; sandbox {sandbox.url} (no rate limit, no latency)\n")

        print("1. throughput and peak memory")
        reps = []
        for rep in range(args.repeat):
            sandbox.reset()
            result = measure_run(input_path, sandbox.url, sandbox.token, args.rows, *extra)
            if result["exit"] != 0 or result["created"] != args.rows:
                print(f"   run {rep + 1} failed: {result}")
                return 1
            reps.append(result)
            print(
                f"   run {rep + 1}: {result['per_s']:>9,.0f} pairs/s  {result['wall']:6.2f} s  "
                f"cpu {result['cpu']:6.2f} s  peak RSS {result['peak_rss_mb']:6.1f} MB  "
                f"{result['requests']:,} requests"
            )
        print(f"   command: {reps[0]['command']}")
        per_s = statistics.median(r["per_s"] for r in reps)
        rss = max(r["peak_rss_mb"] for r in reps)
        print(
            f"   median {per_s:,.0f} pairs/s; peak RSS at most {rss:.1f} MB "
            f"(target < {RSS_TARGET_MB:.0f} MB: {'ok' if rss < RSS_TARGET_MB else 'MISSED'})\n"
        )

        print(f"2. resume overhead ({args.rows:,}-row journal, last ~{args.tail:,} rows to do)")
        journal = Path(f"{input_path}.journal").read_bytes()
        cut, left = cut_journal(journal, args.tail)
        runs = measure_resume(input_path, sandbox.url, sandbox.token, cut, args.repeat)
        for number, run in enumerate(runs, 1):
            print(
                f"   run {number}: first new request after {run['first_request']:.3f} s "
                f"(whole run {run['wall']:.2f} s, {left:,} rows sent)"
            )
        first = statistics.median(r["first_request"] for r in runs)
        startup = interpreter_startup(args.repeat)
        print(f"   command: {shown(backfill_command(input_path, sandbox.url))}")
        print(
            f"   median {first:.3f} s to the first new request "
            f"(target < {RESUME_TARGET_S:.0f} s: {'ok' if first < RESUME_TARGET_S else 'MISSED'}); "
            f"starting Python and importing the command alone: {startup:.3f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

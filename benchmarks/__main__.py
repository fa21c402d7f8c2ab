"""``python -m benchmarks``: hubassoc against its anchors, in one run.

Starts the sandbox in a child process, then runs the sections (each
interleaved: repetition r runs every client once before repetition r+1):

1. ``efficiency``: pairs per wall second and per client CPU second, no limits;
2. ``limits``: the Free and Professional rolling windows (scaled by
   ``--time-scale``), a 20/1 s window, and the adaptive client;
3. ``latency``: a lone awaited call against ``linger`` + round trip;
4. ``backfill``: ``hubassoc backfill`` over 1,000,000 rows;
5. ``pacing``: a burst on an idle client, short jobs, long runs with a
   jittered round trip, K processes on one window (through Redis, and
   adaptive without it), and Redis's cost per request;
6. ``reads``: complete reads of records with 0 to several pages of
   associations (hubassoc against the official SDK), and reads mixed with
   writes on one client under the Free window.

Writes ``RESULTS.md`` and ``throughput.png`` to ``benchmarks/``, and the raw
figures to ``benchmarks/out/results.json``. Runs with ``--quick`` or
``--only`` write all of it to ``benchmarks/out/`` instead (``results-quick.json``
for ``--quick``), so only a complete run replaces the published figures;
``--out DIR`` puts everything in DIR. ``--render JSON`` rewrites the report
from such a JSON file without running anything.

Examples::

    python -m benchmarks                       # the full run the README quotes
    python -m benchmarks --quick               # a few minutes, time scale 0.1
    python -m benchmarks --quick --only efficiency --pairs 2000 --repeat 1
    python -m benchmarks --quick --only reads
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import (
    _backfill,
    _efficiency,
    _latency,
    _limits,
    _pacing,
    _profile,
    _reads,
    _report,
)
from benchmarks._clients import IdSource
from benchmarks._machine import machine_info
from benchmarks._results import Results, load_results, write_results
from benchmarks._sandbox_proc import SandboxProcess

SECTIONS = ("efficiency", "limits", "latency", "backfill", "pacing", "reads")
HERE = Path(__file__).resolve().parent


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
        return value

    return parse


def _sections(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(SECTIONS)}"
        )
    return names


def _counts(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"not a list of counts >= 1: {text!r}")
    return values


def _lingers(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"not a list of seconds >= 0: {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark hubassoc against bare aiohttp and HubSpot's official SDK, "
        "on a local HubSpot-compatible sandbox.",
    )
    add = parser.add_argument
    add(
        "--quick",
        action="store_true",
        help="fewer pairs, time scale 0.1, 3 repetitions, no backfill",
    )
    add(
        "--only",
        type=_sections,
        default=None,
        metavar="LIST",
        help=f"sections to run: {','.join(SECTIONS)}",
    )
    add(
        "--repeat",
        type=_positive(int),
        default=None,
        metavar="N",
        help="repetitions (default 5; quick 3)",
    )
    add(
        "--limits-repeat",
        type=_positive(int),
        default=None,
        metavar="N",
        help="repetitions of the Free/Professional runs (default: --repeat)",
    )
    add(
        "--pairs",
        type=_positive(int),
        default=None,
        metavar="N",
        help="pairs per efficiency run (50,000; quick 10,000)",
    )
    add(
        "--single-pairs",
        type=_positive(int),
        default=None,
        metavar="N",
        help="pairs for the official SDK's single PUTs (2,000; quick 500)",
    )
    add(
        "--time-scale",
        type=_positive(float),
        default=None,
        metavar="S",
        help="shrink HubSpot's 10 s window and 150 ms round trip by S (1; quick 0.1)",
    )
    add("--windows", type=_positive(int), default=4, metavar="N", help="windows per tier run (4)")
    add(
        "--fast-windows",
        type=_positive(int),
        default=None,
        metavar="N",
        help="windows of the 20/1 s run (10; quick 5)",
    )
    add(
        "--latency-calls",
        type=_positive(int),
        default=50,
        metavar="N",
        help="lone calls per repetition (50)",
    )
    add(
        "--lingers",
        type=_lingers,
        default=[0.005, 0.0, 0.02],
        metavar="S,S",
        help="linger values for the latency section (0.005,0,0.02)",
    )
    add(
        "--backfill-rows",
        type=_positive(int),
        default=1_000_000,
        metavar="N",
        help="rows (1,000,000)",
    )
    add(
        "--backfill-repeat",
        type=_positive(int),
        default=None,
        metavar="N",
        help="backfill runs (--repeat)",
    )
    add("--skip-backfill", action="store_true", help="leave the backfill section out")
    add(
        "--long-windows",
        type=_positive(int),
        default=10,
        metavar="N",
        help="windows of each pacing long run (10)",
    )
    add(
        "--process-windows",
        type=_positive(int),
        default=None,
        metavar="N",
        help="windows of each K-process pacing run (6; quick 4)",
    )
    add(
        "--processes",
        type=_counts,
        default=[1, 2, 4, 8],
        metavar="K,K",
        help="process counts of the pacing section (1,2,4,8)",
    )
    add(
        "--redis-requests",
        type=_positive(int),
        default=None,
        metavar="N",
        help="requests per Redis-cost run (500; quick 200)",
    )
    add(
        "--read-records",
        type=_positive(int),
        default=None,
        metavar="N",
        help="records read completely in the reads section (10,000; quick 2,000)",
    )
    add(
        "--loop-records",
        type=_positive(int),
        default=None,
        metavar="N",
        help="records the official SDK's per-record read loop reads (2,000; quick 500)",
    )
    add(
        "--read-most",
        type=_positive(int),
        default=450,
        metavar="N",
        help="most associations of one record in the reads section (450)",
    )
    add(
        "--read-page-size",
        type=_positive(int),
        default=100,
        metavar="N",
        help="the sandbox's read page size in the reads section (100)",
    )
    add(
        "--mixed-ops",
        type=_positive(int),
        default=None,
        metavar="N",
        help="calls per operation of each mixed reads/writes run (500)",
    )
    add(
        "--mixed-repeat",
        type=_positive(int),
        default=None,
        metavar="N",
        help="rounds of the mixed reads/writes runs, each client once a round (2)",
    )
    add("--profile", action="store_true", help="also cProfile one run of each hubassoc contender")
    add("--out", type=Path, default=None, metavar="DIR", help="where RESULTS.md and the PNG go")
    add(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="run nothing: rewrite RESULTS.md and the PNG from a results.json of an earlier run",
    )
    return parser


def _settle(args: argparse.Namespace) -> None:
    """Fill the defaults that depend on --quick."""
    quick = args.quick
    args.repeat = args.repeat or (3 if quick else 5)
    args.limits_repeat = args.limits_repeat or args.repeat
    args.backfill_repeat = args.backfill_repeat or args.repeat
    args.pairs = args.pairs or (10_000 if quick else 50_000)
    args.single_pairs = args.single_pairs or (500 if quick else 2_000)
    args.time_scale = args.time_scale or (0.1 if quick else 1.0)
    args.fast_windows = args.fast_windows or (5 if quick else 10)
    args.process_windows = args.process_windows or (4 if quick else 6)
    args.redis_requests = args.redis_requests or (200 if quick else 500)
    args.read_records = args.read_records or (2_000 if quick else 10_000)
    args.loop_records = args.loop_records or (500 if quick else 2_000)
    args.mixed_ops = args.mixed_ops or 500
    args.mixed_repeat = args.mixed_repeat or min(args.repeat, 2)
    sections = list(args.only or SECTIONS)
    # --quick leaves the backfill out unless --only asks for it by name.
    if args.skip_backfill or (quick and not args.only):
        sections = [name for name in sections if name != "backfill"]
    args.sections = sections
    # Only a complete, full-size run replaces the published RESULTS.md and chart.
    published = not quick and args.only is None
    args.out = args.out or (HERE if published else HERE / "out")
    # Raw figures (and --profile output) go to benchmarks/out/, or beside --out.
    args.raw_dir = HERE / "out" if args.out == HERE else args.out
    args.raw_name = "results-quick.json" if quick else "results.json"


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _write(args: argparse.Namespace, results: Results) -> None:
    text = _report.markdown(results)
    print(text)
    (args.out / "RESULTS.md").write_text(text)
    chart = args.out / "throughput.png"
    if _report.write_chart(chart, results.efficiency, results.limits, results.pacing):
        _log(f"chart written: {chart}")
    _log(f"RESULTS.md written: {args.out / 'RESULTS.md'} ({results.elapsed / 60:.1f} min)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    _settle(args)
    if args.render is not None:
        results = load_results(args.render)
        args.out.mkdir(parents=True, exist_ok=True)
        _write(args, results)
        return 0
    command = "python -m benchmarks" + (" " + shlex.join(argv) if argv else "")
    results = Results(machine_info(command))
    args.out.mkdir(parents=True, exist_ok=True)
    raw_dir = args.raw_dir
    raw_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ids = IdSource()
    _log(f"sections: {', '.join(args.sections)}; results to {args.out}")
    with SandboxProcess() as sandbox:
        _log(f"sandbox pid {sandbox.pid} at {sandbox.url}")
        if "efficiency" in args.sections:
            results.efficiency = _efficiency.run_efficiency(
                sandbox,
                ids,
                pairs=args.pairs,
                single_pairs=args.single_pairs,
                repeat=args.repeat,
                log=_log,
            )
        if args.profile:
            _profile.profile_hubassoc(sandbox, ids, pairs=args.pairs, out_dir=raw_dir, log=_log)
        if "limits" in args.sections:
            results.limits = _limits.run_limits(
                sandbox,
                ids,
                time_scale=args.time_scale,
                windows=args.windows,
                fast_windows=args.fast_windows,
                repeat=args.limits_repeat,
                fast_repeat=args.repeat,
                log=_log,
            )
        if "latency" in args.sections:
            results.latency = _latency.run_latency(
                sandbox,
                ids,
                calls=args.latency_calls,
                lingers=args.lingers,
                repeat=args.repeat,
                log=_log,
            )
        if "backfill" in args.sections:
            results.backfill = _backfill.run_backfill(
                sandbox, rows=args.backfill_rows, repeat=args.backfill_repeat, log=_log
            )
        if "pacing" in args.sections:
            results.pacing = _pacing.run_pacing(
                sandbox,
                ids,
                time_scale=args.time_scale,
                repeat=args.repeat,
                long_windows=args.long_windows,
                process_windows=args.process_windows,
                process_counts=args.processes,
                redis_requests=args.redis_requests,
                log=_log,
            )
        if "reads" in args.sections:
            results.reads = _reads.run_reads(
                sandbox,
                ids,
                records=args.read_records,
                most=args.read_most,
                page_size=args.read_page_size,
                loop_records=args.loop_records,
                mixed_ops=args.mixed_ops,
                repeat=args.repeat,
                mixed_repeat=args.mixed_repeat,
                time_scale=args.time_scale,
                log=_log,
            )
    results.machine.load_after = os.getloadavg()
    results.elapsed = time.perf_counter() - started
    args_raw = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    # Raw figures first: a report that fails to render can be redone with --render.
    write_results(raw_dir / args.raw_name, results, args_raw)
    _write(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

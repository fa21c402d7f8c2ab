"""``hubassoc verify`` and ``hubassoc export`` at scale, under HubSpot's Free window.

Usage::

    python -m benchmarks.bulk_jobs_bench                      # 100,000 records
    python -m benchmarks.bulk_jobs_bench --records 20000 --big-every 500

Against a ``hubassoc sandbox`` child process holding HubSpot's Free-tier
limit (100 requests per 10 s) with the sandbox's read page of 500 records,
seeded without requests: every record has one to three associations, and
one in ``--big-every`` has a few pages of them (``--big`` associations, some
labelled). Then, each as a child process with the default adaptive pacing:

1. **verify** a file of one pair per record (1 in 100 of them not
   associated, so the missing-rows file has work too);
2. **export** every association of every record.

For each: the read requests used against the ideal (one request per 1,000
records, plus one per extra page) and against the floor (every input, first
pages and follow-ups, in full requests of 1,000: the follow-ups of many
records sharing requests), 429s, wall time, the child's peak resident
memory (``VmHWM``), and whether the job's output is complete.
The command that produced the figures is printed first.

Results (2 cores shared with other work; 100,000 records each):

``python -m benchmarks.bulk_jobs_bench`` (one in 1,000 records with 1,200
associations, three pages: 331,800 lines; ideal 300 = 100 + 200 extra pages,
floor 101):

======  =============  ====  ======  ========  ==========================
job     read requests  429s  wall    peak RSS  output
======  =============  ====  ======  ========  ==========================
verify  164            0     14.4 s  60.9 MB   1,000 missing rows (all)
export  173            0     12.4 s  59.2 MB   331,800 lines (all, once)
======  =============  ====  ======  ========  ==========================

Fewer than the ideal: the follow-up pages of records in different requests
share read requests (how many depends on what is in flight together).

``python -m benchmarks.bulk_jobs_bench --big-every 1000000`` (one to three
associations a record: 199,999 lines; ideal and floor 100):

======  =============  ====  ======  ========  ==========================
job     read requests  429s  wall    peak RSS  output
======  =============  ====  ======  ========  ==========================
verify  100            0     3.7 s   54.4 MB   1,000 missing rows (all)
export  100            0     4.1 s   52.0 MB   199,999 lines (all, once)
======  =============  ====  ======  ========  ==========================

100 requests fit the Free window's first ten seconds; more are paced at ten a
second.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._sandbox_proc import SandboxProcess
from benchmarks.backfill_bench import _run_child
from hubassoc.backfill import command_line

__all__ = ["main", "run_bulk_jobs_bench"]

REPO = Path(__file__).resolve().parents[1]
FREE_WINDOW = (100, 10.0)
READ_PAGE = 500  # the sandbox's default page, as HubSpot's batch/read answers
READS_PER_REQUEST = 1000
_SEED_ROWS = 20_000  # rows per seeding call


def counts(records: int, big_every: int, big: int) -> list[int]:
    """Associations of each record: 1 to 3, and ``big`` for one in ``big_every``."""
    return [big if i % big_every == big_every - 1 else 1 + i % 3 for i in range(records)]


def ideal_requests(per_record: Sequence[int]) -> tuple[int, int]:
    """The ideal reads: one per 1,000 records plus one per extra page; and the floor.

    The floor is every input, first pages and follow-ups alike, in full
    requests of 1,000: what a client gets when the follow-ups of many records
    share requests perfectly.
    """
    extra = sum(max(0, math.ceil(n / READ_PAGE) - 1) for n in per_record)
    ideal = math.ceil(len(per_record) / READS_PER_REQUEST) + extra
    return ideal, math.ceil((len(per_record) + extra) / READS_PER_REQUEST)


def _post(sandbox: SandboxProcess, path: str, body: Any) -> Any:
    """``POST`` a JSON body to a ``/_sandbox/`` route; its JSON answer."""
    request = urllib.request.Request(
        sandbox.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {sandbox.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def seed(sandbox: SandboxProcess, per_record: Sequence[int]) -> int:
    """Store every record's associations (no API requests); returns how many."""
    rows: list[list[Any]] = []
    stored = 0
    for index, count in enumerate(per_record):
        from_id = 1_000_000 + index
        for n in range(count):
            labelled = count > 3 and n % 10 == 0
            types = [["USER_DEFINED", 1000]] if labelled else []
            rows.append([from_id, 5_000_000 + n, types])
        if len(rows) >= _SEED_ROWS:
            stored += _post(sandbox, "/_sandbox/associations", seed_body(rows))["seeded"]
            rows = []
    if rows:
        stored += _post(sandbox, "/_sandbox/associations", seed_body(rows))["seeded"]
    return stored


def seed_body(rows: list[list[Any]]) -> dict[str, Any]:
    """The body of ``POST /_sandbox/associations`` for contacts -> companies ``rows``."""
    return {"from": "contacts", "to": "companies", "rows": rows}


def lines_of(path: Path) -> int:
    """Physical lines in a file."""
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def job(command: str, input_path: Path, url: str, *extra: str) -> list[str]:
    """The measured command (the token travels in the environment)."""
    return command_line(
        input_path,
        *("--base-url", url, "--quiet", *extra),
        from_type="contacts",
        to_type="companies",
        program=(sys.executable, "-m", "hubassoc"),
        command=command,
    )


def measure(sandbox: SandboxProcess, command: Sequence[str], cwd: Path) -> dict[str, Any]:
    """Run one job as a child process; its figures (the sandbox's counters reset first)."""
    _post(sandbox, "/_sandbox/config", {"rate_limit": list(FREE_WINDOW)})
    before = sandbox.stats()
    code, wall, (usage, peak_kib), err = _run_child(command, sandbox.token, cwd)
    after = sandbox.stats()
    reads = after["operations"].get("batch/read", 0) - before["operations"].get("batch/read", 0)
    limited = after["by_status"].get("429", 0) - before["by_status"].get("429", 0)
    return {
        "exit": code,
        "wall": wall,
        "reads": reads,
        "requests": after["requests"] - before["requests"],
        "429s": limited,
        "peak_rss_mb": (peak_kib or usage.ru_maxrss) / 1024,
        "stderr": err,
    }


def run_bulk_jobs_bench(
    *, records: int, big_every: int, big: int, directory: Path
) -> dict[str, dict[str, Any]]:
    """Seed a sandbox, then verify and export ``records`` records; the figures of each."""
    per_record = counts(records, big_every, big)
    ideal, floor = ideal_requests(per_record)
    pairs = directory / "pairs.csv"
    with open(pairs, "w") as f:
        f.write("from_id,to_id\n")
        for index in range(records):
            to_id = 5_000_000 if index % 100 else 9_999_999  # 1 in 100 not associated
            f.write(f"{1_000_000 + index},{to_id}\n")
    ids = directory / "ids.csv"
    with open(ids, "w") as f:
        f.write("id\n" + "".join(f"{1_000_000 + i}\n" for i in range(records)))
    out = directory / "out.csv"
    figures: dict[str, dict[str, Any]] = {}
    with SandboxProcess(token="bench-token") as sandbox:
        stored = seed(sandbox, per_record)
        for name, command in (
            ("verify", job("verify", pairs, sandbox.url)),
            ("export", job("export", ids, sandbox.url, "--out", str(out))),
        ):
            # Each job starts with HubSpot's window empty, as a job started alone would.
            time.sleep(FREE_WINDOW[1])
            result = measure(sandbox, command, directory)
            result.update(ideal=ideal, floor=floor, command=shown(command), stored=stored)
            if name == "verify":
                result["missing"] = lines_of(directory / "pairs.missing.csv") - 1
                result["expected_missing"] = math.ceil(records / 100)
            else:
                result["lines"] = lines_of(out) - 1
                result["expected_lines"] = stored + sum(
                    math.ceil(n / 10) for n in per_record if n > 3
                )
            figures[name] = result
    return figures


def shown(command: Sequence[str]) -> str:
    """``command`` as a user would type it."""
    return "HUBSPOT_ACCESS_TOKEN=... python " + shlex.join(command[1:])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk_jobs_bench")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--big-every", type=int, default=1000, help="one record in N has --big")
    parser.add_argument("--big", type=int, default=1200, help="associations of the big records")
    args = parser.parse_args(argv)
    # The children run this checkout's hubassoc, installed or not.
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    print(f"command: python -m benchmarks.bulk_jobs_bench {shlex.join(sys.argv[1:])}".rstrip())
    print(
        f"{args.records:,} records, one in {args.big_every:,} with {args.big:,} associations; "
        f"sandbox at the Free window ({FREE_WINDOW[0]} requests / {FREE_WINDOW[1]:g} s), "
        f"read pages of {READ_PAGE}"
    )
    with tempfile.TemporaryDirectory(prefix="hubassoc-bulk-jobs-bench-") as tmp:
        figures = run_bulk_jobs_bench(
            records=args.records, big_every=args.big_every, big=args.big, directory=Path(tmp)
        )
    failed = False
    for name, f in figures.items():
        print(f"\n{name}: {f['command']}")
        print(
            f"  read requests {f['reads']:,} (ideal {f['ideal']:,}: {args.records:,} / 1,000 "
            f"plus one per extra page; floor {f['floor']:,}: every input in full requests), "
            f"all requests {f['requests']:,}, 429s {f['429s']:,}"
        )
        print(f"  wall {f['wall']:.1f} s, peak RSS {f['peak_rss_mb']:.1f} MB, exit {f['exit']}")
        if name == "verify":
            complete = f["missing"] == f["expected_missing"] and f["exit"] == 1
            print(f"  missing rows {f['missing']:,} (expected {f['expected_missing']:,})")
        else:
            complete = f["lines"] == f["expected_lines"] and f["exit"] == 0
            print(f"  lines exported {f['lines']:,} (expected {f['expected_lines']:,})")
        if not complete:
            failed = True
            print(f"  INCOMPLETE: {f['stderr'][-800:]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``hubassoc backfill`` end to end: real processes, real files, a sandbox subprocess.

One ``hubassoc sandbox`` subprocess serves the whole module; each test resets
its store, counters and options over ``/_sandbox/``. The backfill runs as
``python -m hubassoc backfill`` with the token in its environment, so these
tests see exactly what a user sees: exit statuses, stdout, stderr, files.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hubassoc.backfill import command_line

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "contacts-companies.csv"
LISTENING = re.compile(r"hubassoc sandbox listening on (http://\S+) token=(\S+)\n")
# A token that would be easy to spot anywhere it leaked to.
TOKEN = "pat-na1-SECRET-5f1d0c9e-token"
DEFAULT_CONFIG: dict[str, Any] = {
    "latency": 0.0,
    "daily_limit": None,
    "rate_limit": None,
    "not_found_ids": [],
    "poison_ids": [],
    "token": TOKEN,
    "oauth": False,
    "oauth_only": False,
    "echo_authorization": False,
}

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "HUBSPOT_ACCESS_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


class SandboxProcess:
    """The ``hubassoc sandbox`` subprocess and its ``/_sandbox/`` control routes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hubassoc", "sandbox", "--port", "0", "--token", TOKEN],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        match = LISTENING.fullmatch(line)
        if match is None:
            self.process.kill()
            raise AssertionError(f"unexpected sandbox output {line!r}")
        self.url = match.group(1)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {TOKEN}")  # the control token
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def configure(self, **options: Any) -> None:
        self.call("POST", "/_sandbox/config", options)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.call("GET", "/_sandbox/stats")
        return stats

    def store(self) -> set[tuple[str, str]]:
        answer = self.call("GET", "/_sandbox/store?from=contacts&to=companies")
        return {(f, t) for f, t in answer["pairs"]}

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[SandboxProcess]:
    process = SandboxProcess()
    yield process
    process.close()


@pytest.fixture
def sandbox(sandbox_process: SandboxProcess) -> SandboxProcess:
    """The module's sandbox, emptied, with default options."""
    sandbox_process.configure(**DEFAULT_CONFIG)
    sandbox_process.call("POST", "/_sandbox/reset", {})
    return sandbox_process


def backfill_command(input_path: Path, *options: str) -> list[str]:
    return command_line(
        input_path,
        *options,
        from_type="contacts",
        to_type="companies",
        program=(sys.executable, "-m", "hubassoc"),
    )


def run_backfill(
    input_path: Path,
    *options: str,
    token: str | None = TOKEN,
    timeout: float = 60,
    environ: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = _env() if token is None else _env(HUBSPOT_ACCESS_TOKEN=token)
    env.update(environ or {})
    return subprocess.run(
        backfill_command(input_path, *options),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=input_path.parent,
    )


def start_backfill(
    input_path: Path, *options: str, environ: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        backfill_command(input_path, *options),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(HUBSPOT_ACCESS_TOKEN=TOKEN, **(environ or {})),
        cwd=input_path.parent,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def make_input(
    path: Path,
    rows: int,
    *,
    bad: dict[int, str] | None = None,
    repeat: dict[int, int] | None = None,
) -> dict[int, tuple[str, str] | None]:
    """Write a CSV of ``rows`` data rows; returns line -> pair (``None`` for a bad row).

    ``bad`` replaces the row of a given index with a text; ``repeat`` makes
    the row of one index repeat the pair of another.
    """
    bad = bad or {}
    repeat = repeat or {}
    lines = ["from_id,to_id"]
    expected: dict[int, tuple[str, str] | None] = {}
    pairs: dict[int, tuple[str, str]] = {}
    for index in range(rows):
        line = index + 2
        if index in bad:
            lines.append(bad[index])
            expected[line] = None
            continue
        pair = pairs[repeat[index]] if index in repeat else (str(1000 + index), str(index % 97 + 1))
        pairs[index] = pair
        lines.append(",".join(pair))
        expected[line] = pair
    path.write_text("\n".join(lines) + "\n")
    return expected


def journal_lines(path: Path) -> list[int]:
    lines: list[int] = []
    for record in path.read_text().splitlines()[1:]:
        assert record.startswith("A ")
        for part in record[2:].split(","):
            first, _, last = part.partition("-")
            lines += range(int(first), int(last or first) + 1)
    return lines


def dead_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_nothing_lost(
    sandbox: SandboxProcess,
    expected: dict[int, tuple[str, str] | None],
    journal: Path,
    dead: Path,
    not_found: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Store + dead-letter file == input, line by line, each line exactly once."""
    done = journal_lines(journal)
    dead_lines = [int(row["_line"]) for row in dead_rows(dead)]
    assert len(done) == len(set(done)), "a line journalled twice"
    assert len(dead_lines) == len(set(dead_lines)), "a line dead-lettered twice"
    assert set(done).isdisjoint(dead_lines)
    assert set(done) | set(dead_lines) == set(expected), "a line neither done nor dead"
    should_fail = {line for line, pair in expected.items() if pair is None or not_found & set(pair)}
    assert set(dead_lines) == should_fail
    stored = {pair for line, pair in expected.items() if line not in should_fail}
    assert sandbox.store() == stored


# --- complete runs -------------------------------------------------------------------------


def test_a_complete_run_with_bad_rows_duplicates_and_not_found(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    sandbox.configure(not_found_ids=["1013", "companies:5"])
    expected = make_input(
        tmp_path / "pairs.csv",
        300,
        bad={7: "1007,", 50: "x,1", 51: '1051,"3', 120: "1120"},
        repeat={30: 10, 31: 10, 250: 249},  # a pair on three lines, another on two
    )
    options = ("--base-url", sandbox.url, "--rate-limit", "off")
    result = run_backfill(tmp_path / "pairs.csv", *options, "--batch-size", "40")
    assert result.returncode == 1, result.stderr
    check_nothing_lost(
        sandbox,
        expected,
        tmp_path / "pairs.csv.journal",
        tmp_path / "pairs.dead.csv",
        not_found={"1013", "5"},
    )
    dead = dead_rows(tmp_path / "pairs.dead.csv")
    by_line = {int(row["_line"]): row for row in dead}
    assert by_line[9]["_category"] == "EMPTY_ID" and by_line[9]["from_id"] == "1007"
    assert by_line[53]["_category"] == "BROKEN_CSV_QUOTING" and by_line[53]["_raw"] == '1051,"3'
    assert by_line[122]["_category"] == "MISSING_COLUMN"
    assert by_line[15]["_category"] == "OBJECT_NOT_FOUND"
    assert "1013" in by_line[15]["_error"]
    # The summary, on stdout.
    out = result.stdout
    assert "associated   " in out and "OBJECT_NOT_FOUND" in out and "bad rows     4" in out
    assert re.search(r"requests\s+8 \(retries 0, 429s 0\)", out)
    assert "rows are in the dead-letter file" in result.stderr
    for text in (result.stdout, result.stderr, (tmp_path / "pairs.csv.journal").read_text()):
        assert TOKEN not in text
    assert TOKEN not in (tmp_path / "pairs.dead.csv").read_text()

    # Done is done: the same command again sends nothing.
    again = run_backfill(tmp_path / "pairs.csv", *options)
    assert again.returncode == 1
    assert "already done 300" in again.stdout and "resuming" in again.stderr
    assert sandbox.stats()["requests"] == 8


def test_jsonl_run_exits_0_when_every_row_is_associated(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(f'{{"contact": {i}, "company": "{i % 7}"}}\n' for i in range(1, 251)))
    result = run_backfill(
        path,
        *("--base-url", sandbox.url, "--rate-limit", "190/10"),
        *("--from-column", "contact", "--to-column", "company"),
    )
    assert result.returncode == 0, result.stderr
    assert sandbox.store() == {(str(i), str(i % 7)) for i in range(1, 251)}
    assert not (tmp_path / "pairs.dead.jsonl").exists()
    assert "finished" in result.stdout and "250/250 rows done" in result.stdout


def test_jsonl_bad_rows_land_in_a_jsonl_dead_letter_file(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"from_id": "1", "to_id": "2"}\nnot json\n[1]\n{"from_id": "3"}\n')
    result = run_backfill(
        path, "--base-url", sandbox.url, "--rate-limit", "off", "--dead-letter", "failed.jsonl"
    )
    assert result.returncode == 1
    records = [json.loads(line) for line in (tmp_path / "failed.jsonl").read_text().splitlines()]
    assert [(r["_line"], r["_category"]) for r in records] == [
        (2, "INVALID_JSON"),
        (3, "NOT_A_JSON_OBJECT"),
        (4, "MISSING_COLUMN"),
    ]
    assert records[0]["_raw"] == "not json"
    assert sandbox.store() == {("1", "2")}


def test_plain_progress_lines_and_summary_when_not_on_a_terminal(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    sandbox.configure(latency=0.05)
    make_input(tmp_path / "pairs.csv", 400)
    result = run_backfill(
        tmp_path / "pairs.csv",
        "--base-url",
        sandbox.url,
        "--rate-limit",
        "off",
        "--batch-size",
        "50",
        "--concurrency",
        "1",
        "--progress-interval",
        "0.1",
    )
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "rows (" in line]
    assert len(progress) >= 2
    assert re.fullmatch(
        r"hubassoc backfill: [\d,]+/400 rows \([\d.]+%\), [\d,]+ pairs/s, ETA \S+, "
        r"retries 0, 429s 0",
        progress[-1],
    )
    assert "\x1b[" not in result.stderr  # no terminal control codes in a log
    summary = result.stdout.splitlines()
    assert summary[0].startswith("hubassoc backfill: finished: ")
    assert {line.split()[0] for line in summary[1:]} >= {
        "associated",
        "failed",
        "bad",
        "already",
        "requests",
        "elapsed",
        "dead-letter",
        "journal",
    }
    quiet = run_backfill(
        tmp_path / "pairs.csv", "--base-url", sandbox.url, "--rate-limit", "off", "--quiet"
    )
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_progress_lines_show_the_pacer_from_the_clients_events(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    make_input(tmp_path / "pairs.csv", 200)
    result = run_backfill(
        tmp_path / "pairs.csv",
        *("--base-url", sandbox.url, "--rate-limit", "5/0.2", "--batch-size", "10"),
        *("--concurrency", "2", "--progress-interval", "0.1"),
    )
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "/200 rows (" in line]
    assert len(progress) >= 3
    paced = [re.search(r", paced ([\d.]+) s, window (\d+)/5$", line) for line in progress]
    assert all(paced), progress
    assert float(paced[-1][1]) > 0  # type: ignore[index]
    assert all(1 <= int(match[2]) <= 5 for match in paced)  # type: ignore[index]


def test_sandbox_option_runs_the_example_end_to_end(tmp_path: Path) -> None:
    example = shutil.copy(EXAMPLE, tmp_path / "contacts-companies.csv")
    result = run_backfill(Path(example), "--sandbox", token=None)
    assert result.returncode == 1, result.stderr  # the example's bad rows
    assert "to the built-in sandbox" in result.stderr
    rows = dead_rows(tmp_path / "contacts-companies.sandbox.dead.csv")
    assert len(rows) == 7
    assert {row["_category"] for row in rows} == {
        "EMPTY_ID",
        "INVALID_ID",
        "MISSING_COLUMN",
        "BROKEN_CSV_QUOTING",
    }
    assert "associated   993" in result.stdout
    assert (tmp_path / "contacts-companies.csv.sandbox.journal").exists()
    # The same against the sandbox as an OAuth server.
    again = run_backfill(Path(example), "--sandbox", "--oauth", "--journal", "j2", token=None)
    assert again.returncode == 2 and "the dead-letter file" in again.stderr
    oauth = run_backfill(
        Path(example), "--sandbox", "--oauth", "--journal", "j2", "--dead-letter", "d2.csv"
    )
    assert oauth.returncode == 1, oauth.stderr
    assert "sandbox (Free-tier pacing: 100 requests per 10 s) as an OAuth app" in oauth.stderr
    assert "associated   993" in oauth.stdout


# --- lines too long ------------------------------------------------------------------------

#: Runs the command line, then reports the process's peak resident memory on stderr.
PEAK_MEMORY = """
import sys
from hubassoc._cli import main
status = main(sys.argv[1:])
with open("/proc/self/status") as f:
    print(*[line for line in f if line.startswith("VmHWM:")], file=sys.stderr, end="")
sys.exit(status)
"""


def run_measuring_peak(input_path: Path, *options: str) -> tuple[int, str, str, int]:
    """Run the backfill; its exit status, stdout, stderr and peak memory (``VmHWM``) in KiB."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, *backfill_command(input_path, *options)[3:]],
        capture_output=True,
        text=True,
        env=_env(HUBSPOT_ACCESS_TOKEN=TOKEN),
        timeout=60,
        cwd=input_path.parent,
    )
    peak = re.search(r"VmHWM:\s+(\d+) kB", done.stderr)
    assert peak is not None, done.stderr
    return done.returncode, done.stdout, done.stderr, int(peak[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_huge_line_is_skipped_in_bounded_memory_and_the_job_resumes(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    options = ("--base-url", sandbox.url, "--rate-limit", "off", "--quiet")
    make_input(tmp_path / "small.csv", 4)
    _, _, _, baseline = run_measuring_peak(tmp_path / "small.csv", *options)
    sandbox.call("POST", "/_sandbox/reset", {})

    line_bytes = 64 << 20
    path = tmp_path / "pairs.csv"
    with open(path, "wb") as f:
        f.write(b"from_id,to_id\n1,2\n3,")
        for _ in range(line_bytes // (1 << 20)):
            f.write(b"4" * (1 << 20))
        f.write(b"\n5,6\n\n7,8\n")
    status, out, err, peak = run_measuring_peak(path, *options)
    assert status == 1, err
    assert "LINE_TOO_LONG 1" in out
    # Flat: the line never is in memory whole (it would take many times its size).
    assert peak - baseline < 16 * 1024, (peak, baseline)
    assert sandbox.store() == {("1", "2"), ("5", "6"), ("7", "8")}
    (dead,) = dead_rows(tmp_path / "pairs.dead.csv")
    assert (dead["_line"], dead["_category"]) == ("3", "LINE_TOO_LONG")
    assert dead["_raw"].startswith("3,444") and len(dead["_raw"]) <= 1024
    assert f"{line_bytes + 2:,} bytes long" in dead["_error"]
    assert (tmp_path / "pairs.dead.csv").stat().st_size < 2048
    assert journal_lines(tmp_path / "pairs.csv.journal") == [2, 4, 6]

    again = run_backfill(path, *options)
    assert again.returncode == 1, again.stderr
    assert "already done 4" in again.stdout
    assert sandbox.stats()["requests"] == 1


# --- secrets --------------------------------------------------------------------------------


def test_a_token_the_server_echoes_is_in_nothing_the_backfill_writes(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    # Every error answer repeats the Authorization header and the bare token in
    # every string: records not found, whole-batch 400s, a 404 with its own body.
    sandbox.configure(
        echo_authorization=True,
        not_found_ids=["1013", "1150"],
        poison_ids=["1210"],
    )
    echo = {
        "status": "error",
        "message": f"bad request for Authorization: Bearer {TOKEN} ({TOKEN})",
        "category": f"OBJECT_NOT_FOUND {TOKEN}",
        "correlationId": TOKEN,
        "context": {"token": [TOKEN]},
    }
    entry = {"status": 404, "body": json.dumps(echo)}
    sandbox.call("POST", "/_sandbox/script", [None, None, entry, None, 503, None])
    # And a row of the input itself holds the token (pasted into the wrong column).
    make_input(tmp_path / "pairs.csv", 250, bad={5: f"{TOKEN},1"})
    summary = tmp_path / "summary.json"
    result = run_backfill(
        tmp_path / "pairs.csv",
        *("--base-url", sandbox.url, "--rate-limit", "off", "--batch-size", "50"),
        *("--concurrency", "1", "--progress-interval", "0.05", "--summary-json", str(summary)),
    )
    assert result.returncode == 1, result.stderr
    dead = (tmp_path / "pairs.dead.csv").read_text()
    categories = {row["_category"] for row in dead_rows(tmp_path / "pairs.dead.csv")}
    assert len(categories) >= 3, categories  # not found, whole-batch 400, the 404
    assert "[redacted]" in dead and "bad request for Authorization" in dead
    written = [
        result.stdout,
        result.stderr,
        dead,
        (tmp_path / "pairs.csv.journal").read_text(),
        summary.read_text(),
    ]
    for text in written:
        assert TOKEN not in text
        assert TOKEN.replace("-", "%2D") not in text


# --- OAuth apps and a shared budget ----------------------------------------------------------


def test_an_oauth_app_runs_across_several_token_lifetimes(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    sandbox.configure(oauth=True, oauth_only=True, oauth_token_lifetime=0.4, latency=0.1)
    app = sandbox.call("GET", "/_sandbox/oauth")
    environ = {
        "HUBSPOT_CLIENT_ID": app["client_id"],
        "HUBSPOT_CLIENT_SECRET": app["client_secret"],
        "HUBSPOT_REFRESH_TOKEN": app["refresh_token"],
    }
    expected = make_input(tmp_path / "pairs.csv", 600)
    options = ("--base-url", sandbox.url, "--rate-limit", "off", "--oauth")
    options += ("--batch-size", "20", "--concurrency", "2", "--progress-interval", "0.05")
    result = run_backfill(
        tmp_path / "pairs.csv", *options, "--summary-json", "s.json", token=None, environ=environ
    )
    assert result.returncode == 0, result.stderr
    check_nothing_lost(
        sandbox, expected, tmp_path / "pairs.csv.journal", tmp_path / "pairs.dead.csv"
    )
    stats = sandbox.stats()
    assert stats["oauth_refreshes"] >= 3  # 15 rounds of 0.1 s, tokens of 0.4 s
    # A token may expire on its way (0.1 s trips): the 401 is refreshed and retried.
    assert stats["by_status"]["200"] == 30
    written = result.stdout + result.stderr + (tmp_path / "s.json").read_text()
    written += (tmp_path / "pairs.csv.journal").read_text()
    for secret in (app["client_secret"], app["refresh_token"]):
        assert secret not in written
    # A refused refresh token stops the run like a refused token: exit 2, nothing lost.
    # The refusal echoes the refresh token and the client secret it was sent.
    sandbox.configure(echo_authorization=True)
    sandbox.call("POST", "/_sandbox/oauth/revoke", {})
    make_input(tmp_path / "more.csv", 20)
    refused = run_backfill(
        tmp_path / "more.csv", *options, "--summary-json", "r.json", token=None, environ=environ
    )
    assert refused.returncode == 2, refused.stderr
    assert "HubSpot refused the token" in refused.stderr and "--oauth" in refused.stderr
    written = refused.stdout + refused.stderr + (tmp_path / "r.json").read_text()
    for secret in (app["client_secret"], app["refresh_token"]):
        assert secret not in written


def test_two_backfills_share_one_rate_limit_through_redis(
    sandbox: SandboxProcess, tmp_path: Path, redis_url: str
) -> None:
    # 20 requests per 0.5 s between them: each alone would take all of it.
    sandbox.configure(rate_limit=[20, 0.5])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_input(tmp_path / "a" / "pairs.csv", 300)
    path_b = tmp_path / "b" / "pairs.csv"
    path_b.write_text("from_id,to_id\n" + "".join(f"{5000 + i},{i % 50 + 1}\n" for i in range(300)))
    options = ("--base-url", sandbox.url, "--rate-limit", "20/0.5", "--batch-size", "10")
    options += ("--redis", redis_url, "--budget-key", "backfill-test", "--quiet")
    processes = [start_backfill(tmp_path / name / "pairs.csv", *options) for name in "ab"]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert re.search(r"requests\s+30 \(retries 0, 429s 0\)", out), out
    stats = sandbox.stats()
    assert stats["requests"] == 60 and stats["by_status"] == {"200": 60}
    assert len(sandbox.store()) == 600


# --- dry run and usage errors ----------------------------------------------------------


def test_dry_run_checks_the_input_and_sends_nothing(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    make_input(tmp_path / "pairs.csv", 100, bad={3: "1,x", 4: ",", 9: '"'})
    result = run_backfill(tmp_path / "pairs.csv", "--dry-run", token=None)
    assert result.returncode == 1, result.stderr
    assert re.search(r"good\s+97", result.stdout)
    assert re.search(r"bad\s+3 \(.*INVALID_ID 1", result.stdout)
    assert "line 5: INVALID_ID" in result.stdout
    assert sandbox.stats()["requests"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.csv"]
    make_input(tmp_path / "clean.csv", 10)
    assert run_backfill(tmp_path / "clean.csv", "--dry-run").returncode == 0


@pytest.mark.parametrize(
    ("options", "token", "expected"),
    [
        ((), None, "no HubSpot token: set HUBSPOT_ACCESS_TOKEN"),
        (("--from-column", "contact"), TOKEN, "column 'contact' is not in the header"),
        (("--sandbox", "--base-url", "http://127.0.0.1:1"), None, "exclude each other"),
        (("--base-url", "http://example.com"), TOKEN, "plain http to a remote host"),
        (("--batch-size", "0"), TOKEN, "--batch-size"),
        (("--rate-limit", "fast"), TOKEN, "not REQUESTS/SECONDS"),
        (("--from-type", "con tacts"), TOKEN, "is not an object type"),
    ],
    ids=[
        "no-token",
        "unknown-column",
        "sandbox-and-base-url",
        "plain-http-remote",
        "batch-size-0",
        "bad-rate-limit",
        "bad-object-type",
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, options: tuple[str, ...], token: str | None, expected: str
) -> None:
    make_input(tmp_path / "pairs.csv", 5)
    result = run_backfill(tmp_path / "pairs.csv", *options, token=token)
    assert result.returncode == 2
    assert expected in result.stderr
    assert not (tmp_path / "pairs.csv.journal").exists()


def test_more_usage_errors_exit_2(sandbox: SandboxProcess, tmp_path: Path) -> None:
    missing = run_backfill(tmp_path / "nope.csv")
    assert missing.returncode == 2 and "no such input file" in missing.stderr
    (tmp_path / "pairs.txt").write_text("from_id,to_id\n1,2\n")
    assert "--format" in run_backfill(tmp_path / "pairs.txt").stderr
    # A header naming an id column twice: which one holds the ids is not guessed.
    (tmp_path / "twice.csv").write_text("from_id,to_id,to_id\n1,2,3\n")
    twice = run_backfill(tmp_path / "twice.csv")
    assert twice.returncode == 2 and "column 'to_id' appears 2 times" in twice.stderr
    # A token on the command line is refused without being echoed.
    make_input(tmp_path / "pairs.csv", 5)
    leaked = run_backfill(tmp_path / "pairs.csv", "--token", "pat-on-the-command-line")
    assert leaked.returncode == 2
    assert "HUBSPOT_ACCESS_TOKEN" in leaked.stderr
    assert "pat-on-the-command-line" not in leaked.stderr + leaked.stdout
    # A journal of another job is refused.
    base = ("--base-url", sandbox.url, "--rate-limit", "off")
    assert run_backfill(tmp_path / "pairs.csv", *base).returncode == 0
    other_job = [sys.executable, "-m", "hubassoc", "backfill", str(tmp_path / "pairs.csv")]
    other = subprocess.run(
        [*other_job, "--from-type", "contacts", "--to-type", "deals", *base],
        capture_output=True,
        text=True,
        env=_env(HUBSPOT_ACCESS_TOKEN=TOKEN),
    )
    assert other.returncode == 2
    assert "belongs to a different job" in other.stderr and "'companies' -> 'deals'" in other.stderr
    # A dead-letter file left from an earlier job (its journal deleted) is not overwritten.
    (tmp_path / "pairs.csv.journal").unlink()
    (tmp_path / "pairs.dead.csv").write_text("from_id,to_id,_line,_category,_error,_raw\n")
    stale = run_backfill(tmp_path / "pairs.csv", *base)
    assert stale.returncode == 2 and "left from an earlier job" in stale.stderr


def test_a_token_hubspot_refuses_stops_with_2(sandbox: SandboxProcess, tmp_path: Path) -> None:
    make_input(tmp_path / "pairs.csv", 50)
    result = run_backfill(
        tmp_path / "pairs.csv", "--base-url", sandbox.url, "--rate-limit", "off", token="wrong-1"
    )
    assert result.returncode == 2
    assert "HubSpot refused the token" in result.stderr
    assert "wrong-1" not in result.stdout + result.stderr
    assert not (tmp_path / "pairs.dead.csv").exists()  # nothing dead-lettered for it


# --- stops and resumes -------------------------------------------------------------------


def test_sigkill_mid_run_then_the_same_command_finishes_the_job(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    sandbox.configure(latency=0.05, not_found_ids=["1500", "1501", "2900"])
    expected = make_input(
        tmp_path / "pairs.csv", 3000, bad={100: "1100,x", 1700: "1700", 2500: '2500,"9'}
    )
    options = ("--base-url", sandbox.url, "--rate-limit", "off")
    options += ("--batch-size", "50", "--concurrency", "2")
    process = start_backfill(tmp_path / "pairs.csv", *options)
    try:
        wait_for(lambda: sandbox.stats()["pairs_received"] >= 1200)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    before = sandbox.stats()
    assert before["pairs_received"] < 2900  # killed mid-run
    done_at_kill = len(journal_lines(tmp_path / "pairs.csv.journal"))

    result = run_backfill(tmp_path / "pairs.csv", *options)
    assert result.returncode == 1, result.stderr  # the not-found and bad rows
    check_nothing_lost(
        sandbox,
        expected,
        tmp_path / "pairs.csv.journal",
        tmp_path / "pairs.dead.csv",
        not_found={"1500", "1501", "2900"},
    )
    # Only what was in flight at the kill went out again: at most
    # (concurrency + 1) chunks of batch-size rows.
    assert sandbox.stats()["pairs_duplicate"] <= 3 * 50
    skipped = int(re.search(r"already done ([\d,]+)", result.stdout)[1].replace(",", ""))  # type: ignore[index]
    assert skipped >= done_at_kill > 0


def test_sigint_stops_cleanly_and_the_printed_command_resumes(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    sandbox.configure(latency=0.05)
    expected = make_input(tmp_path / "pairs.csv", 2000)
    options = ("--base-url", sandbox.url, "--rate-limit", "off", "--batch-size", "50")
    options += ("--summary-json", "summary.json")
    process = start_backfill(tmp_path / "pairs.csv", *options, "--concurrency", "2")
    wait_for(lambda: sandbox.stats()["pairs_received"] >= 300)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert "SIGINT: stopping" in err
    assert out.startswith("hubassoc backfill: interrupted: ")
    assert "not done yet" in out
    resume = err.rsplit("to resume, run:\n", 1)[1].strip()
    argv = shlex.split(resume)
    assert argv[:2] == ["hubassoc", "backfill"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["status"], summary["exit_status"]) == ("interrupted", 130)
    assert summary["resume_command"] == resume
    rows = summary["rows"]
    assert rows["associated"] == len(journal_lines(tmp_path / "pairs.csv.journal"))
    assert rows["remaining"] == 2000 - rows["done"] > 0
    assert summary["requests"] >= 6 and summary["elapsed_seconds"] > 0
    # Everything answered before the stop is journalled: nothing is sent twice.
    received = sandbox.stats()["pairs_received"]
    assert len(journal_lines(tmp_path / "pairs.csv.journal")) == received

    again = subprocess.run(
        [sys.executable, "-m", "hubassoc", *argv[1:]],
        capture_output=True,
        text=True,
        env=_env(HUBSPOT_ACCESS_TOKEN=TOKEN),
        cwd=tmp_path,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    check_nothing_lost(
        sandbox, expected, tmp_path / "pairs.csv.journal", tmp_path / "pairs.dead.csv"
    )
    assert sandbox.stats()["pairs_duplicate"] == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["status"], summary["exit_status"], summary["resume_command"]) == (
        "finished",
        0,
        None,
    )
    assert summary["rows"]["done"] == summary["rows"]["total"] == 2000


def test_daily_limit_stops_with_3_and_resumes_after_the_reset(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    sandbox.configure(daily_limit=4)
    expected = make_input(tmp_path / "pairs.csv", 500)
    options = ("--base-url", sandbox.url, "--rate-limit", "off", "--batch-size", "50")
    result = run_backfill(tmp_path / "pairs.csv", *options, "--summary-json", "out/s.json")
    assert result.returncode == 2 and "--summary-json" in result.stderr  # no such folder
    assert not (tmp_path / "pairs.csv.journal").exists()
    (tmp_path / "out").mkdir()
    result = run_backfill(tmp_path / "pairs.csv", *options, "--summary-json", "out/s.json")
    assert result.returncode == 3, result.stderr
    summary = json.loads((tmp_path / "out" / "s.json").read_text())
    assert (summary["status"], summary["exit_status"]) == ("daily_limit", 3)
    assert summary["rows"]["associated"] == 200 and summary["rate_limited"] >= 1
    assert "daily" in summary["error"]
    assert summary["resume_command"].startswith("hubassoc backfill ")
    assert sorted(summary) == [
        "bad_by_category",
        "dead_letter",
        "elapsed_seconds",
        "error",
        "exit_status",
        "failed_by_category",
        "from_type",
        "input",
        "journal",
        "output",  # an export's; null here
        "pairs_per_second",
        "rate_limited",
        "requests",
        "resume_command",
        "retries",
        "rows",
        "status",
        "to_type",
    ]
    assert "midnight" in result.stderr and "time zone" in result.stderr
    assert "run the same command" in result.stderr
    assert "daily request limit" in result.stdout
    assert len(journal_lines(tmp_path / "pairs.csv.journal")) == 200
    assert not (tmp_path / "pairs.dead.csv").exists()

    sandbox.configure(daily_limit=1000)  # the next day
    again = run_backfill(tmp_path / "pairs.csv", *options)
    assert again.returncode == 0, again.stderr
    assert "already done 200" in again.stdout
    check_nothing_lost(
        sandbox, expected, tmp_path / "pairs.csv.journal", tmp_path / "pairs.dead.csv"
    )


def test_batches_failing_whole_stop_the_run_before_the_whole_file_is_dead(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    # 404 is not retried: each scripted one fails a whole chunk at once.
    sandbox.call("POST", "/_sandbox/script", [None, 404, 404, 404, 404, 404])
    expected = make_input(tmp_path / "pairs.csv", 400)
    options = ("--base-url", sandbox.url, "--rate-limit", "off")
    options += ("--batch-size", "50", "--concurrency", "1")
    result = run_backfill(tmp_path / "pairs.csv", *options)
    assert result.returncode == 1, result.stderr
    assert "HubSpot kept failing" in result.stdout and "run the same command" in result.stderr
    # One chunk associated, two dead-lettered, the third stopped the run.
    assert len(journal_lines(tmp_path / "pairs.csv.journal")) == 50
    assert len(dead_rows(tmp_path / "pairs.dead.csv")) == 100
    assert {row["_category"] for row in dead_rows(tmp_path / "pairs.dead.csv")} == {
        "OBJECT_NOT_FOUND"
    }
    sandbox.call("DELETE", "/_sandbox/script")
    again = run_backfill(tmp_path / "pairs.csv", *options)
    assert again.returncode == 1  # the dead-lettered chunks stay there
    done = journal_lines(tmp_path / "pairs.csv.journal")
    dead = [int(row["_line"]) for row in dead_rows(tmp_path / "pairs.dead.csv")]
    assert sorted(done + dead) == sorted(expected)


def test_sigterm_twice_abandons_what_is_in_flight(sandbox: SandboxProcess, tmp_path: Path) -> None:
    sandbox.configure(latency=2.0)  # answers that would take a while to wait for
    expected = make_input(tmp_path / "pairs.csv", 500)
    options = ("--base-url", sandbox.url, "--rate-limit", "off", "--batch-size", "50")
    process = start_backfill(tmp_path / "pairs.csv", *options, "--concurrency", "2")
    assert process.stderr is not None
    wait_for(lambda: sandbox.stats()["requests"] >= 2)
    held = sandbox.call("GET", "/_sandbox/arrivals")["arrivals"]
    process.send_signal(signal.SIGTERM)
    while "SIGTERM: stopping" not in process.stderr.readline():
        pass  # the first signal stops the reading; the answers are still 2 s away
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert time.monotonic() - started < 1.0
    assert process.returncode == 130, err
    assert "SIGTERM: abandoning" in err
    assert journal_lines(tmp_path / "pairs.csv.journal") == []

    sandbox.configure(latency=0.0)
    again = run_backfill(tmp_path / "pairs.csv", *options)
    assert again.returncode == 0, again.stderr
    check_nothing_lost(
        sandbox, expected, tmp_path / "pairs.csv.journal", tmp_path / "pairs.dead.csv"
    )
    # The sandbox still holds the abandoned requests: let their latency run out inside
    # this test, so that nothing they might store lands in the next test's store.
    wait_for(lambda: time.monotonic() > max(held) + 2.2)


def test_whole_batch_400s_for_every_pair_also_stop_the_run(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    # From chunk 2 on, every pair makes its batch fail with a 400 that names no input
    # (as a wrong object type would): the client bisects, then fails each pair.
    sandbox.configure(poison_ids=[str(1000 + index) for index in range(50, 300)])
    expected = make_input(tmp_path / "pairs.csv", 300)
    options = ("--base-url", sandbox.url, "--rate-limit", "off")
    options += ("--batch-size", "50", "--concurrency", "1")
    result = run_backfill(tmp_path / "pairs.csv", *options)
    assert result.returncode == 1, result.stderr
    assert "HubSpot kept failing" in result.stdout
    dead = dead_rows(tmp_path / "pairs.dead.csv")
    # Two chunks dead-lettered (chunks may finish out of order: their bisections
    # interleave), the third stopped the run; the rest of the file is left undone.
    lines = [int(row["_line"]) for row in dead]
    assert len(lines) == 100 and set(lines) <= set(range(52, 202))
    assert {row["_category"] for row in dead} == {"VALIDATION_ERROR"}
    assert journal_lines(tmp_path / "pairs.csv.journal") == list(range(2, 52))

    sandbox.configure(poison_ids=[])
    again = run_backfill(tmp_path / "pairs.csv", *options)
    assert again.returncode == 1  # chunks 2 and 3 stay in the dead-letter file
    done = journal_lines(tmp_path / "pairs.csv.journal")
    assert sorted(done + lines) == sorted(expected)

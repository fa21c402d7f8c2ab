"""Labelled backfills, removals, verification and export, end to end.

A :class:`~hubassoc.sandbox.Sandbox` runs in the test's own loop (so a test
seeds it, records with more associations than one read page included, and
reads its store back directly); each job runs as ``python -m hubassoc ...``
in a child process, as a user runs it, and is killed with SIGKILL mid-run to
show that running the same command again finishes the job with nothing done
twice and nothing lost.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubassoc.backfill import command_line
from hubassoc.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
TOKEN = "pat-na1-SECRET-7c1e-bulk-token"
PAGE = 7  #: associated records per read page: a record with 20 takes three pages
LABEL = [("USER_DEFINED", 1000)]
DEFAULT = ("HUBSPOT_DEFINED", 279)  # contact -> company

pytestmark = pytest.mark.slow


@dataclass
class Finished:
    status: int
    stdout: str
    stderr: str


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUBSPOT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env["HUBSPOT_ACCESS_TOKEN"] = TOKEN
    return env


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(token=TOKEN, read_page_size=PAGE) as running:
        yield running


def argv(command: str, input_path: Path, *options: str) -> list[str]:
    return command_line(
        input_path,
        *options,
        from_type="contacts",
        to_type="companies",
        program=(sys.executable, "-m", "hubassoc"),
        command=command,
    )


async def start(command: str, input_path: Path, *options: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv(command, input_path, *options),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
        cwd=input_path.parent,
    )


async def run(command: str, input_path: Path, *options: str) -> Finished:
    process = await start(command, input_path, *options)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


async def kill_when(process: asyncio.subprocess.Process, condition: Callable[[], bool]) -> None:
    """SIGKILL ``process`` as soon as ``condition`` holds (it must hold before the end)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not condition():
        assert process.returncode is None, "the job ended before it could be killed"
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)
    process.kill()
    await process.communicate()
    assert process.returncode == -signal.SIGKILL


def records(path: Path) -> int:
    """Chunk records in a journal (its header aside)."""
    try:
        return len(path.read_bytes().splitlines()) - 1
    except FileNotFoundError:
        return 0


def journal_lines(path: Path) -> list[int]:
    lines: list[int] = []
    for record in path.read_text().splitlines()[1:]:
        ranges = record.removeprefix("A ").partition(" @")[0]
        for part in ranges.split(","):
            first, _, last = part.partition("-")
            lines += range(int(first), int(last or first) + 1)
    return lines


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def no_secret_in(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            assert TOKEN not in path.read_text(), path


def options(sandbox: Sandbox, *extra: str) -> tuple[str, ...]:
    return ("--base-url", sandbox.url, "--rate-limit", "off", "--quiet", *extra)


# --- labels -----------------------------------------------------------------------------------


async def test_types_come_from_a_column_row_by_row_or_from_types_for_every_row(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    source = tmp_path / "labels.csv"
    source.write_text(
        "from_id,to_id,association_type_id,association_category\n"
        "1,11,1000,USER_DEFINED\n"
        "2,12,1,HUBSPOT_DEFINED\n"
        "3,13,,\n"  # no type on the row: --types
        "4,14,nope,\n"
    )
    result = await run("backfill", source, *options(sandbox, "--types", "USER_DEFINED:1001"))
    assert result.status == 1, result.stderr  # the bad type
    assert sandbox.associations("contacts", "companies", "1") == {"11": [DEFAULT, *LABEL]}
    assert sandbox.associations("contacts", "companies", "2")["12"] == [
        DEFAULT,
        ("HUBSPOT_DEFINED", 1),
    ]
    assert sandbox.associations("contacts", "companies", "3")["13"] == [
        DEFAULT,
        ("USER_DEFINED", 1001),
    ]
    dead = csv_rows(tmp_path / "labels.labels.dead.csv")
    assert [(row["_line"], row["_category"]) for row in dead] == [("5", "INVALID_TYPE")]
    assert "associated   3" in result.stdout
    assert sandbox.stats().operations.get("batch/create") == 1  # one request for the chunk
    # Without a type column or --types: today's default associations.
    plain = tmp_path / "plain.csv"
    plain.write_text("from_id,to_id\n5,15\n")
    assert (await run("backfill", plain, *options(sandbox))).status == 0
    assert sandbox.associations("contacts", "companies", "5") == {"15": [DEFAULT]}


async def test_a_killed_labelled_backfill_resumes_without_redoing_finished_rows(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = 1200
    source = tmp_path / "labels.csv"
    source.write_text("from_id,to_id\n" + "".join(f"{100 + i},{i % 50 + 1}\n" for i in range(rows)))
    sandbox.configure(latency=0.01)
    job = options(
        sandbox, "--types", "USER_DEFINED:1000", "--batch-size", "20", "--concurrency", "2"
    )
    journal = tmp_path / "labels.csv.labels.journal"
    await kill_when(await start("backfill", source, *job), lambda: records(journal) >= 10)
    done_at_kill = len(journal_lines(journal))
    received_at_kill = sandbox.stats().pairs_received
    assert 0 < done_at_kill < rows
    result = await run("backfill", source, *job)
    assert result.status == 0, result.stderr
    assert sorted(journal_lines(journal)) == list(range(2, rows + 2))
    for i in (0, rows // 2, rows - 1):
        pairs = sandbox.associations("contacts", "companies", str(100 + i))
        assert pairs[str(i % 50 + 1)] == [DEFAULT, *LABEL]
    # Only what was in flight at the kill went out twice: (concurrency + 1) chunks at most.
    again = sandbox.stats().pairs_received - received_at_kill
    assert again <= rows - done_at_kill + 3 * 20


# --- removal ----------------------------------------------------------------------------------


async def test_archive_removes_pairs_or_only_their_types_and_unknown_pairs_are_fine(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.seed_associations(
        "contacts", "companies", [(1, 11, LABEL), (2, 12, LABEL), (3, 13, LABEL)]
    )
    labels = tmp_path / "labels.csv"
    labels.write_text("from_id,to_id\n1,11\n2,12\n")
    result = await run(
        "backfill", labels, *options(sandbox, "--archive", "--types", "USER_DEFINED:1000")
    )
    assert result.status == 0, result.stderr
    assert "removed      2" in result.stdout
    assert sandbox.associations("contacts", "companies", "1") == {"11": [DEFAULT]}
    assert sandbox.stats().operations.get("batch/labels/archive") == 1
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("from_id,to_id\n1,11\n3,13\n4,14\n")  # 4 -> 14 was never associated
    result = await run("backfill", pairs, *options(sandbox, "--archive"))
    assert result.status == 0, result.stderr
    assert not sandbox.associations("contacts", "companies", "1")
    assert not sandbox.associations("contacts", "companies", "3")
    assert sandbox.associations("contacts", "companies", "2") == {"12": [DEFAULT]}
    assert not (tmp_path / "pairs.archive.dead.csv").exists()


async def test_a_killed_archive_resumes(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = 1000
    sandbox.seed_associations("contacts", "companies", [(100 + i, 1 + i % 9) for i in range(rows)])
    source = tmp_path / "pairs.csv"
    source.write_text("from_id,to_id\n" + "".join(f"{100 + i},{1 + i % 9}\n" for i in range(rows)))
    sandbox.configure(latency=0.01)
    job = options(sandbox, "--archive", "--batch-size", "20", "--concurrency", "2")
    journal = tmp_path / "pairs.csv.archive.journal"
    await kill_when(await start("backfill", source, *job), lambda: records(journal) >= 10)
    assert 0 < len(journal_lines(journal)) < rows
    result = await run("backfill", source, *job)
    assert result.status == 0, result.stderr
    assert sorted(journal_lines(journal)) == list(range(2, rows + 2))
    assert sandbox.stats().associations == 0


# --- verification -----------------------------------------------------------------------------


async def test_verify_writes_each_row_not_in_hubspot_with_its_line_and_reason(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Record 1 has 20 associations (three read pages); the pairs checked are on the last.
    sandbox.seed_associations(
        "contacts", "companies", [(1, 100 + n, LABEL if n == 19 else []) for n in range(20)]
    )
    source = tmp_path / "pairs.csv"
    source.write_text(
        "from_id,to_id,association_type_id,note\n"
        "1,119,1000,present with its label\n"
        "1,118,,present\n"
        "1,118,1000,present but without the label\n"
        "1,500,,not associated\n"
        "2,100,,a record with no associations\n"
        "x,1,,a bad row\n"
    )
    missing = tmp_path / "missing.csv"
    result = await run("verify", source, *options(sandbox, "--missing", str(missing)))
    assert result.status == 1, result.stderr
    rows = csv_rows(missing)
    assert [(r["_line"], r["_category"], r["note"]) for r in rows] == [
        ("7", "INVALID_ID", "a bad row"),
        ("4", "TYPE_MISSING", "present but without the label"),
        ("5", "NOT_ASSOCIATED", "not associated"),
        ("6", "NOT_ASSOCIATED", "a record with no associations"),
    ]
    assert "USER_DEFINED:1000" in next(r["_error"] for r in rows if r["_line"] == "4")
    assert "present      2" in result.stdout, result.stdout
    assert "missing      3 (NOT_ASSOCIATED 2, TYPE_MISSING 1)" in result.stdout
    # Two distinct records: one read request, plus the follow-up pages of record 1.
    assert sandbox.stats().operations["batch/read"] == 3
    no_secret_in(missing, tmp_path / "pairs.csv.verify.journal")
    # With --types, every row is checked for those types.
    typed = await run(
        "verify",
        source,
        *options(
            sandbox,
            "--types",
            "USER_DEFINED:1000",
            "--journal",
            str(tmp_path / "j2"),
            "--missing",
            str(tmp_path / "m2.csv"),
        ),
    )
    assert typed.status == 1
    assert {r["_line"] for r in csv_rows(tmp_path / "m2.csv")} == {"3", "4", "5", "6", "7"}


async def test_verify_reads_a_thousand_records_a_request_and_exits_0_when_all_are_there(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = 2500
    sandbox.seed_associations("contacts", "companies", [(10 + i, 1 + i % 7) for i in range(rows)])
    source = tmp_path / "pairs.jsonl"
    source.write_text(
        "".join(json.dumps({"from_id": 10 + i, "to_id": 1 + i % 7}) + "\n" for i in range(rows))
    )
    summary = tmp_path / "summary.json"
    result = await run("verify", source, *options(sandbox, "--summary-json", str(summary)))
    assert result.status == 0, result.stderr
    assert sandbox.stats().operations["batch/read"] == 3  # 2,500 records / 1,000 a request
    document = json.loads(summary.read_text())
    assert document["status"] == "finished" and document["rows"]["present"] == rows
    # JSON Lines rows missing, written as CSV (by the extension): the columns the job reads.
    absent = tmp_path / "absent.jsonl"
    absent.write_text('{"from_id": 10, "to_id": 99, "association_type_id": 3}\n{"x": 1}\n')
    missing = tmp_path / "absent.csv"
    result = await run("verify", absent, *options(sandbox, "--missing", str(missing)))
    assert result.status == 1, result.stderr
    assert missing.read_text().splitlines() == [
        "from_id,to_id,association_type_id,association_category,_category,_error,_raw,_line",
        ',,,,MISSING_COLUMN,the object has no key \'from_id\',"{""x"": 1}",2',
        "10,99,3,,NOT_ASSOCIATED,10 is not associated with 99,,1",
    ]


async def test_verify_asks_for_each_record_once_however_many_rows_name_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # 300 records, ten rows each, grouped as exports of "contact -> companies" are.
    pairs = [(10 + i, 100 + n) for i in range(300) for n in range(10)]
    sandbox.seed_associations("contacts", "companies", pairs)
    source = tmp_path / "pairs.csv"
    source.write_text("from_id,to_id\n" + "".join(f"{f},{t}\n" for f, t in pairs))
    result = await run("verify", source, *options(sandbox))
    assert result.status == 0, result.stderr
    # One request for the 300 records, one for their second pages (10 associations, 7 a page).
    assert sandbox.stats().operations["batch/read"] == 2


async def test_a_killed_verify_resumes_and_lists_each_missing_row_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = 3000
    absent = {i for i in range(rows) if i % 11 == 0}
    sandbox.seed_associations(
        "contacts", "companies", [(10 + i, 5) for i in range(rows) if i not in absent]
    )
    source = tmp_path / "pairs.csv"
    source.write_text("from_id,to_id\n" + "".join(f"{10 + i},5\n" for i in range(rows)))
    sandbox.configure(latency=0.01)
    job = options(sandbox, "--batch-size", "50", "--concurrency", "2")
    journal = tmp_path / "pairs.csv.verify.journal"
    await kill_when(await start("verify", source, *job), lambda: records(journal) >= 10)
    assert 0 < len(journal_lines(journal)) < rows - len(absent)
    result = await run("verify", source, *job)
    assert result.status == 1, result.stderr
    missing = [int(r["_line"]) for r in csv_rows(tmp_path / "pairs.missing.csv")]
    assert sorted(missing) == sorted(i + 2 for i in absent)  # each once
    assert sorted(journal_lines(journal) + missing) == list(range(2, rows + 2))


# --- export -----------------------------------------------------------------------------------


def seeded_export(sandbox: Sandbox, count: int) -> set[tuple[str, str, str, str, str]]:
    """Record ``i`` gets ``i % 23`` associations (up to four pages), every fifth labelled."""
    seeds = [
        (1000 + i, 5000 + n, LABEL if n % 5 == 0 else [])
        for i in range(count)
        for n in range(i % 23)
    ]
    sandbox.seed_associations("contacts", "companies", seeds)
    expected = set()
    for from_id, to_id, types in seeds:
        expected.add((str(from_id), str(to_id), "HUBSPOT_DEFINED", "279", ""))
        for category, type_id in types:
            expected.add((str(from_id), str(to_id), category, str(type_id), ""))
    return expected


async def test_export_writes_every_association_of_every_record_every_page(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    expected = seeded_export(sandbox, 40)
    ids = tmp_path / "ids.csv"
    ids.write_text("id\n" + "".join(f"{1000 + i}\n" for i in range(40)) + "oops\n")
    out = tmp_path / "out.csv"
    sandbox.configure(not_found_ids=["1039"])  # a record HubSpot does not have
    result = await run("export", ids, *options(sandbox, "--out", str(out)))
    assert result.status == 1, result.stderr  # the bad id, the record not found
    lines = [tuple(row.values()) for row in csv_rows(out)]
    assert len(lines) == len(set(lines))
    assert set(lines) == {line for line in expected if line[0] != "1039"}
    dead = csv_rows(tmp_path / "ids.export.dead.csv")
    assert (dead[0]["id"], dead[0]["_category"]) == ("oops", "INVALID_ID")
    assert [r["id"] for r in dead[1:]] == ["1039"]
    assert "exported     39" in result.stdout
    sandbox.configure(not_found_ids=[])
    # JSON Lines by the extension; ids from another column.
    other = tmp_path / "contacts.jsonl"
    other.write_text("".join(json.dumps({"contact": 1000 + i}) + "\n" for i in range(40)))
    jsonl = tmp_path / "out.jsonl"
    result = await run(
        "export", other, *options(sandbox, "--out", str(jsonl), "--id-column", "contact")
    )
    assert result.status == 0, result.stderr
    exported = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert {
        (e["from_id"], e["to_id"], e["category"], str(e["type_id"]), e["label"] or "")
        for e in exported
    } == expected
    no_secret_in(out, jsonl, tmp_path / "out.csv.journal")


async def test_a_killed_export_run_again_writes_every_association_exactly_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    count = 600
    expected = seeded_export(sandbox, count)
    ids = tmp_path / "ids.csv"
    ids.write_text("id\n" + "".join(f"{1000 + i}\n" for i in range(count)))
    out = tmp_path / "out.csv"
    sandbox.configure(latency=0.01)
    job = options(sandbox, "--out", str(out), "--batch-size", "10", "--concurrency", "2")
    journal = tmp_path / "out.csv.journal"
    await kill_when(await start("export", ids, *job), lambda: records(journal) >= 15)
    assert 0 < len(journal_lines(journal)) < count
    result = await run("export", ids, *job)
    assert result.status == 0, result.stderr
    lines = [tuple(row.values()) for row in csv_rows(out)]
    assert len(lines) == len(expected) and set(lines) == expected


async def test_an_export_cut_after_its_output_and_before_its_journal_is_made_whole(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    expected = seeded_export(sandbox, 30)
    ids = tmp_path / "ids.csv"
    ids.write_text("id\n" + "".join(f"{1000 + i}\n" for i in range(30)))
    out = tmp_path / "out.csv"
    job = options(sandbox, "--out", str(out), "--batch-size", "10")
    assert (await run("export", ids, *job)).status == 0
    # A kill between the output's write and the journal's: the last chunk's lines are
    # on disk but its record is not.
    journal = tmp_path / "out.csv.journal"
    header, *chunks = journal.read_text().splitlines()
    journal.write_text("\n".join([header, *chunks[:-1]]) + "\n")
    result = await run("export", ids, *job)
    assert result.status == 0, result.stderr
    lines = [tuple(row.values()) for row in csv_rows(out)]
    assert len(lines) == len(expected) and set(lines) == expected


# --- the built-in sandbox ---------------------------------------------------------------------


async def test_each_job_runs_against_the_built_in_sandbox(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_bytes((REPO / "examples" / "contacts-companies-labels.csv").read_bytes())
    ids = tmp_path / "ids.csv"
    ids.write_bytes((REPO / "examples" / "contact-ids.csv").read_bytes())
    result = await run("backfill", labels, "--sandbox", "--quiet")
    assert result.status == 0, result.stderr
    # A sandbox of its own, empty: nothing there, every row said missing.
    result = await run("verify", labels, "--sandbox", "--quiet")
    assert result.status == 1, result.stderr
    assert len(csv_rows(tmp_path / "labels.sandbox.missing.csv")) == 20
    out = tmp_path / "out.csv"
    result = await run("export", ids, "--sandbox", "--oauth", "--quiet", "--out", str(out))
    assert result.status == 0, result.stderr  # as an OAuth app, the sandbox its server
    assert out.read_text() == "from_id,to_id,category,type_id,label\n"

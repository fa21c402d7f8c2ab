"""The bulk jobs' pure parts: type columns, lists of ids, checks, export lines, resumable output."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from hubassoc import AssociationSpec, AssociationSpecWithLabel, MultiAssociatedObjectWithLabel
from hubassoc.backfill import BadRow, Counters, InputReader, JobIdentity, Journal, Row, Summary
from hubassoc.backfill._command import add_export_parser, add_parser, add_verify_parser
from hubassoc.backfill._job import UsageError, prepare
from hubassoc.backfill._operations import (
    EXPORT_COLUMNS,
    NOT_ASSOCIATED,
    TYPE_MISSING,
    Export,
    PairWrite,
    Verify,
)
from hubassoc.backfill._options import Options, resume_command
from hubassoc.backfill._output import OutputError, OutputFile
from hubassoc.backfill._progress import PlainReporter
from hubassoc.backfill._reader import parse_spec
from hubassoc.backfill._redact import Redactor
from hubassoc.backfill._report import summary_document, verdict

LABEL_5 = AssociationSpec(association_category="USER_DEFINED", association_type_id=5)
DEFAULT_1 = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def rows_of(path: Path, **options: object) -> list[Row | BadRow]:
    with InputReader(path, **options) as reader:  # type: ignore[arg-type]
        return list(reader.rows())


def associated(to_id: str, *types: tuple[str, int, str | None]) -> MultiAssociatedObjectWithLabel:
    return MultiAssociatedObjectWithLabel(
        to_object_id=to_id,
        association_types=[
            AssociationSpecWithLabel(category=c, type_id=n, label=label) for c, n, label in types
        ],
    )


# --- the reader ---------------------------------------------------------------------------


def test_a_type_column_gives_each_row_its_type(tmp_path: Path) -> None:
    path = write(
        tmp_path / "labels.csv",
        "from_id,to_id,association_type_id,association_category\n"
        "1,2,5,\n"  # category defaults to USER_DEFINED
        "3,4,1,hubspot_defined\n"
        "5,6,,\n"  # no type on this row: the job's --types, or a default association
        "7,8,x,\n"
        "9,10,5,NOPE\n",
    )
    rows = rows_of(path)
    assert [row.spec for row in rows[:3]] == [LABEL_5, DEFAULT_1, None]  # type: ignore[union-attr]
    assert [(row.line, row.category) for row in rows[3:]] == [  # type: ignore[union-attr]
        (5, "INVALID_TYPE"),
        (6, "INVALID_TYPE"),
    ]
    with InputReader(path) as reader:
        assert reader.has_type_column


def test_jsonl_rows_carry_their_type_when_they_have_one(tmp_path: Path) -> None:
    path = write(
        tmp_path / "labels.jsonl",
        '{"from_id": 1, "to_id": 2, "association_type_id": 5}\n'
        '{"from_id": 3, "to_id": 4}\n'
        '{"from_id": 5, "to_id": 6, "association_type_id": 7, '
        '"association_category": "INTEGRATOR_DEFINED"}\n'
        '{"from_id": 7, "to_id": 8, "association_type_id": true}\n',
    )
    rows = rows_of(path)
    assert rows[0] == Row(1, "1", "2", rows[0].raw, LABEL_5)
    assert rows[1].spec is None  # type: ignore[union-attr]
    assert rows[2].spec == AssociationSpec(  # type: ignore[union-attr]
        association_category="INTEGRATOR_DEFINED", association_type_id=7
    )
    assert isinstance(rows[3], BadRow) and rows[3].category == "INVALID_TYPE"


def test_a_list_of_ids_reads_one_id_per_row(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "ids.csv", "id,name\n 12 ,a\n,b\n007,c\nx,d\n")
    rows = rows_of(csv_path, ids_only=True)
    assert [(r.line, r.from_id, r.to_id) for r in rows if isinstance(r, Row)] == [
        (2, "12", ""),
        (4, "7", ""),
    ]
    assert [r.category for r in rows if isinstance(r, BadRow)] == ["EMPTY_ID", "INVALID_ID"]
    guessed = write(tmp_path / "records.csv", "record,other\n5,x\n")
    with InputReader(guessed, ids_only=True) as reader:
        assert reader.columns_guessed and reader.from_column == "record"
    jsonl = write(tmp_path / "ids.jsonl", '{"id": 3}\n{"key": 4}\n{"id": "5", "id": "6"}\n')
    rows = rows_of(jsonl, ids_only=True)
    assert rows[0] == Row(1, "3", "", rows[0].raw)
    assert [r.category for r in rows[1:]] == ["MISSING_COLUMN", "DUPLICATE_KEY"]  # type: ignore[union-attr]


def test_parse_spec() -> None:
    assert parse_spec("USER_DEFINED:5") == LABEL_5
    assert parse_spec("5") == LABEL_5
    assert parse_spec(" hubspot_defined : 1 ") == DEFAULT_1
    for bad in ("USER_DEFINED:", "OTHER:5", "USER_DEFINED:0", "USER_DEFINED:-1", "five"):
        with pytest.raises(ValueError):
            parse_spec(bad)


# --- the operations' checks and lines --------------------------------------------------------


def test_verify_finds_the_pair_and_its_types() -> None:
    record = [associated("2", ("HUBSPOT_DEFINED", 1, None), ("USER_DEFINED", 5, "Boss"))]
    check = Verify().checker()
    assert check(Row(2, "1", "2", b""), record) is None
    problem = check(Row(3, "1", "9", b""), record)
    assert problem is not None and problem[0] == NOT_ASSOCIATED
    assert check(Row(4, "1", "2", b"", LABEL_5), record) is None
    other = AssociationSpec(association_category="USER_DEFINED", association_type_id=6)
    problem = check(Row(5, "1", "2", b"", other), record)
    assert problem is not None and problem[0] == TYPE_MISSING and "USER_DEFINED:6" in problem[1]
    # The job's types apply to rows without their own.
    typed = Verify([other]).checker()
    assert typed(Row(6, "1", "2", b""), record) is not None
    assert typed(Row(7, "1", "2", b"", LABEL_5), record) is None
    assert check(Row(8, "1", "2", b""), []) is not None  # a record with no associations


def test_export_lines_one_per_type_in_csv_and_jsonl() -> None:
    record = [
        associated("2", ("HUBSPOT_DEFINED", 1, None), ("USER_DEFINED", 5, 'Boss, "big"')),
        associated("3", ("HUBSPOT_DEFINED", 1, None)),
    ]
    row = Row(2, "1", "", b"")
    lines = Export("csv").output(row, record).decode()
    assert Export("csv").header() == b"from_id,to_id,category,type_id,label\n"
    assert list(csv.reader(io.StringIO(lines))) == [
        ["1", "2", "HUBSPOT_DEFINED", "1", ""],
        ["1", "2", "USER_DEFINED", "5", 'Boss, "big"'],
        ["1", "3", "HUBSPOT_DEFINED", "1", ""],
    ]
    jsonl = Export("jsonl").output(row, record).decode().splitlines()
    assert [json.loads(line) for line in jsonl][1] == dict(
        zip(EXPORT_COLUMNS, ["1", "2", "USER_DEFINED", 5, 'Boss, "big"'], strict=True)
    )
    assert Export("jsonl").header() == b""
    assert Export("csv").output(row, []) == b""


def test_pair_operations_are_only_associate_and_archive() -> None:
    assert PairWrite("archive").done_word == "removed"
    with pytest.raises(ValueError):
        PairWrite("delete")


# --- the journal's output sizes and the output cut back to them ----------------------------


def test_records_with_output_sizes_reload_the_last_size(tmp_path: Path) -> None:
    source = write(tmp_path / "ids.csv", "id\n" + "".join(f"{i}\n" for i in range(1, 50)))
    identity = JobIdentity.of(
        source,
        from_type="contacts",
        to_type="companies",
        format="csv",
        from_column="id",
        to_column="",
        dead_letter=tmp_path / "ids.dead.csv",
        sandbox=False,
        operation="export",
        output=tmp_path / "out.csv",
    )
    path = tmp_path / "out.csv.journal"
    journal = Journal.open(path, identity, lines=50)
    journal.record([2, 3], output_size=120)
    journal.record([4], output_size=180)
    journal.close()
    assert path.read_text().splitlines()[1:] == ["A 2-3 @120", "A 4 @180"]
    journal = Journal.open(path, identity, lines=50)
    assert journal.output_size == 180 and journal.previously_done == 3
    journal.close()
    # Another operation on the same file is another job.
    with pytest.raises(Exception, match="operation: 'export' -> 'verify'"):
        other = JobIdentity(**{**identity.as_dict(), "operation": "verify"})
        Journal.open(path, other, lines=50)


def test_the_output_is_cut_back_to_the_journalled_size(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    output = OutputFile.open(path, size=0, created=True, header=b"h\n")
    assert output.write(b"one\n") == 6
    size = output.size
    output.write(b"two, never journalled\n")
    output.close()
    output = OutputFile.open(path, size=size, created=False, header=b"h\n")
    output.write(b"two\n")
    output.close()
    assert path.read_bytes() == b"h\none\ntwo\n"
    with pytest.raises(OutputError, match="left from an earlier export"):
        OutputFile.open(path, size=0, created=True, header=b"h\n")
    with pytest.raises(OutputError, match="fewer than"):
        OutputFile.open(path, size=1000, created=False, header=b"h\n")


# --- options --------------------------------------------------------------------------------


def parse(*argv: str) -> Options:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    for register in (add_parser, add_verify_parser, add_export_parser):
        register(subparsers)
    return Options.of(parser.parse_args(argv))


def test_each_command_parses_into_options_and_back() -> None:
    types = ("--types", "USER_DEFINED:5", "--types", "6,USER_DEFINED:5")
    options = parse(
        "backfill", "p.csv", "--from-type", "contacts", "--to-type", "companies", *types
    )
    assert options.command == "backfill" and options.batch_size == 100
    assert [t.association_type_id for t in options.types] == [5, 6]
    assert "--types USER_DEFINED:5 --types USER_DEFINED:6" in resume_command(options)
    archive = parse(
        "backfill", "p.csv", "--from-type", "contacts", "--to-type", "deals", "--archive"
    )
    assert archive.archive and resume_command(archive).endswith("--archive")
    verify = parse(
        "verify", "p.csv", "--from-type", "contacts", "--to-type", "companies", "--missing", "m.csv"
    )
    assert verify.command == "verify" and verify.dead_letter == "m.csv"
    assert verify.batch_size == 1000 and verify.prog == "hubassoc verify"
    assert resume_command(verify).startswith("hubassoc verify p.csv")
    assert "--missing m.csv" in resume_command(verify)
    export = parse(
        "export",
        "ids.csv",
        "--from-type",
        "contacts",
        "--to-type",
        "companies",
        "--out",
        "out.jsonl",
        "--id-column",
        "contact",
    )
    assert export.out == "out.jsonl" and export.from_column == "contact"
    again = parse(*resume_command(export).split()[1:])
    assert again == export
    with pytest.raises(SystemExit):
        parse(
            "backfill", "p.csv", "--from-type", "contacts", "--to-type", "deals", "--types", "x:1"
        )


def test_each_job_has_its_own_default_files(tmp_path: Path) -> None:
    source = write(tmp_path / "pairs.csv", "from_id,to_id,association_type_id\n1,2,5\n")
    ids = write(tmp_path / "ids.csv", "id\n1\n")

    def files(**changes: object) -> tuple[str, str]:
        fields: dict[str, object] = {"from_type": "contacts", "to_type": "companies"}
        fields.setdefault("input", str(source))
        fields.update(changes)
        job = prepare(Options(**fields), {"HUBSPOT_ACCESS_TOKEN": "t"}, Redactor())  # type: ignore[arg-type]
        job.reader.close()
        return job.journal_path.name, job.dead_path.name

    assert files() == ("pairs.csv.labels.journal", "pairs.labels.dead.csv")
    assert files(archive=True) == ("pairs.csv.archive.journal", "pairs.archive.dead.csv")
    assert files(command="verify") == ("pairs.csv.verify.journal", "pairs.missing.csv")
    assert files(command="verify", sandbox=True) == (
        "pairs.csv.sandbox.verify.journal",
        "pairs.sandbox.missing.csv",
    )
    out = str(tmp_path / "out.csv")
    assert files(command="export", input=str(ids), out=out) == (
        "out.csv.journal",
        "ids.export.dead.csv",
    )
    with pytest.raises(UsageError, match="extension"):
        files(command="export", input=str(ids), out=str(tmp_path / "out.txt"))
    with pytest.raises(UsageError, match="file of their own"):
        files(command="export", input=str(ids), out=str(ids))


def test_verify_advises_loading_the_missing_rows_with_a_backfill(tmp_path: Path) -> None:
    summary = Summary(
        total=3,
        associated=1,
        failed=2,
        failed_by_category={"NOT_ASSOCIATED": 2},
        bad=0,
        bad_by_category={},
        skipped=0,
        blank=0,
        dead_letter_rows=2,
        requests=1,
        retries=0,
        rate_limited=0,
        elapsed=1.0,
        stop=None,
        done_word="present",
        failed_word="missing",
    )
    options = Options(input="p.csv", from_type="contacts", to_type="companies", command="verify")
    ending = verdict(options, summary, tmp_path / "p.missing.csv")
    assert ending.exit_status == 1 and ending.advice is not None
    load = ending.advice.splitlines()[-1].strip()
    assert load.startswith("hubassoc backfill ") and "--batch-size" not in load
    document = summary_document(options, status="finished", exit_status=1, summary=summary)
    assert document.rows["present"] == 1 and document.rows["missing"] == 2


def test_progress_lines_name_the_command_and_what_a_row_is() -> None:
    stream = io.StringIO()
    reporter = PlainReporter(
        Counters(total=10),
        lambda: None,
        interval=1.0,
        stream=stream,
        prog="hubassoc export",
        unit="records",
    )
    line = reporter.line(0.0)
    assert line.startswith("hubassoc export: 0/10 rows (0.0%), 0 records/s")

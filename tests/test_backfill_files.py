"""The backfill's files on their own: the reader, the journal, the dead-letter file, progress."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from pathlib import Path

import pytest

from hubassoc import TransportStats
from hubassoc.backfill import (
    BadRow,
    Counters,
    DeadLetter,
    InputError,
    InputReader,
    JobIdentity,
    Journal,
    JournalError,
    JournalMismatchError,
    Row,
    count_lines,
)
from hubassoc.backfill._dead_letter import DeadLetterError, default_dead_letter_path
from hubassoc.backfill._journal import encode_ranges
from hubassoc.backfill._progress import PlainReporter, format_duration, make_reporter
from hubassoc.backfill._reader import guess_format


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def read_all(path: Path, **options: str) -> tuple[list[Row], list[BadRow], InputReader]:
    with InputReader(path, **options) as reader:  # type: ignore[arg-type]
        items = list(reader.rows())
    good = [item for item in items if isinstance(item, Row)]
    bad = [item for item in items if isinstance(item, BadRow)]
    return good, bad, reader


# --- the reader: CSV ---------------------------------------------------------------------


def test_csv_rows_carry_line_numbers_and_canonical_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pairs.csv",
        b"\xef\xbb\xbffrom_id,to_id,note\r\n1,2,a\r\n\r\n007 , 8,b\n 9,10\n   \n11,12",
    )
    good, bad, reader = read_all(path)
    assert bad == []
    assert [(r.line, r.from_id, r.to_id) for r in good] == [
        (2, "1", "2"),
        (4, "7", "8"),
        (5, "9", "10"),
        (7, "11", "12"),
    ]
    assert good[0].raw == b"1,2,a\r\n"
    assert reader.blank_lines == 2
    assert reader.header == ["from_id", "to_id", "note"]
    assert not reader.columns_guessed


def test_csv_bad_rows_have_a_category_a_reason_and_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pairs.csv",
        b"from_id,to_id\n"
        b"1,\n"  # 2: empty to
        b",2\n"  # 3: empty from
        b"1a,2\n"  # 4: not digits
        b"-1,2\n"  # 5: negative
        b"1,99999999999999999999\n"  # 6: beyond int64
        b"5\n"  # 7: missing column
        b'1,"2\n'  # 8: unclosed quote
        b'1,"2"x\n'  # 9: text after the closing quote
        b"1,\xff\xfe\n"  # 10: not UTF-8
        b'"3","4"\n',  # 11: good, quoted
    )
    good, bad, _ = read_all(path)
    assert [(r.line, r.from_id, r.to_id) for r in good] == [(11, "3", "4")]
    assert [(b.line, b.category) for b in bad] == [
        (2, "EMPTY_ID"),
        (3, "EMPTY_ID"),
        (4, "INVALID_ID"),
        (5, "INVALID_ID"),
        (6, "INVALID_ID"),
        (7, "MISSING_COLUMN"),
        (8, "BROKEN_CSV_QUOTING"),
        (9, "BROKEN_CSV_QUOTING"),
        (10, "INVALID_UTF8"),
    ]
    messages = {b.line: b.message for b in bad}
    assert "to_id is empty" in messages[2]
    assert "'1a'" in messages[4] and "from_id" in messages[4]
    assert "int64" in messages[6]
    assert "'to_id'" in messages[7]
    # One stray quote does not swallow the lines after it.
    assert bad[6].raw == b'1,"2\n'


def test_csv_columns_by_name_or_by_position(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.csv", "company,contact,extra\n10,1,x\n20,2,y\n")
    good, _, reader = read_all(path, from_column="contact", to_column="company")
    assert [(r.from_id, r.to_id) for r in good] == [("1", "10"), ("2", "20")]
    # Neither default name in the header: the first two columns, in order.
    good, _, reader = read_all(path)
    assert reader.columns_guessed
    assert (reader.from_column, reader.to_column) == ("company", "contact")
    assert [(r.from_id, r.to_id) for r in good] == [("10", "1"), ("20", "2")]
    # The dead-letter file's own columns never count as data columns.
    dead = write(tmp_path / "dead.csv", "_category,a,b,_line\nX,1,2,2\n")
    good, _, reader = read_all(dead)
    assert (reader.from_column, reader.to_column) == ("a", "b")
    assert [(r.from_id, r.to_id) for r in good] == [("1", "2")]


@pytest.mark.parametrize(
    ("header", "options", "expected"),
    [
        ("from_id,to_id", {"from_column": "contact"}, "'contact' is not in the header"),
        ("from_id,to_id", {"to_column": "nope"}, "--to-column"),
        ("from_id,company", {}, "'to_id' is not in the header"),
        ("only", {}, "fewer than two columns"),
        ("a,b", {"from_column": "a", "to_column": "a"}, "both 'a'"),
        ("", {}, "no CSV header"),
        ('"a,b', {}, "broken CSV quoting"),
    ],
)
def test_csv_header_problems_are_input_errors(
    tmp_path: Path, header: str, options: dict[str, str], expected: str
) -> None:
    path = write(tmp_path / "pairs.csv", header + "\n1,2\n")
    with pytest.raises(InputError, match=expected):
        InputReader(path, **options)  # type: ignore[arg-type]


def test_rows_skip_done_lines_without_parsing_them(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.csv", "from_id,to_id\n1,2\nbad\n3,4\n5,6\n")
    done = bytearray(6)
    done[2] = done[3] = 1
    with InputReader(path) as reader:
        assert [item.line for item in reader.rows(done)] == [4, 5]


# --- the reader: JSON Lines ------------------------------------------------------------


def test_jsonl_rows_and_every_bad_kind(tmp_path: Path) -> None:
    lines = [
        '{"from_id": "1", "to_id": 2, "other": true}',  # 1 good: string and int ids
        "",  # 2 blank
        '{"from_id": "1", "to_id": 2',  # 3 invalid JSON
        '["1", "2"]',  # 4 not an object
        '"text"',  # 5 not an object
        '{"from_id": "1"}',  # 6 missing key
        '{"from_id": null, "to_id": "2"}',  # 7 null
        '{"from_id": "", "to_id": "2"}',  # 8 empty
        '{"from_id": 1.5, "to_id": "2"}',  # 9 float
        '{"from_id": true, "to_id": "2"}',  # 10 bool
        '{"from_id": "x1", "to_id": "2"}',  # 11 not digits
        '{"from_id": -1, "to_id": "2"}',  # 12 negative
        '{"from_id": "0010", "to_id": "20"}',  # 13 good, leading zeros dropped
    ]
    path = write(tmp_path / "pairs.jsonl", "\n".join(lines) + "\n")
    good, bad, reader = read_all(path)
    assert [(r.line, r.from_id, r.to_id) for r in good] == [(1, "1", "2"), (13, "10", "20")]
    assert [(b.line, b.category) for b in bad] == [
        (3, "INVALID_JSON"),
        (4, "NOT_A_JSON_OBJECT"),
        (5, "NOT_A_JSON_OBJECT"),
        (6, "MISSING_COLUMN"),
        (7, "EMPTY_ID"),
        (8, "EMPTY_ID"),
        (9, "INVALID_ID"),
        (10, "INVALID_ID"),
        (11, "INVALID_ID"),
        (12, "INVALID_ID"),
    ]
    assert "array" in bad[1].message and "'to_id'" in bad[3].message
    assert reader.blank_lines == 1


def test_jsonl_custom_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.ndjson", '{"contact": "1", "company": "2"}\n{"from_id": "3"}\n')
    good, bad, _ = read_all(path, from_column="contact", to_column="company")
    assert [(r.from_id, r.to_id) for r in good] == [("1", "2")]
    assert bad[0].category == "MISSING_COLUMN" and "'contact'" in bad[0].message


def test_format_from_extension_and_line_count(tmp_path: Path) -> None:
    assert guess_format("a.CSV") == "csv"
    assert guess_format("a.jsonl") == guess_format("a.ndjson") == "jsonl"
    with pytest.raises(InputError, match="--format"):
        guess_format("a.txt")
    assert count_lines(write(tmp_path / "a", "")) == 0
    assert count_lines(write(tmp_path / "b", "x\ny\n")) == 2
    assert count_lines(write(tmp_path / "c", "x\ny")) == 2


# --- the journal -----------------------------------------------------------------------


def identity(tmp_path: Path, **changes: object) -> JobIdentity:
    input_path = tmp_path / "pairs.csv"
    if not input_path.exists():
        write(input_path, "from_id,to_id\n" + "".join(f"{i},{i}\n" for i in range(1, 200)))
    base = JobIdentity.of(
        input_path,
        from_type="contacts",
        to_type="companies",
        format="csv",
        from_column="from_id",
        to_column="to_id",
        dead_letter=tmp_path / "pairs.dead.csv",
        sandbox=False,
    )
    return JobIdentity(**{**base.as_dict(), **changes})  # type: ignore[arg-type]


def test_encode_ranges() -> None:
    assert encode_ranges([2, 3, 4, 7, 9, 10]) == b"2-4,7,9-10"
    assert encode_ranges([5]) == b"5"


def test_journal_appends_and_reloads_into_a_bitmap(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv.journal"
    job = identity(tmp_path)
    journal = Journal.open(path, job, lines=200)
    assert journal.created and journal.previously_done == 0
    journal.record([2, 3, 4, 6])
    journal.record(list(range(100, 200)))
    journal.close()
    header, *records = path.read_text().splitlines()
    assert json.loads(header)["job"]["input"] == job.input
    assert records == ["A 2-4,6", "A 100-199"]

    journal = Journal.open(path, job, lines=200)
    assert not journal.created
    assert journal.previously_done == 104
    assert [n for n in range(200) if journal.done[n]] == [2, 3, 4, 6, *range(100, 200)]
    journal.close()


def test_journal_of_another_job_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    Journal.open(path, identity(tmp_path), lines=200).close()
    with pytest.raises(JournalMismatchError) as caught:
        Journal.open(path, identity(tmp_path, to_type="deals", size=5), lines=200)
    assert "different job" in str(caught.value)
    assert any(d.startswith("to_type: 'companies' -> 'deals'") for d in caught.value.differences)
    assert any(d.startswith("size:") for d in caught.value.differences)


def test_journal_with_a_torn_last_line_loses_only_that_record(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal.open(path, identity(tmp_path), lines=200)
    journal.record([2, 3])
    journal.close()
    with open(path, "ab") as f:
        f.write(b"A 10-1")  # a record torn by a SIGKILL mid-write
    journal = Journal.open(path, identity(tmp_path), lines=200)
    assert journal.previously_done == 2
    journal.record([50])
    journal.close()
    assert path.read_text().splitlines()[1:] == ["A 2-3", "A 50"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not a journal\n", "not a hubassoc backfill journal"),
        ('{"journal": "hubassoc-backfill", "version": 99}\n', "version 99"),
    ],
)
def test_a_file_that_is_not_a_journal_is_refused(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = write(tmp_path / "j", content)
    with pytest.raises(JournalError, match=expected):
        Journal.open(path, identity(tmp_path), lines=200)


def test_a_damaged_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    Journal.open(path, identity(tmp_path), lines=200).close()
    with open(path, "ab") as f:
        f.write(b"A 2-x\nA 3\n")
    with pytest.raises(JournalError, match="line 2: damaged"):
        Journal.open(path, identity(tmp_path), lines=200)
    path.write_text(path.read_text().replace("A 2-x", "A 500"))
    with pytest.raises(JournalError, match="not in the input"):
        Journal.open(path, identity(tmp_path), lines=200)


def test_a_journal_in_use_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal.open(path, identity(tmp_path), lines=200)
    try:
        with pytest.raises(JournalError, match="another hubassoc backfill"):
            Journal.open(path, identity(tmp_path), lines=200)
    finally:
        journal.close()
    Journal.open(path, identity(tmp_path), lines=200).close()


# --- the dead-letter file --------------------------------------------------------------


def test_dead_letter_path_next_to_the_input() -> None:
    assert default_dead_letter_path("data/pairs.csv") == Path("data/pairs.dead.csv")
    assert default_dead_letter_path("p.jsonl", sandbox=True) == Path("p.sandbox.dead.jsonl")


def test_csv_dead_letter_is_valid_input_again(tmp_path: Path) -> None:
    source = write(
        tmp_path / "pairs.csv",
        'from_id,to_id,note\n1,2,"a, b"\n1x,2,c\n5\n1,"2\n3,4,d,extra\n6,7,e\n',
    )
    with InputReader(source) as reader:
        items = list(reader.rows())
        header = reader.header
    message = "[c0ffee] No contact\nwith ID 6"
    failed = [
        BadRow(6, "OBJECT_NOT_FOUND", message, items[4].raw),
        BadRow(7, "OBJECT_NOT_FOUND", message, items[5].raw),
    ]
    bad = [item for item in items if isinstance(item, BadRow)]
    dead_path = tmp_path / "pairs.dead.csv"
    dead = DeadLetter.open(dead_path, format="csv", input_header=header, done=bytearray(8))
    dead.write([*bad, *failed])
    dead.close()
    assert dead.written == 5
    assert dead.written_by_category == {
        "INVALID_ID": 1,
        "MISSING_COLUMN": 1,
        "BROKEN_CSV_QUOTING": 1,
        "OBJECT_NOT_FOUND": 2,
    }
    text = dead_path.read_text()
    assert text.splitlines()[0] == "from_id,to_id,note,_category,_error,_raw,_line"
    assert len(text.splitlines()) == 6  # one physical line per row: messages are flattened

    good, again_bad, reader = read_all(dead_path)
    assert (reader.from_column, reader.to_column) == ("from_id", "to_id")
    assert [(r.line, r.from_id, r.to_id) for r in good] == [(5, "3", "4"), (6, "6", "7")]
    assert [b.category for b in again_bad] == ["INVALID_ID", "EMPTY_ID", "EMPTY_ID"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["_line"] for row in rows] == ["3", "4", "5", "6", "7"]
    assert rows[2]["_raw"] == '1,"2'  # the line as given, where its fields are lost
    assert rows[3]["_raw"] == "3,4,d,extra"  # more fields than the header
    assert rows[4]["_error"] == "[c0ffee] No contact with ID 6"
    assert rows[4]["note"] == "e" and rows[4]["_raw"] == ""

    # Re-running a dead-letter file reuses its columns instead of adding them again.
    with InputReader(dead_path) as reader:
        rerun_header = reader.header
        rerun = [item for item in reader.rows() if isinstance(item, BadRow)]
    second = tmp_path / "pairs.dead.dead.csv"
    dead = DeadLetter.open(second, format="csv", input_header=rerun_header, done=bytearray(6))
    dead.write(rerun)
    dead.close()
    lines = second.read_text().splitlines()
    assert lines[0] == "from_id,to_id,note,_category,_error,_raw,_line"
    assert lines[3].endswith(',"1,""2",4')  # the first run's _raw is kept
    assert len(lines) == 4


def test_dead_letter_reopened_marks_its_lines_done_and_cuts_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "dead.csv"
    dead = DeadLetter.open(path, format="csv", input_header=["from_id", "to_id"], done=bytearray(9))
    dead.write([BadRow(3, "EMPTY_ID", "x", b"1,\n"), BadRow(5, "NOT_FOUND", "y", b"5,6\n")])
    dead.close()
    with open(path, "ab") as f:
        f.write(b"7,8,NOT_FOUND,z,,")  # torn by a crash
    done = bytearray(9)
    dead = DeadLetter.open(path, format="csv", input_header=["from_id", "to_id"], done=done)
    assert [n for n in range(9) if done[n]] == [3, 5]
    assert dead.previous == 2
    dead.write([BadRow(7, "NOT_FOUND", "z", b"7,8\n")])
    dead.close()
    assert dead.count == 3
    assert path.read_text().splitlines()[1:] == [
        "1,,EMPTY_ID,x,,3",
        "5,6,NOT_FOUND,y,,5",
        "7,8,NOT_FOUND,z,,7",
    ]
    with pytest.raises(DeadLetterError, match="not this job's"):
        DeadLetter.open(path, format="csv", input_header=["a", "b"], done=bytearray(9))


def test_jsonl_dead_letter_is_valid_input_again(tmp_path: Path) -> None:
    source = write(
        tmp_path / "pairs.jsonl",
        '{"from_id": "1", "to_id": "x", "keep": [1]}\n[1, 2]\n{"from_id": "3", "to_id": "4"}\n',
    )
    good, bad, _ = read_all(source)
    path = tmp_path / "pairs.dead.jsonl"
    dead = DeadLetter.open(path, format="jsonl", input_header=None, done=bytearray(4))
    dead.write([*bad, BadRow(3, "OBJECT_NOT_FOUND", "gone", good[0].raw)])
    dead.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0] == {
        "from_id": "1",
        "to_id": "x",
        "keep": [1],
        "_category": "INVALID_ID",
        "_error": records[0]["_error"],
        "_line": 1,
    }
    assert list(records[0])[-1] == "_line"
    assert records[1]["_raw"] == "[1, 2]" and records[1]["_line"] == 2
    again_good, again_bad, _ = read_all(path)
    assert [(r.from_id, r.to_id) for r in again_good] == [("3", "4")]
    assert [b.category for b in again_bad] == ["INVALID_ID", "MISSING_COLUMN"]
    done = bytearray(4)
    reopened = DeadLetter.open(path, format="jsonl", input_header=None, done=done)
    assert [n for n in range(4) if done[n]] == [1, 2, 3] and reopened.previous == 3


# --- progress --------------------------------------------------------------------------


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 59.4, 90, 4000)] == ["0s", "59s", "1m30s", "1h06m"]


async def test_plain_progress_lines() -> None:
    counters = Counters(total=1000, skipped=100)
    stats = TransportStats(requests=7, retries=2, rate_limited=1)
    stream = io.StringIO()
    reporter = make_reporter(counters, lambda: stats, quiet=False, interval=0.01, stream=stream)
    assert isinstance(reporter, PlainReporter)
    reporter.start()
    counters.associated = 300
    await asyncio.sleep(0.05)
    await reporter.stop()
    line = stream.getvalue().splitlines()[-1]
    assert line.startswith("hubassoc backfill: 400/1,000 rows (40.0%), ")
    assert line.endswith("retries 2, 429s 1")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_rich_progress_bar_on_a_terminal() -> None:
    counters = Counters(total=50)
    stream = _Terminal()
    reporter = make_reporter(counters, lambda: None, quiet=False, interval=1, stream=stream)
    assert type(reporter).__name__ == "_RichReporter"
    reporter.start()
    counters.associated = 50
    reporter.message("a message")
    await asyncio.sleep(0.01)
    await reporter.stop()
    assert "50/50" in stream.getvalue() and "a message" in stream.getvalue()
    assert type(make_reporter(counters, lambda: None, quiet=True, interval=1)).__name__ == "_Quiet"


def test_no_file_descriptor_leaks(tmp_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    test_journal_appends_and_reloads_into_a_bitmap(tmp_path)
    after = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    assert after == before


def test_dead_letter_read_back_where_line_is_not_the_last_column(tmp_path: Path) -> None:
    header = ["_line", "from_id", "to_id"]  # an input that had a _line column of its own
    path = tmp_path / "dead.csv"
    dead = DeadLetter.open(path, format="csv", input_header=header, done=bytearray(9))
    dead.write([BadRow(4, "X", "a, b", b"99,1,2\n")])
    dead.close()
    assert path.read_text().splitlines() == [
        "_line,from_id,to_id,_category,_error,_raw",
        '4,1,2,X,"a, b",',
    ]
    done = bytearray(9)
    assert DeadLetter.open(path, format="csv", input_header=header, done=done).previous == 1
    assert done[4] == 1
    # JSON Lines written by someone else: _line anywhere.
    jsonl = write(tmp_path / "dead.jsonl", '{"_line": 3, "from_id": "1"}\n')
    done = bytearray(9)
    assert DeadLetter.open(jsonl, format="jsonl", input_header=None, done=done).previous == 1
    assert done[3] == 1

"""The backfill's input rules at their edges: lines too long, strict ids, ambiguous inputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hubassoc.backfill import BadRow, DeadLetter, InputError, InputReader, Row
from hubassoc.backfill._reader import EXCERPT_BYTES


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def read_all(path: Path, done: bytearray | None = None, **options: object) -> list[Row | BadRow]:
    with InputReader(path, **options) as reader:  # type: ignore[arg-type]
        return list(reader.rows(done))


# --- lines too long ------------------------------------------------------------------------


def test_a_line_too_long_is_a_bad_row_with_an_excerpt_and_later_lines_keep_their_numbers(
    tmp_path: Path,
) -> None:
    limit = EXCERPT_BYTES + 44
    long_row = b"1," + b"9" * 5000
    path = write(
        tmp_path / "pairs.csv",
        b"from_id,to_id\n"
        b"1,2\n"  # 2
        + long_row
        + b"\n"  # 3: too long
        + b"1,"
        + b"0" * (limit - 3)
        + b"8\n"  # 4: exactly the limit: allowed
        + b"1,"
        + b"0" * (limit - 2)
        + b"8\n"  # 5: one byte more: too long
        + b"\n"  # 6: blank
        + b"3,4\n"  # 7
        + b"5," * 400,  # 8: too long, last, no line break
    )
    items = read_all(path, max_line_bytes=limit)
    assert [(item.line, type(item).__name__) for item in items] == [
        (2, "Row"),
        (3, "BadRow"),
        (4, "Row"),
        (5, "BadRow"),
        (7, "Row"),
        (8, "BadRow"),
    ]
    assert items[2][1:3] == ("1", "8")
    bad = [item for item in items if isinstance(item, BadRow)]
    assert {row.category for row in bad} == {"LINE_TOO_LONG"}
    assert bad[0].raw == long_row[:EXCERPT_BYTES]
    assert f"5,002 bytes long, more than the {limit} allowed" in bad[0].message
    assert f"{limit + 1} bytes long" in bad[1].message
    assert "800 bytes long" in bad[2].message
    # Resumed with those lines done: skipped, and the numbering still holds.
    done = bytearray(9)
    done[3] = done[5] = 1
    again = read_all(path, done, max_line_bytes=limit)
    assert [item.line for item in again] == [2, 4, 7, 8]


def test_a_header_too_long_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.csv", b"from_id,to_id," + b"x" * 100 + b"\n1,2\n")
    with pytest.raises(ValueError, match="longer than 32 bytes"):
        InputReader(path, max_line_bytes=32)


@pytest.mark.parametrize(
    ("suffix", "content", "limit"),
    [
        # Cut short, each line would read as a pair: it must not.
        (".csv", b"a,b\n1,23456789012\n", 10),
        (".jsonl", b'{"from_id": 1, "to_id": 2}' + b" " * 20 + b"\n", 30),
    ],
)
def test_a_line_too_long_is_dead_lettered_as_its_start_only(
    tmp_path: Path, suffix: str, content: bytes, limit: int
) -> None:
    path = write(tmp_path / f"pairs{suffix}", content)
    with InputReader(path, max_line_bytes=limit) as reader:
        rows = list(reader.rows())
        dead_path = tmp_path / f"dead{suffix}"
        dead = DeadLetter.open(
            dead_path, format=reader.format, input_header=reader.header, done=bytearray(4)
        )
        dead.write([row for row in rows if isinstance(row, BadRow)])
        dead.close()
    if suffix == ".csv":
        (record,) = csv.DictReader(io.StringIO(dead_path.read_text()))
        assert record["a"] == record["b"] == ""
        line = content.splitlines()[1]
    else:
        record = json.loads(dead_path.read_text())
        assert "from_id" not in record
        line = content
    assert record["_category"] == "LINE_TOO_LONG"
    # What was read to tell the line was too long, and no more.
    assert record["_raw"] == line[: limit + 1].decode()
    # Read back as input, the row is bad again: never a pair.
    assert not [item for item in read_all(dead_path) if isinstance(item, Row)]


# --- strict ids --------------------------------------------------------------------------

#: Characters ``str.strip()`` would trim that are not spaces or tabs.
ODD_SPACES = ["\x1c", "\u00a0", "\u2028", "\x0b", "\x0c", "\u3000", "\x85", "\x1f"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_only_ascii_spaces_and_tabs_around_an_id_are_ignored(tmp_path: Path, suffix: str) -> None:
    ids = [f"{64 + index}{char}" for index, char in enumerate(ODD_SPACES)]
    ids += [f"{char}9" for char in ODD_SPACES[:3]]
    if suffix == ".csv":
        lines = ["from_id,to_id", " \t1\t ,2"] + [f"{i},1" for i in ids] + [f"1,{i}" for i in ids]
    else:
        lines = ['{"from_id": " \\t1\\t ", "to_id": 2}']
        lines += [json.dumps({"from_id": i, "to_id": 1}) for i in ids]
        lines += [json.dumps({"from_id": 1, "to_id": i}) for i in ids]
    path = tmp_path / f"pairs{suffix}"
    path.write_bytes("\n".join(lines).encode() + b"\n")
    items = read_all(path)
    good = [item for item in items if isinstance(item, Row)]
    bad = [item for item in items if isinstance(item, BadRow)]
    assert [(row.from_id, row.to_id) for row in good] == [("1", "2")]
    assert len(bad) == 2 * len(ids)
    assert {row.category for row in bad} == {"INVALID_ID"}
    assert "U+001C" in bad[0].message and "only spaces and tabs" in bad[0].message
    assert "U+00A0 NO-BREAK SPACE" in bad[1].message
    assert "U+2028 LINE SEPARATOR" in bad[2].message


def test_a_line_of_other_whitespace_is_a_bad_row_not_a_blank_line(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.csv", b"from_id,to_id\n \t \n\xc2\xa0\n\x0c\n1,2\n")
    with InputReader(path) as reader:
        items = list(reader.rows())
        assert reader.blank_lines == 1
    assert [(item.line, type(item).__name__) for item in items] == [
        (3, "BadRow"),
        (4, "BadRow"),
        (5, "Row"),
    ]
    path = write(tmp_path / "pairs.jsonl", b' \t\r\n\x0c\n{"from_id": 1, "to_id": 2}\n')
    assert [type(item).__name__ for item in read_all(path)] == ["BadRow", "Row"]


# --- ambiguous inputs ----------------------------------------------------------------------


def test_a_json_object_with_an_id_key_twice_is_a_bad_row(tmp_path: Path) -> None:
    lines = [
        b'{"from_id": 1, "to_id": 2, "from_id": 3}',  # 1: twice
        b'{"from_id": 1, "to_id": 2, "\\u0066rom_id": 3}',  # 2: twice, once escaped
        b'{"to_id": "2", "from_id": 1, "to_id": "2"}',  # 3: twice, same value
        b'{"from_id": 4, "to_id": 5, "note": "from_id", "more": {"to_id": 9}}',  # 4: fine
        b'{"from_id": 6, "to_id": 7, "x": 1, "x": 2}',  # 5: another key twice: fine
        b'{"from_id": "8", "to_id": "9", "note": "a \\"quote\\""}',  # 6: escapes: fine
        b'{"\\u0066rom_id": 10, "to_id": 11}',  # 7: escaped once: fine
    ]
    path = write(tmp_path / "pairs.jsonl", b"\n".join(lines) + b"\n")
    items = read_all(path)
    assert [(item.line, item.category) for item in items if isinstance(item, BadRow)] == [
        (1, "DUPLICATE_KEY"),
        (2, "DUPLICATE_KEY"),
        (3, "DUPLICATE_KEY"),
    ]
    assert "'from_id' more than once" in items[0].message  # type: ignore[union-attr]
    assert [(row.from_id, row.to_id) for row in items if isinstance(row, Row)] == [
        ("4", "5"),
        ("6", "7"),
        ("8", "9"),
        ("10", "11"),
    ]


@pytest.mark.parametrize(
    ("header", "options", "column"),
    [
        ("from_id,to_id,from_id", {}, "from_id"),
        ("to_id,from_id, to_id", {}, "to_id"),
        ("a,b,b", {"from_column": "a", "to_column": "b"}, "b"),
        ("from_id,to_id,_line,_line", {}, "_line"),
    ],
)
def test_a_csv_header_naming_a_used_column_twice_is_refused(
    tmp_path: Path, header: str, options: dict[str, str], column: str
) -> None:
    path = write(tmp_path / "pairs.csv", f"{header}\n1,2,3\n".encode())
    with pytest.raises(InputError, match=f"column '{column}' appears 2 times"):
        InputReader(path, **options)  # type: ignore[arg-type]
    # Another column twice is harmless: the ids are where they are.
    write(tmp_path / "ok.csv", b"from_id,to_id,note,note\n1,2,a,b\n")
    assert [row.line for row in read_all(tmp_path / "ok.csv")] == [2]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_long_error_message_is_cut_short_in_the_dead_letter_file(
    tmp_path: Path, suffix: str
) -> None:
    dead_path = tmp_path / f"dead{suffix}"
    header = ["from_id", "to_id"] if suffix == ".csv" else None
    dead = DeadLetter.open(
        dead_path,
        format=suffix[1:],
        input_header=header,
        done=bytearray(4),  # type: ignore[arg-type]
    )
    raw = b"1,2\n" if suffix == ".csv" else b'{"from_id": 1, "to_id": 2}\n'
    dead.write([BadRow(2, "SERVER_ERROR", "x\n" * 100_000, raw)])
    dead.close()
    assert dead_path.stat().st_size < 3000
    text = dead_path.read_text()
    assert "x x x" in text and "(198,000 more characters)" in text

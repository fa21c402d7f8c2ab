"""The backfill's input rules at their edges: lines too long, strict ids, ambiguous inputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hubassoc.backfill import BadRow, DeadLetter, InputReader, Row
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

"""The dead-letter file: every row that was not associated, as given, with why and where.

It has the input's format and columns, so it is valid input for a re-run
(the reader ignores the added columns). Each row gets:

* ``_category``: why, in one word: a bad-row category of the reader
  (``INVALID_ID``, ``BROKEN_CSV_QUOTING``, ...) or HubSpot's error category
  (``OBJECT_NOT_FOUND``, ``SERVER_ERROR``, ...);
* ``_error``: the message (one line, at most :data:`MAX_MESSAGE_CHARS`);
* ``_raw``: the line as read, only where the row could not be kept as fields
  (broken quoting, not UTF-8, not a JSON object, more fields than the header;
  the first bytes of a line too long);
* ``_line``: its line number in the input; last, so that reading the file
  back on resume needs no parsing of the rest of the line.

CSV: the input's header plus those columns (a column the input already has,
as a dead-letter file being re-run does, is reused, not repeated). JSON Lines:
the input's object plus those keys. A CSV file of JSON Lines rows (asked for
by its extension: ``--missing rows.csv``) has the columns the job reads (ids,
and types for pairs), taken from each row's object.

Each batch of dead rows is one ``os.write`` of whole lines, and every row is
one physical line (messages are flattened), so a crash can only tear the
last line; :meth:`DeadLetter.open` cuts a torn last line off. On resume the
line numbers already in the file are marked done, so no row is sent again
and no dead row is written twice.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from hubassoc.backfill._append_file import AppendOnlyFile
from hubassoc.backfill._reader import (
    DEAD_LETTER_COLUMNS,
    INVALID_UTF8,
    LINE_TOO_LONG,
    BadRow,
    Format,
    split_csv_line,
)

__all__ = ["MAX_MESSAGE_CHARS", "DeadLetter", "DeadLetterError", "default_dead_letter_path"]

_CATEGORY, _ERROR, _RAW, _LINE = DEAD_LETTER_COLUMNS
_JSON_LINE_KEY: Final = b'"_line":'
_json_decode = msgspec.json.Decoder().decode
_json_encode = msgspec.json.Encoder().encode
_FLATTEN: Final = str.maketrans({"\r": " ", "\n": " "})
#: The longest ``_error`` written: HubSpot's messages are short, a server's may not be.
MAX_MESSAGE_CHARS: Final = 2000
#: Bad rows whose line is kept only as text: not UTF-8, or only the start of the line.
_RAW_ONLY: Final = frozenset({INVALID_UTF8, LINE_TOO_LONG})


class DeadLetterError(Exception):
    """An existing dead-letter file cannot be used: not this job's, or damaged."""


def default_dead_letter_path(
    input_path: str | os.PathLike[str], *, sandbox: bool = False, name: str = ".dead"
) -> Path:
    """``pairs.csv`` -> ``pairs.dead.csv`` (``pairs.sandbox.dead.csv`` for a sandbox run).

    ``name`` is what goes before the extension: ``.archive.dead``, ``.missing``, ...
    """
    path = Path(input_path)
    infix = ".sandbox" + name if sandbox else name
    return path.with_name(path.stem + infix + path.suffix)


def _message(row: BadRow) -> str:
    """The row's message on one line, cut short if a server sent a novel."""
    message = row.message.translate(_FLATTEN)
    if len(message) > MAX_MESSAGE_CHARS:
        cut = len(message) - MAX_MESSAGE_CHARS
        message = f"{message[:MAX_MESSAGE_CHARS]}... ({cut:,} more characters)"
    return message


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


class DeadLetter(AppendOnlyFile):
    """The dead-letter file of one job: rows read back on resume, rows appended as they fail.

    Use :meth:`open`; the file itself is created by the first :meth:`write`.
    """

    __slots__ = (
        "_columns",
        "_header",
        "_input_width",
        "_json_rows",
        "format",
        "path",
        "previous",
        "written",
        "written_by_category",
    )

    def __init__(
        self,
        path: Path,
        format: Format,
        input_header: Sequence[str] | None,
        *,
        redact: Callable[[bytes], bytes] | None = None,
        json_rows: bool = False,
    ) -> None:
        super().__init__(redact=redact)
        self.path = path
        self.format: Format = format
        #: Whether the rows are JSON objects written as CSV under ``input_header``.
        self._json_rows = json_rows
        self._header: list[str] | None = None
        self._columns: tuple[int, int, int, int] = (-1, -1, -1, -1)
        self._input_width = 0
        if input_header is not None:
            self._input_width = len(input_header)
            header = list(input_header)
            header += [name for name in DEAD_LETTER_COLUMNS if name not in header]
            self._header = header
            category, error, raw, line = (header.index(name) for name in DEAD_LETTER_COLUMNS)
            self._columns = (category, error, raw, line)
        #: Rows the file already held when opened (distinct input lines).
        self.previous = 0
        #: Rows written by this run.
        self.written = 0
        self.written_by_category: Counter[str] = Counter()

    def __repr__(self) -> str:
        return (
            f"<DeadLetter {os.fspath(self.path)!r} previous={self.previous} written={self.written}>"
        )

    @property
    def count(self) -> int:
        """Rows in the file: earlier runs' and this run's."""
        return self.previous + self.written

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        format: Format,
        input_header: Sequence[str] | None,
        done: bytearray,
        redact: Callable[[bytes], bytes] | None = None,
        json_rows: bool = False,
    ) -> DeadLetter:
        """Prepare the dead-letter file at ``path``; if it exists, read it back.

        ``json_rows``: the rows are JSON Lines, written to a CSV file whose
        columns, ``input_header``, are looked up in each row's object.

        Every ``_line`` already in the file is set in ``done`` (the bitmap
        indexed by input line number) and counted; a torn last line is cut off.
        ``redact`` is applied to every row written (see :class:`AppendOnlyFile`).

        Raises:
            DeadLetterError: the file is not a dead-letter file of this input.
            OSError: it cannot be read or repaired.
        """
        dead = cls(Path(path), format, input_header, redact=redact, json_rows=json_rows)
        try:
            f = open(dead.path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return dead
        with f:
            keep = dead._read_back(f, done)
            size = os.fstat(f.fileno()).st_size
        if keep < size:
            # A line torn by a crash: its rows are sent again and rewritten whole.
            with open(dead.path, "r+b") as repair:
                repair.truncate(keep)
                os.fsync(repair.fileno())
        return dead

    def _read_back(self, f: io.BufferedReader, done: bytearray) -> int:
        """Mark the file's lines done; returns the size of its whole lines."""
        name = os.fspath(self.path)
        keep = 0
        header = self._header
        limit = len(done)
        line_of = self._csv_line_number if header is not None else self._json_line_number
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                break  # torn
            keep += len(raw)
            if number == 1 and header is not None:
                fields = split_csv_line(_text(raw).removeprefix("\ufeff"))
                if fields != header:
                    raise DeadLetterError(
                        f"{name!r} is not this job's dead-letter file: its header is "
                        f"{_text(raw)!r}, expected {','.join(header)!r}"
                    )
                continue
            try:
                line = line_of(raw)
                if not 0 < line < limit:
                    raise ValueError(f"line {line} is not in the input")
            except (ValueError, KeyError, msgspec.DecodeError) as exc:
                raise DeadLetterError(
                    f"{name!r} line {number} is damaged ({exc}); move the file away to "
                    "send its rows again"
                ) from None
            if not done[line]:
                done[line] = 1
                self.previous += 1
        return keep

    def _csv_line_number(self, raw: bytes) -> int:
        """The ``_line`` of one CSV row: its last field where we put it, else by parsing."""
        header = self._header
        assert header is not None
        line_index = self._columns[3]
        if line_index == len(header) - 1:
            # Digits never need quoting: the text after the last comma is the number.
            tail = raw.rstrip(b"\r\n").rpartition(b",")[2]
            if tail.isdigit():
                return int(tail)
        fields = split_csv_line(_text(raw))
        if fields is None or len(fields) != len(header):
            raise ValueError("not a row of this file")
        return int(fields[line_index])

    @staticmethod
    def _json_line_number(raw: bytes) -> int:
        """The ``_line`` of one JSON row: its last key where we put it, else by decoding."""
        _, key, tail = raw.rpartition(_JSON_LINE_KEY)
        if key:
            digits = tail.rstrip().removesuffix(b"}")
            if digits.isdigit():
                return int(digits)
        value = _json_decode(raw)
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        line = value[_LINE]
        if type(line) is not int:
            raise ValueError(f"{_LINE} is not an integer")
        return line

    # --- writing -------------------------------------------------------------------------

    def write(self, rows: Sequence[BadRow]) -> None:
        """Append ``rows`` (bad input rows, or rows HubSpot failed) in one write.

        Raises:
            OSError: the file cannot be created or written.
        """
        if not rows:
            return
        if self.format == "csv":
            data = self._csv(rows)
        else:
            data = b"".join([self._json(row) for row in rows])
        if self._fd < 0:
            self._fd = os.open(
                self.path,
                os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0),
                0o644,
            )
            if self._header is not None and os.fstat(self._fd).st_size == 0:
                # Header and first rows in one write: a crash cannot leave a header alone torn.
                data = self._csv_line(self._header) + data
        self._append(data)
        self.written += len(rows)
        for row in rows:
            self.written_by_category[row.category] += 1

    @staticmethod
    def _csv_line(fields: Sequence[str]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(fields)
        return buffer.getvalue().encode()

    def _csv(self, rows: Sequence[BadRow]) -> bytes:
        header = self._header
        assert header is not None
        width, input_width = len(header), self._input_width
        category_index, error_index, raw_index, line_index = self._columns
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        fields_of = self._json_fields if self._json_rows else split_csv_line
        for row in rows:
            text = _text(row.raw)
            # The line as read is kept where its fields cannot be: unparseable, not
            # UTF-8, more fields than the header (they would land under our columns),
            # or only the start of a line too long (a cut field could read as an id).
            fields = None if row.category in _RAW_ONLY else fields_of(text)
            keep_raw = fields is None or len(fields) > input_width
            values = (fields or [])[:input_width]
            values += [""] * (width - len(values))
            values[line_index] = str(row.line)
            values[category_index] = row.category
            values[error_index] = _message(row)
            if keep_raw:
                values[raw_index] = text
            writer.writerow(values)
        return buffer.getvalue().encode()

    def _json_fields(self, text: str) -> list[str] | None:
        """The CSV fields of one JSON object row (``None``: not an object).

        One field more than the columns when the object has other keys, so
        that the line is kept whole in ``_raw`` as for a CSV row too wide.
        """
        try:
            value = _json_decode(text)
        except msgspec.DecodeError:
            return None
        if not isinstance(value, dict):
            return None
        header = self._header
        assert header is not None
        columns = header[: self._input_width]
        fields = ["" if (item := value.get(name)) is None else str(item) for name in columns]
        if not value.keys() <= set(columns):
            fields.append("")  # more than the columns hold: the line is kept whole in _raw
        return fields

    def _json(self, row: BadRow) -> bytes:
        try:
            value: Any = None if row.category in _RAW_ONLY else _json_decode(row.raw)
        except msgspec.DecodeError:
            value = None
        if not isinstance(value, dict):
            value = {_RAW: _text(row.raw)}
        for key in (_CATEGORY, _ERROR, _LINE):
            value.pop(key, None)  # a re-run's: this run's go last, _line at the very end
        value[_CATEGORY] = row.category
        value[_ERROR] = _message(row)
        value[_LINE] = row.line
        return _json_encode(value) + b"\n"

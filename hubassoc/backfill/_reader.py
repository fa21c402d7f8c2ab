"""Reading the input: pairs of record ids from CSV or JSON Lines, one physical line at a time.

The file is streamed, never loaded: :meth:`InputReader.rows` yields a
:class:`Row` (valid, ids canonical) or a :class:`BadRow` (with a category and a
reason) per non-blank line, numbered as a text editor numbers them (the CSV
header is line 1). Line numbers are what the journal and the dead-letter file
record, so a resumed run can skip done lines before even parsing them.

Rules, the same for both formats:

* ids are checked with the client's own :func:`~hubassoc.check_record_id`
  (decimal int64, leading zeros dropped); ASCII spaces and tabs around an id
  are ignored, and nothing else: an id with any other character (a no-break
  space, a Unicode line separator, a control character) is a bad row, never
  trimmed into a valid id;
* blank lines (nothing but spaces and tabs) are not rows: they are skipped
  (and counted);
* a line longer than ``max_line_bytes`` is never held whole: it is read in
  bounded pieces and becomes a ``LINE_TOO_LONG`` bad row that keeps only
  its first :data:`EXCERPT_BYTES` bytes, so one runaway line cannot take the
  job's memory or fill the dead-letter file;
* every other problem is a bad row, never an exception: a missing column, an
  empty or invalid id, broken CSV quoting, text that is not UTF-8, a JSON
  line that does not parse or is not an object.

CSV: comma-separated, ``"`` quoting, a header row. One physical line is one
row: a quoted field may not span lines (ids never contain newlines, and
allowing it would let one stray quote swallow the rest of the file). Columns
are found by name: ``--from-column`` / ``--to-column``, by default ``from_id``
and ``to_id``; when the header has neither default name (and no option was
given) the first two columns are used, in that order (the dead-letter file's
own columns excepted, so that a dead-letter file reads back the same way).
A header that names one of the id columns (or a column of the dead-letter
file) twice is refused: which column holds the ids would be a guess.

JSON Lines: one object per line; ids are strings or integers under the keys
``from_id`` / ``to_id`` (or the ones given). Other keys are ignored. An object
with one of those keys twice is a ``DUPLICATE_KEY`` bad row, not its last value.

Association types, row by row: a CSV column (or JSON key)
``association_type_id``, with an optional ``association_category``
(``USER_DEFINED`` when absent or empty), gives the row its
:class:`~hubassoc.AssociationSpec` (:attr:`Row.spec`). An empty type id means
"no type on this row" (the job's ``--types``, or a default association); a
type id that is not a whole number, or a category HubSpot does not have, is
an ``INVALID_TYPE`` bad row.

Lists of records (``ids_only``, for an export): one id per row, in the column
or key ``id`` (or the one given; a CSV header without it is read by position,
first column); :attr:`Row.to_id` is then empty.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, Literal, NamedTuple

import msgspec

from hubassoc import AssociationSpec, check_record_id

__all__ = [
    "BROKEN_CSV_QUOTING",
    "CATEGORIES",
    "DEAD_LETTER_COLUMNS",
    "DEFAULT_CATEGORY",
    "DEFAULT_CATEGORY_COLUMN",
    "DEFAULT_FROM_COLUMN",
    "DEFAULT_ID_COLUMN",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_TO_COLUMN",
    "DEFAULT_TYPE_COLUMN",
    "DUPLICATE_KEY",
    "EMPTY_ID",
    "EXCERPT_BYTES",
    "FORMATS",
    "INVALID_ID",
    "INVALID_JSON",
    "INVALID_TYPE",
    "INVALID_UTF8",
    "LINE_TOO_LONG",
    "MISSING_COLUMN",
    "NOT_A_JSON_OBJECT",
    "BadRow",
    "Format",
    "InputError",
    "InputReader",
    "Row",
    "count_lines",
    "guess_format",
    "parse_spec",
    "split_csv_line",
]

Format = Literal["csv", "jsonl"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "jsonl")

DEFAULT_FROM_COLUMN: Final = "from_id"
DEFAULT_TO_COLUMN: Final = "to_id"
#: The column (CSV) or key (JSON Lines) of the record ids in a list of records (``ids_only``).
DEFAULT_ID_COLUMN: Final = "id"
#: The column or key of a row's association type id, and of its category.
DEFAULT_TYPE_COLUMN: Final = "association_type_id"
DEFAULT_CATEGORY_COLUMN: Final = "association_category"
#: A row's category when it gives a type id alone: labels are user-defined types.
DEFAULT_CATEGORY: Final = "USER_DEFINED"
#: The association categories HubSpot has.
CATEGORIES: Final = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK")
#: The columns (CSV) or keys (JSON Lines) the dead-letter file adds to a row.
DEAD_LETTER_COLUMNS: Final = ("_category", "_error", "_raw", "_line")
#: Columns never taken for ids by position: the dead-letter file's and the type columns.
_NOT_IDS: Final = (*DEAD_LETTER_COLUMNS, DEFAULT_TYPE_COLUMN, DEFAULT_CATEGORY_COLUMN)

# Categories of bad rows, as the dead-letter file and the summary name them.
MISSING_COLUMN: Final = "MISSING_COLUMN"
EMPTY_ID: Final = "EMPTY_ID"
INVALID_ID: Final = "INVALID_ID"
BROKEN_CSV_QUOTING: Final = "BROKEN_CSV_QUOTING"
INVALID_JSON: Final = "INVALID_JSON"
NOT_A_JSON_OBJECT: Final = "NOT_A_JSON_OBJECT"
INVALID_UTF8: Final = "INVALID_UTF8"
LINE_TOO_LONG: Final = "LINE_TOO_LONG"
DUPLICATE_KEY: Final = "DUPLICATE_KEY"
INVALID_TYPE: Final = "INVALID_TYPE"

#: Longest line read (its ``\\n`` excluded): ids and a few columns fit many times over.
DEFAULT_MAX_LINE_BYTES: Final = 1 << 20
#: What a ``LINE_TOO_LONG`` bad row keeps of its line, to show what it was.
EXCERPT_BYTES: Final = 256

_EXTENSIONS: Final[dict[str, Format]] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_BOM: Final = b"\xef\xbb\xbf"
_READ_BUFFER: Final = 1 << 20
_json_decode = msgspec.json.Decoder().decode
_json_encode = msgspec.json.Encoder().encode
#: What may be trimmed around an id or a header name: ASCII spaces and tabs only.
_SPACE: Final = " \t"


class InputError(ValueError):
    """The input cannot be read as asked: no header, an unknown column, an unknown format.

    A usage error (the command exits 2); a bad *row* is never an exception.
    """


class Row(NamedTuple):
    """A valid input row: its line number, canonical ids, the line as given, its own type.

    ``to_id`` is empty in a list of records (``ids_only``); ``spec`` is the
    association type the row's type columns give, if any.
    """

    line: int
    from_id: str
    to_id: str
    raw: bytes
    spec: AssociationSpec | None = None


class BadRow(NamedTuple):
    """A row that cannot be sent: its line number, why (category, message), the line as given."""

    line: int
    category: str
    message: str
    raw: bytes


def guess_format(path: str | os.PathLike[str]) -> Format:
    """The format an input's extension names (``.csv``; ``.jsonl`` or ``.ndjson``).

    Raises:
        InputError: the extension is none of those.
    """
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        raise InputError(
            f"cannot tell the format of {os.fspath(path)!r} from its extension; "
            "pass --format csv or --format jsonl"
        ) from None


def count_lines(path: str | os.PathLike[str]) -> int:
    """Physical lines in a file (a last line without a newline counts), by a byte scan.

    Raises:
        OSError: the file cannot be read.
    """
    lines = 0
    last = b"\n"
    with open(path, "rb", buffering=0) as f:
        while block := f.read(_READ_BUFFER):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def split_csv_line(text: str) -> list[str] | None:
    """The fields of one CSV line (no line break in it), or ``None`` if its quoting is broken."""
    if '"' not in text:
        return text.split(",")
    try:
        records = list(csv.reader([text], strict=True))
    except csv.Error:
        return None
    if len(records) != 1:
        return None
    return records[0]


def parse_spec(text: str, default_category: str = DEFAULT_CATEGORY) -> AssociationSpec:
    """``"USER_DEFINED:5"``, or ``"5"`` (``default_category``), as an association type.

    Raises:
        ValueError: not a category HubSpot has, or not a type id (a whole number >= 1).
    """
    category, colon, type_id = text.strip(_SPACE).rpartition(":")
    return _spec(type_id, category.strip(_SPACE) if colon else default_category)


def _spec(type_id: object, category: object) -> AssociationSpec:
    """The association type of a row's type id and category values.

    Raises:
        ValueError: either is not valid.
    """
    if isinstance(category, str):
        category = category.strip(_SPACE).upper() or DEFAULT_CATEGORY
    if category not in CATEGORIES:
        raise ValueError(f"association category {category!r} is not one of {', '.join(CATEGORIES)}")
    if isinstance(type_id, str) and type_id.strip(_SPACE).isdigit() and type_id.isascii():
        type_id = int(type_id)
    if type(type_id) is not int or not 0 < type_id < 1 << 31:
        raise ValueError(f"association type id {type_id!r} is not a whole number >= 1")
    assert isinstance(category, str)
    return AssociationSpec(association_category=category, association_type_id=type_id)


def _too_long(raw: bytes, piece: int) -> bool:
    """Whether ``raw``, read with ``readline(piece)``, is only the start of its line."""
    return len(raw) == piece and raw[-1:] != b"\n"


def _id_problem(message: str, value: object) -> str:
    """``message``, plus what stands out in an id that is digits but for a stray character."""
    if type(value) is not str:
        return message
    odd = [c for c in value if not ("0" <= c <= "9")]
    if not odd or not all(c.isspace() or not c.isprintable() for c in odd):
        return message
    names = ", ".join(
        dict.fromkeys(f"U+{ord(c):04X} {unicodedata.name(c, 'control character')}" for c in odd)
    )
    return f"{message} (it holds {names}; only spaces and tabs around an id are ignored)"


class _PairsOf(dict[str, Any]):
    """An object as parsed by :func:`_repeated_key`, remembering its keys in order."""

    __slots__ = ("keys_in_order",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.keys_in_order = [key for key, _ in pairs]


def _repeated_key(raw: bytes, keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` that the top-level object in ``raw`` has twice, if any.

    The exact check behind the reader's quick one: every key decoded (escapes
    such as ``\\u0066rom_id`` included), nested objects apart.
    """
    try:
        value = json.loads(raw, object_pairs_hook=_PairsOf)
    except (ValueError, RecursionError):
        return None  # msgspec parsed it: nothing to add
    if not isinstance(value, _PairsOf):
        return None
    for key in keys:
        if value.keys_in_order.count(key) > 1:
            return key
    return None


def _describe_json(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, float):
        return "a number with a fraction"
    return f"a {type(value).__name__}"


class InputReader:
    """One input file, opened for streaming: the header (CSV), the columns, the rows.

    Args:
        path: the input file.
        format: ``"csv"`` or ``"jsonl"``; by default guessed from the extension.
        from_column, to_column: the columns (CSV) or keys (JSONL) holding the
            ids; by default ``from_id`` / ``to_id`` (see the module docstring
            for the CSV fallback to the first two columns). With ``ids_only``,
            ``from_column`` names the one id column (default ``id``).
        max_line_bytes: the longest line read (its ``\\n`` excluded); longer
            ones are ``LINE_TOO_LONG`` bad rows.
        ids_only: a list of records, one id per row, rather than pairs.

    Raises:
        OSError: the file cannot be opened or read.
        InputError: unknown format, no usable header, a column not in the header.
        ValueError: ``max_line_bytes`` is below 1.
    """

    __slots__ = (
        "_category_index",
        "_file",
        "_from_index",
        "_json_keys",
        "_to_index",
        "_type_index",
        "blank_lines",
        "columns_guessed",
        "first_line",
        "format",
        "from_column",
        "header",
        "ids_only",
        "max_line_bytes",
        "path",
        "to_column",
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        format: Format | None = None,
        *,
        from_column: str | None = None,
        to_column: str | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        ids_only: bool = False,
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be >= 1, not {max_line_bytes!r}")
        self.max_line_bytes = max_line_bytes
        self.ids_only = ids_only
        self.path = Path(path)
        self.format: Format = format if format is not None else guess_format(path)
        if self.format not in FORMATS:
            raise InputError(f"unknown format {self.format!r}; expected csv or jsonl")
        #: Blank lines met so far by :meth:`rows` (not rows: neither sent nor dead-lettered).
        self.blank_lines = 0
        #: Whether the CSV columns were taken by position (no ``from_id``/``to_id`` in the header).
        self.columns_guessed = False
        self.header: list[str] | None = None
        self._from_index = self._to_index = self._type_index = self._category_index = -1
        self._json_keys: tuple[bytes, bytes] = (b"", b"")
        self._file: BinaryIO = open(self.path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115
        try:
            if self.format == "csv":
                self.header = self._read_header()
                if ids_only:
                    self.from_column, self.to_column = self._csv_id_column(from_column), ""
                else:
                    self.from_column, self.to_column = self._csv_columns(from_column, to_column)
                self._type_columns()
                self.first_line = 2
            else:
                self._json_columns(from_column, to_column)
                self.first_line = 1
        except BaseException:
            self._file.close()
            raise

    def __repr__(self) -> str:
        return (
            f"<InputReader {self.format} {os.fspath(self.path)!r} "
            f"from={self.from_column!r} to={self.to_column!r}>"
        )

    def __enter__(self) -> InputReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    @property
    def has_type_column(self) -> bool:
        """Whether the CSV header has an ``association_type_id`` column (JSON Lines: per row)."""
        return self._type_index >= 0

    # --- header and columns -------------------------------------------------------------

    def _read_header(self) -> list[str]:
        raw = self._file.readline(self.max_line_bytes + 1)
        if _too_long(raw, self.max_line_bytes + 1):
            raise InputError(
                f"the header of {os.fspath(self.path)!r} is longer than {self.max_line_bytes:,} "
                "bytes (--max-line-bytes)"
            )
        if not raw.strip():
            raise InputError(f"{os.fspath(self.path)!r} has no CSV header row on line 1")
        try:
            text = raw.removeprefix(_BOM).decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise InputError(f"the header of {os.fspath(self.path)!r} is not UTF-8 text") from None
        fields = split_csv_line(text)
        if fields is None:
            raise InputError(f"the header of {os.fspath(self.path)!r} has broken CSV quoting")
        return [name.strip(_SPACE) for name in fields]

    def _json_columns(self, from_column: str | None, to_column: str | None) -> None:
        """The keys of the ids in JSON Lines.

        Raises:
            InputError: the from and to keys are the same.
        """
        if self.ids_only:
            self.from_column, self.to_column = from_column or DEFAULT_ID_COLUMN, ""
            self._json_keys = (_json_encode(self.from_column), b"")
            return
        self.from_column = from_column or DEFAULT_FROM_COLUMN
        self.to_column = to_column or DEFAULT_TO_COLUMN
        if self.from_column == self.to_column:
            raise InputError(f"the from and to keys are both {self.from_column!r}")
        self._json_keys = (_json_encode(self.from_column), _json_encode(self.to_column))

    def _type_columns(self) -> None:
        """Find the optional type columns of a CSV header (pairs only)."""
        header = self.header
        assert header is not None
        if self.ids_only or DEFAULT_TYPE_COLUMN not in header:
            return
        for name in (DEFAULT_TYPE_COLUMN, DEFAULT_CATEGORY_COLUMN):
            self._refuse_duplicate(name)
        self._type_index = header.index(DEFAULT_TYPE_COLUMN)
        if DEFAULT_CATEGORY_COLUMN in header:
            self._category_index = header.index(DEFAULT_CATEGORY_COLUMN)

    def _csv_id_column(self, column: str | None) -> str:
        """The column of a list of ids: ``column``, ``id``, or the first one.

        Raises:
            InputError: the column is not in the header, or is there twice.
        """
        header = self.header
        assert header is not None
        for name in DEAD_LETTER_COLUMNS:
            self._refuse_duplicate(name)
        if column is None and DEFAULT_ID_COLUMN not in header:
            names = [name for name in header if name not in _NOT_IDS]
            self.columns_guessed = True
            column = names[0] if names else DEFAULT_ID_COLUMN
        column = column or DEFAULT_ID_COLUMN
        if column not in header:
            raise InputError(
                f"column {column!r} is not in the header of {os.fspath(self.path)!r} "
                f"(columns: {', '.join(map(repr, header))}); pass --id-column"
            )
        self._refuse_duplicate(column)
        self._from_index = header.index(column)
        return column

    def _csv_columns(self, from_column: str | None, to_column: str | None) -> tuple[str, str]:
        header = self.header
        assert header is not None
        for name in DEAD_LETTER_COLUMNS:
            self._refuse_duplicate(name)
        if from_column is None and to_column is None:
            has_from = DEFAULT_FROM_COLUMN in header
            has_to = DEFAULT_TO_COLUMN in header
            if not has_from and not has_to:
                names = [name for name in header if name not in _NOT_IDS]
                if len(names) < 2:
                    raise InputError(
                        f"the header of {os.fspath(self.path)!r} has fewer than two columns "
                        f"({', '.join(map(repr, header))}); expected {DEFAULT_FROM_COLUMN!r} "
                        f"and {DEFAULT_TO_COLUMN!r}"
                    )
                self.columns_guessed = True
                from_column, to_column = names[0], names[1]
        from_column = from_column or DEFAULT_FROM_COLUMN
        to_column = to_column or DEFAULT_TO_COLUMN
        if from_column == to_column:
            raise InputError(f"the from and to columns are both {from_column!r}")
        for option, name in (("--from-column", from_column), ("--to-column", to_column)):
            if name not in header:
                raise InputError(
                    f"column {name!r} is not in the header of {os.fspath(self.path)!r} "
                    f"(columns: {', '.join(map(repr, header))}); pass {option}"
                )
        self._refuse_duplicate(from_column)
        self._refuse_duplicate(to_column)
        self._from_index = header.index(from_column)
        self._to_index = header.index(to_column)
        return from_column, to_column

    def _refuse_duplicate(self, name: str) -> None:
        assert self.header is not None
        count = self.header.count(name)
        if count > 1:
            raise InputError(
                f"column {name!r} appears {count} times in the header of "
                f"{os.fspath(self.path)!r}: which one to use is ambiguous; rename the others"
            )

    # --- rows ---------------------------------------------------------------------------

    def rows(self, done: bytearray | None = None) -> Iterator[Row | BadRow]:
        """Yield each non-blank line from here on as a :class:`Row` or a :class:`BadRow`.

        ``done``, if given, is a bitmap indexed by line number: lines whose
        byte is non-zero are skipped without being parsed (a resumed run).
        Reads as it goes; call it once per reader.

        Raises:
            OSError: the file cannot be read.
        """
        parse = self._parse_csv if self.format == "csv" else self._parse_json
        line = self.first_line - 1
        limit = len(done) if done is not None else 0
        # One byte more than allowed: a piece that long without a line break
        # is a line too long, found without ever reading it whole.
        piece = self.max_line_bytes + 1
        for raw in iter(functools.partial(self._file.readline, piece), b""):
            line += 1
            if raw[-1] != 0x0A and len(raw) == piece:
                yield from self._skip_long_line(line, raw, done)
                continue
            if line < limit and done is not None and done[line]:
                continue
            row = parse(line, raw)
            if row is None:
                self.blank_lines += 1
            else:
                yield row

    def _skip_long_line(self, line: int, start: bytes, done: bytearray | None) -> Iterator[BadRow]:
        """Skip the rest of a line too long, in bounded pieces; a bad row unless it is done."""
        size = len(start)
        readline = self._file.readline
        while piece := readline(_READ_BUFFER):
            size += len(piece)
            if piece.endswith(b"\n"):
                size -= 1
                break
        if done is not None and line < len(done) and done[line]:
            return
        excerpt = start[:EXCERPT_BYTES]
        yield BadRow(
            line,
            LINE_TOO_LONG,
            f"the line is {size:,} bytes long, more than the {self.max_line_bytes:,} allowed "
            f"(--max-line-bytes); only its first {len(excerpt)} bytes are kept here",
            excerpt,
        )

    def _parse_csv(self, line: int, raw: bytes) -> Row | BadRow | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return BadRow(
                line,
                INVALID_UTF8,
                f"the line is not UTF-8 text ({exc.reason} at byte {exc.start})",
                raw,
            )
        text = text.rstrip("\r\n")
        if not text.strip(_SPACE):
            return None
        fields = split_csv_line(text)
        if fields is None:
            return BadRow(
                line,
                BROKEN_CSV_QUOTING,
                "broken CSV quoting (an unclosed quote, or text after a closing quote)",
                raw,
            )
        indexes = (self._from_index, self._to_index) if not self.ids_only else (self._from_index,)
        if len(fields) <= max(indexes):
            index = next(i for i in indexes if len(fields) <= i)
            missing = self.from_column if index == self._from_index else self.to_column
            return BadRow(
                line,
                MISSING_COLUMN,
                f"the row has {len(fields)} field(s); column {missing!r} is field {index + 1}",
                raw,
            )
        ids = [fields[index] for index in indexes]
        type_index, category_index = self._type_index, self._category_index
        type_id = fields[type_index] if 0 <= type_index < len(fields) else ""
        category = fields[category_index] if 0 <= category_index < len(fields) else ""
        return self._row(line, ids, raw, type_id, category)

    def _parse_json(self, line: int, raw: bytes) -> Row | BadRow | None:
        raw_json = raw.removeprefix(_BOM) if line == 1 else raw
        if not raw_json.strip(b" \t\r\n"):
            return None
        try:
            value = _json_decode(raw_json)
        except msgspec.DecodeError as exc:
            return BadRow(line, INVALID_JSON, f"invalid JSON: {exc}", raw)
        if type(value) is not dict:
            return BadRow(
                line,
                NOT_A_JSON_OBJECT,
                f"expected a JSON object, got {_describe_json(value)}",
                raw,
            )
        keys = (self.from_column, self.to_column) if not self.ids_only else (self.from_column,)
        for key in keys:
            if key not in value:
                return BadRow(line, MISSING_COLUMN, f"the object has no key {key!r}", raw)
        # Each key once, spelled plainly, and no escapes anywhere: unambiguous (the
        # common case, three byte scans). Otherwise an exact parse settles it.
        plain = all(raw_json.count(key) == 1 for key in self._json_keys if key)
        if not plain or b"\\" in raw_json:
            repeated = _repeated_key(raw_json, keys)
            if repeated is not None:
                return BadRow(
                    line,
                    DUPLICATE_KEY,
                    f"the object has the key {repeated!r} more than once: "
                    "which value to use is ambiguous",
                    raw,
                )
        for key in keys:
            item = value[key]
            if item is None:
                return BadRow(line, EMPTY_ID, f"{key} is null", raw)
            if not isinstance(item, str) and (type(item) is not int):
                return BadRow(
                    line,
                    INVALID_ID,
                    f"{key} must be a string or an integer record id, not {_describe_json(item)}",
                    raw,
                )
        type_id = value.get(DEFAULT_TYPE_COLUMN) if not self.ids_only else None
        category = value.get(DEFAULT_CATEGORY_COLUMN)
        return self._row(line, [value[key] for key in keys], raw, type_id, category)

    def _row(
        self, line: int, values: list[Any], raw: bytes, type_id: object, category: object
    ) -> Row | BadRow:
        """Check the ids with the client's rules, then the type; the first problem is a bad row."""
        if not type_id and len(values) == 2:
            # The common row: two canonical decimal ids and no type (the same test as
            # check_record_id's own fast path, done once here for both ids).
            from_id, to_id = values
            if (
                type(from_id) is str
                and type(to_id) is str
                and 0 < len(from_id) < 19
                and 0 < len(to_id) < 19
                and from_id.isdigit()
                and to_id.isdigit()
                and from_id.isascii()
                and to_id.isascii()
                and (from_id[0] != "0" or len(from_id) == 1)
                and (to_id[0] != "0" or len(to_id) == 1)
            ):
                return Row(line, from_id, to_id, raw, None)
        ids: list[str] = []
        for name, value in zip((self.from_column, self.to_column), values, strict=False):
            if type(value) is str:
                value = value.strip(_SPACE)
                if not value:
                    return BadRow(line, EMPTY_ID, f"{name} is empty", raw)
            try:
                ids.append(check_record_id(value, name))
            except (TypeError, ValueError) as exc:
                return BadRow(line, INVALID_ID, _id_problem(str(exc), value), raw)
        spec = None
        if type_id is not None and type_id != "":
            try:
                spec = _spec(type_id, category if category is not None else "")
            except ValueError as exc:
                return BadRow(line, INVALID_TYPE, str(exc), raw)
        return Row(line, ids[0], ids[1] if len(ids) > 1 else "", raw, spec)

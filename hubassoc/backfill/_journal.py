"""The journal: an append-only, crash-safe record of the input lines already associated.

Format (text, one record per line)::

    {"journal": "hubassoc-backfill", "version": 1, "job": {...}, "created_at": "..."}
    A 2-101
    A 102-150,152-201
    ...

A job that writes an output file (an export) adds to each record the size
the output had once that chunk's lines were written to it (``A 2-101
@48213``): output and journal are appended in that order, so on resume the
output is cut back to the last journalled size and whatever a kill left
beyond it (lines of chunks never journalled) is written again, once.

The first line identifies the job (:class:`JobIdentity`: the input's path,
size and a hash of its first 64 KiB, the object types, the format and the
columns, the dead-letter path, sandbox or not); a journal of another job is
refused (:class:`JournalMismatchError`). Every later line is one completed
chunk: ``A`` and the input line numbers that were associated, as ranges.

Why it is safe:

* the header is written to a temporary file, fsynced and renamed into place,
  so a journal either has a whole header or does not exist;
* each record is one ``os.write`` of a whole line on an ``O_APPEND`` file
  descriptor, so a SIGKILL keeps every record written before it (the page
  cache survives the process); :meth:`Journal.sync` (fsync) runs
  periodically and at exit against power loss;
* a last line without its newline (a write torn by a crash) is ignored and
  cut off when the journal is opened again, so its lines are simply sent again.

Only associated lines are journalled: failed and bad rows live in the
dead-letter file, which the runner reads back on resume. The two files never
describe the same line, so no crash between their writes can make them disagree.

Loading is a bytes scan into a ``bytearray`` bitmap indexed by line number,
so resuming a million-row job takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from hubassoc.backfill._append_file import AppendOnlyFile, write_all

__all__ = [
    "JobIdentity",
    "Journal",
    "JournalError",
    "JournalMismatchError",
    "encode_ranges",
]

_MAGIC: Final = "hubassoc-backfill"
_VERSION: Final = 1
_HEAD_BYTES: Final = 64 * 1024
_RECORD: Final = b"A "
_OUTPUT_SIZE: Final = b" @"


class JournalError(Exception):
    """The journal cannot be used: unreadable, not a journal, or damaged beyond its last line."""


class JournalMismatchError(JournalError):
    """The journal belongs to a different job (another input, types, columns or target).

    Attributes:
        differences: what differs, as ``name: journal value -> this run's value`` texts.
    """

    def __init__(self, message: str, *, differences: Sequence[str]) -> None:
        super().__init__(message)
        self.differences = list(differences)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobIdentity:
    """What makes two runs the same job; stored in the journal's header.

    The batch size, concurrency, rate limit and API version are not part of
    it: a resumed run may change them. ``operation``, ``types`` and ``output``
    tell the jobs on one file apart (a load, a removal, a verification, an
    export); their defaults are a default-association backfill's, so the
    journals of earlier versions still resume.
    """

    input: str  #: the input's absolute path
    size: int  #: the input's size in bytes
    head_sha256: str  #: SHA-256 of the input's first 64 KiB
    from_type: str
    to_type: str
    format: str
    from_column: str
    to_column: str
    dead_letter: str  #: the dead-letter file's absolute path
    sandbox: bool  #: whether the run goes to the built-in sandbox
    operation: str = "associate"  #: what the job does to each row
    types: str = ""  #: the job's association types (``--types``), as text
    output: str = ""  #: the output file's absolute path (an export)

    @classmethod
    def of(
        cls,
        input_path: str | os.PathLike[str],
        *,
        from_type: str,
        to_type: str,
        format: str,
        from_column: str,
        to_column: str,
        dead_letter: str | os.PathLike[str],
        sandbox: bool,
        operation: str = "associate",
        types: str = "",
        output: str | os.PathLike[str] | None = None,
    ) -> JobIdentity:
        """The identity of a job on ``input_path`` (reads its size and first 64 KiB).

        Raises:
            OSError: the input cannot be read.
        """
        path = Path(input_path).resolve()
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = hashlib.sha256(f.read(_HEAD_BYTES)).hexdigest()
        return cls(
            input=str(path),
            size=size,
            head_sha256=head,
            from_type=from_type,
            to_type=to_type,
            format=format,
            from_column=from_column,
            to_column=to_column,
            dead_letter=str(Path(dead_letter).resolve()),
            sandbox=sandbox,
            operation=operation,
            types=types,
            output=str(Path(output).resolve()) if output is not None else "",
        )

    def as_dict(self) -> dict[str, Any]:
        """The identity as JSON-ready builtins."""
        return dataclasses.asdict(self)

    def differences(self, other: JobIdentity) -> list[str]:
        """What differs from ``other``, as ``name: self's value -> other's value`` texts."""
        return [
            f"{field.name}: {getattr(self, field.name)!r} -> {getattr(other, field.name)!r}"
            for field in dataclasses.fields(self)
            if getattr(self, field.name) != getattr(other, field.name)
        ]


def encode_ranges(lines: Sequence[int]) -> bytes:
    """``[2, 3, 4, 7, 9, 10]`` as ``b"2-4,7,9-10"`` (``lines`` sorted ascending)."""
    parts: list[str] = []
    start = prev = lines[0]
    for number in lines[1:]:
        if number == prev + 1:
            prev = number
            continue
        parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = number
    parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts).encode()


class Journal(AppendOnlyFile):
    """An open journal: the bitmap of lines done, and the file new records go to.

    Use :meth:`open`; close with :meth:`close` (which fsyncs).
    """

    __slots__ = ("created", "done", "identity", "output_size", "path", "previously_done")

    def __init__(
        self,
        path: Path,
        fd: int,
        identity: JobIdentity,
        done: bytearray,
        *,
        created: bool,
        output_size: int = 0,
        redact: Callable[[bytes], bytes] | None = None,
    ) -> None:
        super().__init__(fd, redact=redact)
        self.path = path
        self.identity = identity
        #: One byte per input line number (index 0 unused): non-zero once the line is done.
        self.done = done
        #: Whether :meth:`open` created the journal (a new job) rather than resuming one.
        self.created = created
        #: Lines the journal already recorded as associated when it was opened.
        self.previously_done = done.count(1)
        #: The output's size at the last record (a job with an output file; else 0).
        self.output_size = output_size

    def __repr__(self) -> str:
        state = "closed" if self._fd < 0 else "open"
        return f"<Journal {state} {os.fspath(self.path)!r} previously_done={self.previously_done}>"

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        identity: JobIdentity,
        *,
        lines: int,
        redact: Callable[[bytes], bytes] | None = None,
    ) -> Journal:
        """Open the journal at ``path`` for ``identity``, creating it if absent.

        ``lines`` is the number of physical lines of the input (the bitmap's size);
        ``redact`` is applied to everything written (see :class:`AppendOnlyFile`).

        Raises:
            JournalMismatchError: the journal belongs to another job.
            JournalError: the file is not a journal, or is damaged.
            OSError: it cannot be read, created or written.
        """
        path = Path(path)
        done = bytearray(lines + 1)
        flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
            created = False
        except FileNotFoundError:
            cls._create(path, identity, redact)
            fd = os.open(path, flags)
            created = True
        output_size = 0
        try:
            _lock(fd, path)
            if not created:
                with open(path, "rb") as f:
                    data = f.read()
                output_size = cls._load(path, fd, data, identity, done)
        except BaseException:
            os.close(fd)
            raise
        return cls(
            path, fd, identity, done, created=created, output_size=output_size, redact=redact
        )

    @staticmethod
    def _create(path: Path, identity: JobIdentity, redact: Callable[[bytes], bytes] | None) -> None:
        header = {
            "journal": _MAGIC,
            "version": _VERSION,
            "job": identity.as_dict(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        data = (json.dumps(header, sort_keys=True) + "\n").encode()
        if redact is not None:
            data = redact(data)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        # Rename into place so that a journal on disk always has its whole header.
        os.replace(temporary, path)
        _fsync_directory(path.parent)

    @staticmethod
    def _load(path: Path, fd: int, data: bytes, identity: JobIdentity, done: bytearray) -> int:
        """Check the header, cut a torn last record, mark the records' lines in ``done``.

        Returns the output size of the last record (0 without any).

        Raises:
            JournalError: not a journal of this job, or a damaged record.
        """
        name = os.fspath(path)
        header_end = data.find(b"\n")
        try:
            header = json.loads(data[:header_end]) if header_end >= 0 else None
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("journal") != _MAGIC:
            raise JournalError(f"{name!r} is not a hubassoc backfill journal")
        if header.get("version") != _VERSION:
            raise JournalError(
                f"{name!r} is a journal of version {header.get('version')!r}; "
                f"this hubassoc reads version {_VERSION}"
            )
        try:
            theirs = JobIdentity(**header["job"])
        except (KeyError, TypeError) as exc:
            raise JournalError(f"{name!r} has a damaged header: {exc}") from None
        differences = theirs.differences(identity)
        if differences:
            raise JournalMismatchError(
                f"the journal {name!r} belongs to a different job (" + "; ".join(differences) + ")",
                differences=differences,
            )
        body_end = data.rfind(b"\n") + 1
        if body_end < len(data):
            # A record torn by a crash: its lines were never journalled; cut it off
            # so that the next record starts on a line of its own.
            os.ftruncate(fd, body_end)
            os.fsync(fd)
        limit = len(done)
        ones = b"\x01" * 4096
        output_size = 0
        for number, record in enumerate(data[header_end + 1 : body_end].split(b"\n"), start=2):
            if not record:
                continue
            if not record.startswith(_RECORD):
                raise JournalError(f"{name!r} line {number}: not a journal record: {record[:80]!r}")
            try:
                ranges, at, size = record[2:].partition(_OUTPUT_SIZE)
                if at:
                    output_size = int(size)
                for part in ranges.split(b","):
                    first, dash, last = part.partition(b"-")
                    start = int(first)
                    end = int(last) if dash else start
                    if not 0 < start <= end < limit:
                        raise ValueError(f"line {start}-{end} is not in the input")
                    count = end - start + 1
                    while count > len(ones):
                        ones += ones
                    done[start : end + 1] = ones[:count]
            except ValueError as exc:
                raise JournalError(f"{name!r} line {number}: damaged record: {exc}") from None
        return output_size

    def record(self, lines: Sequence[int], *, output_size: int | None = None) -> None:
        """Append one record: ``lines`` (sorted ascending) are done.

        ``output_size``: the output file's size once their output was written
        (a job with an output file).

        Raises:
            OSError: the write failed (a full disk, say).
        """
        if not lines:
            return
        tail = b"" if output_size is None else _OUTPUT_SIZE + str(output_size).encode()
        self._append(_RECORD + encode_ranges(lines) + tail + b"\n")
        if output_size is not None:
            self.output_size = output_size


def _lock(fd: int, path: Path) -> None:
    """Hold an exclusive lock on the journal for as long as ``fd`` is open.

    Two runs of one job at once would send everything twice and interleave
    their records; the second is refused instead.

    Raises:
        JournalError: another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # not on Windows: no lock there
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalError(
            f"another hubassoc backfill is running this job (the journal {os.fspath(path)!r} "
            "is locked)"
        ) from None


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""An export's output file: appended chunk by chunk, cut back to the journal on resume.

Each chunk's lines are one ``os.write`` (an
:class:`~hubassoc.backfill._append_file.AppendOnlyFile`), and only then is
the chunk journalled, with the size the output has from then on. A kill
between the two leaves lines no record vouches for: :meth:`OutputFile.open`
cuts the file back to the last journalled size, and the resumed run reads
those records again. So a killed export, run again, ends with every line
exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hubassoc.backfill._append_file import AppendOnlyFile

__all__ = ["OutputError", "OutputFile"]


class OutputError(Exception):
    """The output file cannot be used: left from another run, or changed since the journal."""


class OutputFile(AppendOnlyFile):
    """An open output: its path and size; :meth:`write` appends. Use :meth:`open`."""

    __slots__ = ("path", "size")

    def __init__(
        self, fd: int, path: Path, size: int, *, redact: Callable[[bytes], bytes] | None = None
    ) -> None:
        super().__init__(fd, redact=redact)
        self.path = path
        #: The file's size: what was journalled, plus what this run wrote.
        self.size = size

    def __repr__(self) -> str:
        return f"<OutputFile {os.fspath(self.path)!r} size={self.size}>"

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        size: int,
        created: bool,
        header: bytes,
        redact: Callable[[bytes], bytes] | None = None,
    ) -> OutputFile:
        """Open the output at ``path``, cut back to ``size`` (the journal's), header written.

        ``created``: whether the journal was just created (a new job, whose
        output must not hold anything yet).

        Raises:
            OutputError: the output holds lines of another run, or fewer than
                the journal says (it was changed or replaced).
            OSError: it cannot be opened, cut or written.
        """
        path = Path(path)
        name = os.fspath(path)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags, 0o644)
        try:
            actual = os.fstat(fd).st_size
            if created and actual:
                raise OutputError(
                    f"the output {name!r} exists but its journal does not: it is left from "
                    "an earlier export. Move it away (or pass another --out) and run again"
                )
            if actual < size:
                raise OutputError(
                    f"the output {name!r} has {actual:,} bytes, fewer than the {size:,} its "
                    "journal records: it was changed. Delete both to start over"
                )
            if actual > size:
                # Lines of chunks a kill left unjournalled: they are read and written again.
                os.ftruncate(fd, size)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        output = cls(fd, path, size, redact=redact)
        if size == 0 and header:
            output.write(header)
        return output

    def write(self, data: bytes) -> int:
        """Append ``data`` in one write; returns the file's size after it.

        Raises:
            OSError: the write failed (a full disk, say).
        """
        if data:
            self.size += self._append(data)
        return self.size

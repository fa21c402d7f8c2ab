"""An append-only file written straight to the kernel, for records that must survive a kill.

The journal, the dead-letter file and an export's output all append with ``os.write`` (no
user-space buffer), so a SIGKILL loses nothing already written, and fsync
on demand (every second and at exit) for what the machine itself might lose.
Every byte appended passes the file's ``redact`` function first, the one
point where the backfill's durable files are kept free of secrets.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["AppendOnlyFile", "write_all"]


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class AppendOnlyFile:
    """Base of the backfill's durable files: a descriptor, appends, fsync, close."""

    __slots__ = ("_dirty", "_fd", "_redact")

    def __init__(self, fd: int = -1, *, redact: Callable[[bytes], bytes] | None = None) -> None:
        self._fd = fd  # -1: not open (yet, or any more)
        self._dirty = False
        self._redact = redact

    def _append(self, data: bytes) -> int:
        """Append ``data`` in one go; returns the bytes written (``data`` redacted).

        Raises:
            OSError: the write failed (a full disk, say).
        """
        if self._redact is not None:
            data = self._redact(data)
        write_all(self._fd, data)
        self._dirty = True
        return len(data)

    def sync(self) -> None:
        """Flush what was appended to disk (fsync), if anything was since the last sync."""
        if self._dirty and self._fd >= 0:
            self._dirty = False
            os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close. Calling it again does nothing."""
        if self._fd < 0:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = -1

"""Keeping secrets out of everything the backfill writes.

The client redacts its own errors, but a server may echo what it was sent
(the ``Authorization`` header, a token form) into any field of an answer, and
the backfill copies HubSpot's messages into files meant to be shared: the
dead-letter file above all. So every text the backfill writes passes one
:class:`Redactor`, fed with the secrets in use (the access token, an OAuth
app's client secret and refresh token, each access token refreshed from it,
a Redis password):

* the journal and the dead-letter file, at their single append point
  (:class:`~hubassoc.backfill._append_file.AppendOnlyFile`);
* stdout and stderr (summary, advice, progress, log lines), through
  :class:`RedactingStream`;
* the summary JSON file.

Besides the known secrets, whatever follows ``Bearer`` is taken out too,
so that a token the backfill was never told about does not leak either.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Final, TextIO
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "RedactingStream", "Redactor"]

REDACTED: Final = "[redacted]"
_BEARER: Final = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;\\]+")
_BEARER_BYTES: Final = re.compile(rb"(?i)\b(bearer\s+)[^\s\"',;\\]+")


class Redactor:
    """Replaces each known secret (and any bearer token) with ``[redacted]``.

    Args:
        secrets: the secrets in use; ``None`` and empty ones are ignored.
            More can be added as they appear (:meth:`add`).
    """

    __slots__ = ("_bytes", "_texts")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._texts: list[str] = []
        self._bytes: list[bytes] = []
        self.add(*secrets)

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._texts)} secret forms>"

    def add(self, *secrets: str | None) -> None:
        """Take ``secrets`` out of every later text too (as given and URL-encoded)."""
        forms = set(self._texts)
        for secret in secrets:
            if secret:
                forms.update((secret, quote(secret, safe=""), quote_plus(secret, safe="")))
        # Longest first: a secret that contains another goes out whole.
        self._texts = sorted(forms, key=len, reverse=True)
        self._bytes = [form.encode() for form in self._texts]

    def text(self, text: str) -> str:
        """``text`` without any secret."""
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(rf"\1{REDACTED}", text)
        return text

    def data(self, data: bytes) -> bytes:
        """UTF-8 (or ASCII-compatible) ``data`` without any secret."""
        for secret in self._bytes:
            if secret in data:
                data = data.replace(secret, REDACTED.encode())
        if b"earer" in data or b"EARER" in data:
            data = _BEARER_BYTES.sub(rb"\1" + REDACTED.encode(), data)
        return data


class RedactingStream(io.TextIOBase):
    """A text stream that writes to ``stream`` what it is given, less the secrets.

    Each write is redacted on its own: callers write whole lines (a secret
    split across two writes would pass), which ``print`` and the progress
    display do.
    """

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        super().__init__()
        self._stream = stream
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redactor.text(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

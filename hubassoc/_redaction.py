"""Keeping secrets out of errors: one place that knows them and scrubs what servers send.

A server can echo the ``Authorization`` header (or the form it was posted)
into any field of any answer: every error built from an answer passes
:meth:`Redactor.scrub`, which replaces each known secret, as given or
percent-encoded, in every string of every field with ``[redacted]``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

from hubassoc._errors import HubSpotError

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[redacted]"
# Secrets shorter than this are not redacted (they would mangle ordinary text)
# and cannot be real tokens anyway.
_MIN_SECRET = 8
# Tokens rotate (OAuth): the last few are remembered, the oldest forgotten.
_MAX_ROTATING = 16

E = TypeVar("E", bound=HubSpotError)


class Redactor:
    """Holds the secrets in use and scrubs them out of text and errors.

    A secret added with ``keep=True`` (a client secret) is never forgotten;
    the others (access and refresh tokens, which rotate) are, oldest first,
    once more than sixteen are held.

    Args:
        secrets: secrets to keep from the start.
    """

    __slots__ = ("_kept", "_rotating", "_texts")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._kept: list[str] = []
        self._rotating: deque[str] = deque(maxlen=_MAX_ROTATING)
        self._texts: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret, keep=True)

    def __repr__(self) -> str:
        return f"<Redactor secrets={len(self._kept) + len(self._rotating)}>"

    def add(self, secret: str, *, keep: bool = False) -> None:
        """Remember ``secret``; one added with ``keep`` is never forgotten."""
        if len(secret) < _MIN_SECRET or secret in self._kept or secret in self._rotating:
            return
        (self._kept if keep else self._rotating).append(secret)
        # Each as given and as a form or a URL would carry it.
        held = (*self._kept, *self._rotating)
        forms = {*held, *map(quote_plus, held), *(quote(s, safe="") for s in held)}
        # Longest first, so a secret that contains another is replaced whole.
        self._texts = tuple(sorted(forms, key=len, reverse=True))

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by ``[redacted]``."""
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def mentioned_in(self, text: str) -> bool:
        """Whether ``text`` holds a secret (a label that does is dropped, not cut)."""
        return any(secret in text for secret in self._texts)

    def value(self, value: Any) -> Any:
        """``value`` with secrets scrubbed from every string in it (mappings and lists too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value

    def scrub(self, error: E) -> E:
        """Scrub every field of ``error`` in place (nested request errors too); return it."""
        if not self._texts:
            return error
        for name, value in list(vars(error).items()):
            if isinstance(value, HubSpotError):
                self.scrub(value)
            elif isinstance(value, str | Mapping | list | tuple):
                setattr(error, name, self.value(value))
        error.args = tuple(self.value(arg) for arg in error.args)
        return error

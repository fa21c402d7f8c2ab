"""Keeping secrets out of errors: one place that knows them and scrubs what servers send.

A hostile or careless server can echo the ``Authorization`` header into any
field of any answer. Every error built from an answer (whole-call or per
input) passes through :meth:`Redactor.scrub` before anyone sees it, which
replaces each known secret, in every string of every field (nested mappings
and lists included), with ``[redacted]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from hubassoc._errors import HubSpotError

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[redacted]"
# Secrets shorter than this are not redacted (they would mangle ordinary text)
# and cannot be real tokens anyway.
_MIN_SECRET = 8
# Tokens rotate (OAuth): the last few are remembered, the oldest forgotten.
_MAX_SECRETS = 16

E = TypeVar("E", bound=HubSpotError)


class Redactor:
    """Holds the secrets in use and scrubs them out of text and errors."""

    __slots__ = ("_secrets", "_secrets_bytes")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._secrets_bytes: list[bytes] = []
        for secret in secrets:
            self.add(secret)

    def __repr__(self) -> str:
        return f"<Redactor secrets={len(self._secrets)}>"

    def add(self, secret: str) -> None:
        """Remember ``secret`` (an access token, a client secret, a refresh token)."""
        if len(secret) < _MIN_SECRET or secret in self._secrets:
            return
        self._secrets.append(secret)
        self._secrets_bytes.append(secret.encode("utf-8", "replace"))
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets.sort(key=len, reverse=True)
        self._secrets_bytes.sort(key=len, reverse=True)
        if len(self._secrets) > _MAX_SECRETS:
            self._secrets.pop()
            self._secrets_bytes.pop()

    def mentioned_in(self, payload: bytes) -> bool:
        """Whether ``payload`` may carry a secret (literally, or JSON-escaped)."""
        if b"\\u" in payload:
            return True  # an escaped secret cannot be found by a byte search
        return any(secret in payload for secret in self._secrets_bytes)

    def text(self, text: str) -> str:
        """``text`` with every secret replaced by ``[redacted]``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

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
        if not self._secrets:
            return error
        for name, value in list(vars(error).items()):
            if isinstance(value, HubSpotError):
                self.scrub(value)
            elif isinstance(value, str | Mapping | list | tuple):
                setattr(error, name, self.value(value))
        error.args = tuple(self.value(arg) for arg in error.args)
        return error

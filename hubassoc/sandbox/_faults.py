"""Injected failures: a script of exact answers, and faults at random rates.

A script is a FIFO queue consumed one entry per API request, before anything
else is looked at, so a test can ask for "exactly two 503s, then the real
answer". Random faults are drawn per admitted request from a seeded
`random.Random`. A faulted request is never processed: it stores nothing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ._config import FAULT_KINDS

__all__ = ["PASS", "Fault", "FaultPlan", "ScriptEntry"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected answer instead of the real one.

    ``status`` is the HTTP status (body: HubSpot's JSON error shape; 502 is an
    HTML gateway page; 429 carries the rate-limit body with ``policy``). With
    ``reset=True`` the connection is dropped without any answer. ``retry_after``
    adds a ``Retry-After`` header (seconds). ``body``/``content_type`` replace
    the canned body. ``pass_through`` consumes a script slot and lets the
    request be served normally.
    """

    status: int = 503
    reset: bool = False
    policy: str | None = None
    retry_after: float | None = None
    body: bytes | None = None
    content_type: str = "application/json"
    message: str | None = None
    pass_through: bool = False

    @classmethod
    def connection_reset(cls) -> Fault:
        """Drop the connection without an answer."""
        return cls(status=0, reset=True)

    @classmethod
    def of(cls, kind: str) -> Fault:
        """The canned fault of a `FaultKind` (``"503"``, ``"reset"``, ...)."""
        if kind == "reset":
            return cls.connection_reset()
        status = int(kind)
        if status == 429:
            return cls(status=429, policy="TEN_SECONDLY_ROLLING")
        if status == 477:
            return cls(status=477, retry_after=1.0)
        return cls(status=status)

    @classmethod
    def coerce(cls, entry: ScriptEntry) -> Fault:
        """Turn a script entry into a `Fault`.

        Accepted: a `Fault`; an int status (``503``); ``"reset"``; ``None`` or
        ``"pass"`` (serve normally); ``(429, "DAILY")`` (a policy name for 429);
        ``(477, 2.5)`` (a Retry-After in seconds); ``(status, None)``; or a dict
        with the field names of this class (as sent over HTTP). Raises
        `ValueError` for anything else.
        """
        if isinstance(entry, Fault):
            return entry
        if entry is None or entry == "pass":
            return cls(status=0, pass_through=True)
        if entry == "reset":
            return cls.connection_reset()
        if isinstance(entry, bool):
            raise ValueError(f"not a script entry: {entry!r}")
        if isinstance(entry, int):
            return cls._status(entry)
        if isinstance(entry, str) and entry.isdigit():
            return cls._status(int(entry))
        if isinstance(entry, tuple | list) and len(entry) == 2:
            status, detail = entry
            fault = cls.coerce(status)
            if detail is None:
                return fault
            if isinstance(detail, str):
                return cls(status=fault.status, policy=detail)
            if isinstance(detail, int | float) and not isinstance(detail, bool):
                return cls(status=fault.status, retry_after=float(detail), policy=fault.policy)
            raise ValueError(f"not a script entry detail: {detail!r}")
        if isinstance(entry, Mapping):
            fields = dict(entry)
            if isinstance(fields.get("body"), str):
                fields["body"] = fields["body"].encode()
            try:
                fault = cls(**fields)
            except TypeError as exc:
                raise ValueError(f"not a script entry: {exc}") from None
            if fault.status == 429 and fault.policy is None:
                fault = cls(**{**fields, "policy": "TEN_SECONDLY_ROLLING"})
            return fault
        raise ValueError(f"not a script entry: {entry!r}")

    @classmethod
    def _status(cls, status: int) -> Fault:
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        if status == 429:
            return cls(status=429, policy="TEN_SECONDLY_ROLLING")
        return cls(status=status)


ScriptEntry: TypeAlias = (
    Fault | int | str | tuple[int, str | float | None] | list[Any] | Mapping[str, Any] | None
)
"""What `Sandbox.script` accepts per entry; see `Fault.coerce`."""

PASS = Fault(status=0, pass_through=True)
"""A script entry that lets one request through untouched."""


class FaultPlan:
    """The script queue and the random fault draw."""

    __slots__ = ("_kinds", "_random", "_script", "_total_rate")

    def __init__(self, rates: Mapping[str, float], rng: random.Random) -> None:
        self._script: deque[Fault] = deque()
        self._random = rng
        self._kinds: list[tuple[float, Fault]] = []
        self._total_rate = 0.0
        self.set_rates(rates)

    def __repr__(self) -> str:
        return f"<FaultPlan scripted={len(self._script)} random_rate={self._total_rate:g}>"

    def set_rates(self, rates: Mapping[str, float]) -> None:
        """Replace the random fault rates (``{kind: probability}``)."""
        cumulative = 0.0
        kinds: list[tuple[float, Fault]] = []
        for kind in FAULT_KINDS:
            rate = rates.get(kind, 0.0)
            if rate > 0:
                cumulative += rate
                kinds.append((cumulative, Fault.of(kind)))
        self._kinds = kinds
        self._total_rate = cumulative

    def set_random(self, rng: random.Random) -> None:
        """Use a new random source (after a seed change)."""
        self._random = rng

    def extend(self, entries: Iterable[ScriptEntry]) -> int:
        """Queue script entries; returns how many are now pending."""
        faults = [Fault.coerce(entry) for entry in entries]
        self._script.extend(faults)
        return len(self._script)

    @property
    def pending(self) -> int:
        """Script entries not yet consumed."""
        return len(self._script)

    def clear(self) -> None:
        """Drop every pending script entry."""
        self._script.clear()

    def next_scripted(self) -> Fault | None:
        """Consume the next script entry, if any."""
        return self._script.popleft() if self._script else None

    def draw(self) -> Fault | None:
        """A random fault at the configured rates, or ``None``."""
        if not self._kinds:
            return None
        roll = self._random.random()
        if roll >= self._total_rate:
            return None
        for threshold, fault in self._kinds:
            if roll < threshold:
                return fault
        return None

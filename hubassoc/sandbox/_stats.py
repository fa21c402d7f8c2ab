"""What the sandbox counts: live `Counters`, and the `SandboxStats` snapshot it reports.

`Counters` is plain mutable state bumped on the hot path (one attribute add per
event). `SandboxStats` is the frozen snapshot that ``Sandbox.stats()`` and
``GET /_sandbox/stats`` hand out.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

__all__ = ["Counters", "SandboxStats"]


class Counters:
    """The counters of one generation (see `Generation`); a reset starts new ones."""

    __slots__ = (
        "batch_sizes",
        "batches_poisoned",
        "by_status",
        "faults",
        "oauth_expired",
        "oauth_peak_in_flight",
        "oauth_refresh_errors",
        "oauth_refreshes",
        "oauth_tokens",
        "operations",
        "pairs_archived",
        "pairs_created",
        "pairs_duplicate",
        "pairs_not_found",
        "pairs_received",
        "rate_limited",
        "requests",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.batch_sizes: Counter[int] = Counter()
        self.pairs_received = 0
        self.pairs_duplicate = 0
        self.pairs_created = 0
        self.pairs_not_found = 0
        self.pairs_archived = 0
        self.operations: Counter[str] = Counter()
        self.batches_poisoned = 0
        self.rate_limited = 0
        self.faults = 0
        self.oauth_refreshes = 0
        self.oauth_refresh_errors = 0
        self.oauth_peak_in_flight = 0
        self.oauth_expired = 0
        self.oauth_tokens: list[tuple[float, float]] = []

    def __repr__(self) -> str:
        return (
            f"<Counters requests={self.requests} by_status={dict(self.by_status)} "
            f"pairs_received={self.pairs_received}>"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxStats:
    """Counters since start (or the last reset), as ``GET /_sandbox/stats`` returns them."""

    requests: int
    """API requests that arrived (introspection calls excluded)."""
    by_status: dict[str, int]
    """Answers per HTTP status (``"200"``, ``"429"``, ...); dropped connections as
    ``"reset"``; requests whose client went away before the answer as ``"cancelled"``."""
    batch_sizes: dict[int, int]
    """``inputs`` length -> number of batch associate calls of that size."""
    peak_window: int
    """Most requests that arrived within any span of ``window_seconds``."""
    window_seconds: float
    """The rate limit's window, or ``peak_window_seconds`` when none is set."""
    pairs_received: int
    """Association inputs received in decoded batch/single associate calls."""
    pairs_duplicate: int
    """Inputs that were already stored when they arrived (re-sends)."""
    pairs_created: int
    """Inputs that created a new association."""
    pairs_not_found: int
    """Inputs refused by the not-found rule."""
    pairs_archived: int
    """Associated pairs removed whole (batch archive, DELETE, or a labels archive
    of the default type)."""
    batches_poisoned: int
    """Calls refused whole by the poison rule."""
    associations: int
    """Associations stored now."""
    configurations: int
    """Limit configurations stored now."""
    rate_limited: int
    """Requests refused by the daily or rolling-window limit (scripted 429s excluded)."""
    daily_used: int
    """Requests admitted against the daily limit."""
    faults: int
    """Scripted or random faults answered (including connection resets)."""
    oauth_refreshes: int
    """Token requests answered with a new access token."""
    oauth_refresh_errors: int
    """Token requests refused (400 ``BAD_REFRESH_TOKEN``, ``BAD_CLIENT_ID``, 415, ...)."""
    oauth_peak_in_flight: int
    """Most token requests being served at the same time (1 if a client never
    sends a refresh before the previous one was answered)."""
    oauth_expired: int
    """API requests that carried an expired access token (answered 401
    ``EXPIRED_AUTHENTICATION``)."""
    oauth_tokens: tuple[tuple[float, float], ...]
    """``(issued_at, expires_at)`` loop times of every access token issued."""
    operations: dict[str, int] = dataclasses.field(default_factory=dict)
    """Calls served per operation (``"batch/read"``, ``"labels/create"``, ...), counted
    when the endpoint ran: faults, limits and 401s answered first are not counted."""
    labels: int = 0
    """Label definitions stored now."""

    def as_dict(self) -> dict[str, Any]:
        """The stats as JSON-ready builtins (batch sizes keyed by strings)."""
        out = dataclasses.asdict(self)
        out["batch_sizes"] = {str(size): n for size, n in sorted(self.batch_sizes.items())}
        out["oauth_tokens"] = [list(times) for times in self.oauth_tokens]
        return out

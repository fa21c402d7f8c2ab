"""Reading the sandbox's state: the stats snapshot and the stored or sent pairs of a type pair.

Plain functions of `SandboxState`, shared by the Python API (`SandboxApp`) and
the ``/_sandbox/`` endpoints (`ControlEndpoints`), so both answer alike.
"""

from __future__ import annotations

from typing import Final

from ._state import SandboxState
from ._stats import SandboxStats
from ._store import unpack_pair
from ._types import canonical_type

__all__ = ["send_counts", "snapshot", "store_pairs", "types_or_raise"]


# Counters that `SandboxStats` reports as they are.
_COUNTED: Final = (
    "requests",
    "pairs_received",
    "pairs_duplicate",
    "pairs_created",
    "pairs_not_found",
    "pairs_archived",
    "batches_poisoned",
    "rate_limited",
    "faults",
    "oauth_refreshes",
    "oauth_refresh_errors",
    "oauth_peak_in_flight",
    "oauth_expired",
)


def snapshot(state: SandboxState) -> SandboxStats:
    """The counters of the current generation, the arrival peak and the store sizes."""
    generation = state.generation
    counts = generation.counts
    return SandboxStats(
        **{name: getattr(counts, name) for name in _COUNTED},
        by_status=dict(sorted(counts.by_status.items())),
        batch_sizes=dict(sorted(counts.batch_sizes.items())),
        peak_window=state.arrivals.peak,
        window_seconds=state.arrivals.window,
        associations=len(generation.store),
        configurations=len(generation.configurations),
        daily_used=state.daily.used,
        oauth_tokens=tuple(counts.oauth_tokens),
        operations=dict(sorted(counts.operations.items())),
        labels=len(generation.labels),
    )


def types_or_raise(from_type: str, to_type: str) -> tuple[str, str]:
    """The canonical keys of two object types (any spelling); `ValueError` for an invalid one."""
    from_key = canonical_type(from_type)
    to_key = canonical_type(to_type)
    if from_key is None or to_key is None:
        bad = from_type if from_key is None else to_type
        raise ValueError(
            f"not an object type: {bad!r} (expected a standard object name such as 'contacts', "
            "an objectTypeId such as '0-1' or '2-1234567', or a custom object name such as "
            "'p123_widget')"
        )
    return from_key, to_key


def store_pairs(state: SandboxState, from_type: str, to_type: str) -> list[tuple[str, str]]:
    """Stored ``(fromId, toId)`` pairs between two object types, sorted.

    Raises `ValueError` for an invalid object type.
    """
    from_key, to_key = types_or_raise(from_type, to_type)
    pairs = state.generation.store.pairs(from_key, to_key)
    return [(str(f), str(t)) for f, t in pairs]


def send_counts(state: SandboxState, from_type: str, to_type: str) -> dict[tuple[str, str], int]:
    """How often each pair was sent (needs ``track_sends``; else `RuntimeError`).

    Raises `ValueError` for an invalid object type.
    """
    sends = state.generation.store.sends
    if sends is None:
        raise RuntimeError("send counts need the track_sends option")
    from_key, to_key = types_or_raise(from_type, to_type)
    out: dict[tuple[str, str], int] = {}
    for (f_type, t_type, key), count in sends.items():
        if f_type == from_key and t_type == to_key:
            f, t = unpack_pair(key)
            out[(str(f), str(t))] = count
    return out

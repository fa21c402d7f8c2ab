"""`Generation`: everything a reset forgets, as one object a reset replaces.

A request takes the generation in force when it arrives and writes only into
that one: its associations, label definitions, limit configurations, counters and random draws.
A reset starts a new generation instead of clearing the old one in place, so a
request that arrived before the reset (held by latency, or still reading its
body) and finishes after it changes nothing the reset left behind. Its client
gets an ordinary answer, as if it had been served just before the reset.
"""

from __future__ import annotations

import random
from collections import Counter

from ._definitions import DefinitionStore
from ._links import Links
from ._stats import Counters
from ._store import AssociationStore, ConfigurationStore

__all__ = ["Generation"]


class Generation:
    """The stores, counters and random source between two resets.

    `number` counts resets since the application was built (0 before the first).
    """

    __slots__ = ("configurations", "counts", "labels", "number", "rng", "store")

    def __init__(self, number: int, seed: int | None, *, track_sends: bool) -> None:
        self.number = number
        self.store = AssociationStore()
        if track_sends:
            self.store.sends = Counter()
        self.configurations = ConfigurationStore()
        self.labels = DefinitionStore()
        self.counts = Counters()
        self.rng = random.Random(seed)
        """Behind random faults, jitter and shuffled results; reseeded by each reset."""

    def links(self, types: tuple[str, str]) -> Links:
        """The associations between two canonical types, seen from the first (both ways)."""
        return Links(self.store, self.labels, types)

    def __repr__(self) -> str:
        return (
            f"<Generation {self.number} associations={len(self.store)} "
            f"requests={self.counts.requests}>"
        )

"""`Links`: the associations between two object types as one side sees them.

HubSpot's associations go both ways: associating contact 1 with company 2
(type 279) also associates company 2 with contact 1 (its inverse, 280), and
removing it from either side removes both. The store keeps each pair once,
in the direction it was written; `Links` reads and removes through both
directions, so a read from either side lists it with that side's types: the
default type of the direction read, and the labels (a label stored the other
way is shown as its inverse label when it has one).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from heapq import merge
from itertools import groupby

from ._definitions import DefinitionStore
from ._store import AssociationStore, Spec
from ._types import default_type_id

__all__ = ["Links"]


class Links:
    """The associations from records of `from_type` to records of `to_type`, both ways."""

    __slots__ = ("_labels", "default", "forward", "from_type", "reverse", "to_type")

    def __init__(
        self, store: AssociationStore, labels: DefinitionStore, types: tuple[str, str]
    ) -> None:
        self.from_type, self.to_type = types
        self.forward = store.type_pair(*types)
        self.reverse = store.type_pair(types[1], types[0])
        self.default: Spec = ("HUBSPOT_DEFINED", default_type_id(*types))
        self._labels = labels

    def __repr__(self) -> str:
        return f"<Links {self.from_type}->{self.to_type} {self.forward!r} {self.reverse!r}>"

    def ids(self, from_id: int) -> Sequence[int]:
        """Every record `from_id` is associated with, ascending."""
        written = self.forward.to_ids(from_id)
        inverse = self.reverse.from_ids(from_id)
        if not inverse:
            return written
        if not written:
            return inverse
        return [key for key, _ in groupby(merge(written, inverse))]

    def page(self, from_id: int, after: int | None, size: int) -> tuple[list[int], bool]:
        """Up to `size` of `ids` greater than `after`; and whether more follow."""
        ids = self.ids(from_id)
        start = 0 if after is None else bisect_right(ids, after)
        page = ids[start : start + size + 1]
        return list(page[:size]), len(page) > size

    def plain(self) -> bool:
        """Whether no pair between the two types carries more than the default type."""
        return not self.forward.extras and not self.reverse.extras

    def types_of(self, from_id: int, to_id: int) -> list[Spec]:
        """The types of one associated pair, as seen from `from_type`: default first."""
        specs = dict.fromkeys([self.default, *self.forward.extras.get(from_id << 64 | to_id, ())])
        for category, type_id in self.reverse.extras.get(to_id << 64 | from_id, ()):
            specs[(category, self._inverse(type_id))] = None
        return list(specs)

    def label_of(self, type_id: int) -> str | None:
        """The label text of a type id as seen from `from_type`, if it is a label."""
        return self._labels.label_of(self.from_type, self.to_type, type_id)

    def remove(self, from_id: int, to_id: int) -> bool:
        """Dissociate two records (both ways); whether they were associated."""
        written = self.forward.remove(from_id << 64 | to_id)
        inverse = self.reverse.remove(to_id << 64 | from_id)
        return written or inverse

    def remove_types(self, from_id: int, to_id: int, types: Iterable[Spec]) -> bool:
        """Remove `types` (as seen from `from_type`) from one pair, both ways; the default
        type removes the pair. Returns whether the records were associated."""
        gone = set(types)
        if self.default in gone:
            return self.remove(from_id, to_id)
        reverse_default: Spec = ("HUBSPOT_DEFINED", default_type_id(self.to_type, self.from_type))
        inverse = {(category, self._inverse(type_id, back=True)) for category, type_id in gone}
        written = self.forward.remove_types(from_id << 64 | to_id, gone, self.default)
        mirrored = self.reverse.remove_types(to_id << 64 | from_id, inverse, reverse_default)
        return written or mirrored

    def _inverse(self, type_id: int, *, back: bool = False) -> int:
        """A label's type id in the other direction (itself when it has no inverse)."""
        types = (self.to_type, self.from_type) if not back else (self.from_type, self.to_type)
        inverse = self._labels.inverse_of(*types, type_id)
        return type_id if inverse is None else inverse

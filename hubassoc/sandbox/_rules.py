"""Id rules: which records "do not exist" (not-found) and which poison a whole call.

A rule is compiled from `SandboxConfig.not_found_ids` or ``poison_ids``: ids of
any object type (``"13"``) and ids of one type (``"contacts:13"``). Lookups
are per canonical type and cached, so the hot path asks one set.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._types import canonical_type

__all__ = ["IdRule"]


class IdRule:
    """A compiled not-found / poison id rule: ids of any type, and (type, id) pairs.

    Raises `ValueError` when an entry names an object type HubSpot would refuse.
    """

    __slots__ = ("_by_type", "any_ids", "typed")

    def __init__(self, ids: Iterable[str]) -> None:
        any_ids: set[int] = set()
        typed: set[tuple[str, int]] = set()
        for text in ids:
            type_text, _, id_text = text.rpartition(":")
            if not type_text:
                any_ids.add(int(id_text))
                continue
            object_type = canonical_type(type_text)
            if object_type is None:
                raise ValueError(f"{text!r}: {type_text!r} is not an object type")
            typed.add((object_type, int(id_text)))
        self.any_ids = frozenset(any_ids)
        self.typed = frozenset(typed)
        self._by_type: dict[str, frozenset[int]] = {}

    def __repr__(self) -> str:
        return f"<IdRule any_ids={len(self.any_ids)} typed={len(self.typed)}>"

    def __bool__(self) -> bool:
        return bool(self.any_ids or self.typed)

    def ids_for(self, object_type: str) -> frozenset[int]:
        """Every id the rule names for records of one (canonical) type."""
        ids = self._by_type.get(object_type)
        if ids is None:
            typed = {i for t, i in self.typed if t == object_type}
            ids = self._by_type[object_type] = self.any_ids | typed
        return ids

    def matches(self, object_type: str, record_id: int) -> bool:
        """Whether the rule names this one record."""
        return record_id in self.ids_for(object_type)

    def hits(self, object_type: str, record_ids: list[int]) -> bool:
        """Whether the rule names any of these records (all of one type)."""
        return not self.ids_for(object_type).isdisjoint(record_ids)

"""The sandbox's memory: default associations and limit configurations.

Associations are kept per ``(from_type, to_type)`` as a `set` of ints packing
both record ids (``from_id << 64 | to_id``): no strings, no tuples, so a
million pairs cost tens of megabytes. Associating a stored pair again is a
no-op, as in HubSpot, but is counted as a duplicate so tests can bound
re-sends.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["AssociationStore", "ConfigurationStore", "pack_pair", "unpack_pair"]

_LOW = (1 << 64) - 1


def pack_pair(from_id: int, to_id: int) -> int:
    """One int for a pair of int64 record ids."""
    return from_id << 64 | to_id


def unpack_pair(key: int) -> tuple[int, int]:
    """The two record ids packed by `pack_pair`."""
    return key >> 64, key & _LOW


class AssociationStore:
    """Default (unlabelled) associations between records, per pair of object types."""

    __slots__ = ("_pairs", "sends")

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], set[int]] = {}
        self.sends: Counter[tuple[str, str, int]] | None = None
        """``(from_type, to_type, packed pair) -> times sent``, when tracking is on."""

    def __repr__(self) -> str:
        return f"<AssociationStore type_pairs={len(self._pairs)} associations={len(self)}>"

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self._pairs.values())

    def bucket(self, from_type: str, to_type: str) -> set[int]:
        """The live set of packed pairs between two canonical types (created if absent)."""
        key = (from_type, to_type)
        pairs = self._pairs.get(key)
        if pairs is None:
            pairs = self._pairs[key] = set()
        return pairs

    def contains(self, from_type: str, to_type: str, from_id: int, to_id: int) -> bool:
        """Whether the association is stored."""
        pairs = self._pairs.get((from_type, to_type))
        return pairs is not None and pack_pair(from_id, to_id) in pairs

    def pairs(self, from_type: str, to_type: str) -> list[tuple[int, int]]:
        """Every stored pair between two canonical types, sorted."""
        return sorted(unpack_pair(key) for key in self._pairs.get((from_type, to_type), ()))

    def type_pairs(self) -> dict[tuple[str, str], int]:
        """How many associations are stored per pair of types."""
        return {key: len(pairs) for key, pairs in self._pairs.items() if pairs}

    def clear(self) -> None:
        """Forget every association (and send counts)."""
        self._pairs.clear()
        if self.sends is not None:
            self.sends.clear()


class ConfigurationStore:
    """Association limit configurations, per pair of types, keyed by (category, typeId)."""

    __slots__ = ("_configs",)

    def __init__(self) -> None:
        self._configs: dict[tuple[str, str], dict[tuple[str, int], int]] = {}

    def __repr__(self) -> str:
        return f"<ConfigurationStore configurations={len(self)}>"

    def __len__(self) -> int:
        return sum(len(configs) for configs in self._configs.values())

    def for_pair(self, from_type: str, to_type: str) -> dict[tuple[str, int], int]:
        """The live map ``(category, typeId) -> maxToObjectIds`` of one type pair."""
        key = (from_type, to_type)
        configs = self._configs.get(key)
        if configs is None:
            configs = self._configs[key] = {}
        return configs

    def results(self, from_type: str | None = None, to_type: str | None = None) -> list[Any]:
        """``PublicAssociationDefinitionUserConfiguration`` dicts, of one pair or of all."""
        if from_type is not None and to_type is not None:
            groups = [self._configs.get((from_type, to_type), {})]
        else:
            groups = [self._configs[key] for key in sorted(self._configs)]
        return [
            {"category": category, "typeId": type_id, "userEnforcedMaxToObjectIds": limit}
            for configs in groups
            for (category, type_id), limit in sorted(configs.items())
        ]

    def clear(self) -> None:
        """Forget every configuration."""
        self._configs.clear()

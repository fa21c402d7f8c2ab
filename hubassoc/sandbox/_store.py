"""The sandbox's memory: associations with their types, and limit configurations.

Associations are kept per ``(from_type, to_type)`` in a `TypePairStore`. Every
associated pair carries the HUBSPOT_DEFINED default type (a labelled create
adds it too, and removing it removes the pair), so the pairs themselves are a
`set` of ints packing both record ids (``from_id << 64 | to_id``): no strings,
no tuples, so a million default pairs cost tens of megabytes. Only pairs that
carry other types (labels) have an entry in a dict of those extra types.
Associating a stored pair again is a no-op, as in HubSpot, but is counted as a
duplicate so tests can bound re-sends.

Reads need a record's associated ids in order, from either side (see
`Links`): a per-record index of sorted ``array('q')`` (one per side) is built
the first time a type pair is read that way and kept up to date from then on,
so write-only workloads never pay for it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

__all__ = [
    "AssociationStore",
    "ConfigurationStore",
    "Spec",
    "TypePairStore",
    "pack_pair",
    "unpack_pair",
]

_LOW = (1 << 64) - 1

Spec: TypeAlias = tuple[str, int]
"""One association type: ``(category, typeId)``."""


def pack_pair(from_id: int, to_id: int) -> int:
    """One int for a pair of int64 record ids."""
    return from_id << 64 | to_id


def unpack_pair(key: int) -> tuple[int, int]:
    """The two record ids packed by `pack_pair`."""
    return key >> 64, key & _LOW


class TypePairStore:
    """The associations from records of one object type to records of another.

    `pairs` holds every associated pair (packed); `extras` the types other than
    the default one, for the pairs that carry any, in the order they were added.
    """

    __slots__ = ("_by_from", "_by_to", "extras", "pairs")

    def __init__(self) -> None:
        self.pairs: set[int] = set()
        self.extras: dict[int, tuple[Spec, ...]] = {}
        self._by_from: dict[int, array[int]] | None = None
        self._by_to: dict[int, array[int]] | None = None

    def __repr__(self) -> str:
        return f"<TypePairStore pairs={len(self.pairs)} labelled={len(self.extras)}>"

    def __len__(self) -> int:
        return len(self.pairs)

    def add(self, keys: list[int]) -> int:
        """Associate the packed pairs (default type); returns how many were new."""
        pairs = self.pairs
        by_from, by_to = self._by_from, self._by_to
        if by_from is None and by_to is None:
            before = len(pairs)
            pairs.update(keys)
            return len(pairs) - before
        created = 0
        for key in keys:
            if key not in pairs:
                pairs.add(key)
                from_id, to_id = unpack_pair(key)
                if by_from is not None:
                    _index_add(by_from, from_id, to_id)
                if by_to is not None:
                    _index_add(by_to, to_id, from_id)
                created += 1
        return created

    def add_types(self, key: int, types: Iterable[Spec], default: Spec) -> bool:
        """Associate one pair with `types` (and the default type); returns whether it is new."""
        created = self.add([key]) == 1
        extra = [spec for spec in types if spec != default]
        if extra:
            merged = dict.fromkeys(self.extras.get(key, ()))
            merged.update(dict.fromkeys(extra))
            self.extras[key] = tuple(merged)
        return created

    def remove(self, key: int) -> bool:
        """Remove every type between the two records; returns whether they were associated."""
        if key not in self.pairs:
            return False
        self.pairs.discard(key)
        self.extras.pop(key, None)
        from_id, to_id = unpack_pair(key)
        if self._by_from is not None:
            _index_remove(self._by_from, from_id, to_id)
        if self._by_to is not None:
            _index_remove(self._by_to, to_id, from_id)
        return True

    def remove_types(self, key: int, types: Iterable[Spec], default: Spec) -> bool:
        """Remove `types` from one pair (the default type removes the pair); returns
        whether the pair was associated."""
        if key not in self.pairs:
            return False
        gone = set(types)
        if default in gone:
            return self.remove(key)
        kept = tuple(spec for spec in self.extras.get(key, ()) if spec not in gone)
        if kept:
            self.extras[key] = kept
        else:
            self.extras.pop(key, None)
        return True

    def to_ids(self, from_id: int) -> Sequence[int]:
        """The records `from_id` is associated with, ascending (builds the index once)."""
        index = self._by_from
        if index is None:
            index = self._by_from = _build_index(self.pairs, reverse=False)
        return index.get(from_id, ())

    def from_ids(self, to_id: int) -> Sequence[int]:
        """The records associated with `to_id`, ascending (builds the index once)."""
        index = self._by_to
        if index is None:
            index = self._by_to = _build_index(self.pairs, reverse=True)
        return index.get(to_id, ())


def _build_index(pairs: set[int], *, reverse: bool) -> dict[int, array[int]]:
    grouped: dict[int, list[int]] = {}
    if reverse:
        for key in pairs:
            grouped.setdefault(key & _LOW, []).append(key >> 64)
    else:
        for key in pairs:
            grouped.setdefault(key >> 64, []).append(key & _LOW)
    return {record: array("q", sorted(ids)) for record, ids in grouped.items()}


def _index_add(index: dict[int, array[int]], record: int, other: int) -> None:
    ids = index.get(record)
    if ids is None:
        index[record] = array("q", (other,))
    else:
        insort(ids, other)


def _index_remove(index: dict[int, array[int]], record: int, other: int) -> None:
    ids = index[record]
    del ids[bisect_left(ids, other)]
    if not ids:
        del index[record]


class AssociationStore:
    """Associations between records, per pair of (canonical) object types."""

    __slots__ = ("_pairs", "sends")

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], TypePairStore] = {}
        self.sends: Counter[tuple[str, str, int]] | None = None
        """``(from_type, to_type, packed pair) -> times sent``, when tracking is on."""

    def __repr__(self) -> str:
        return f"<AssociationStore type_pairs={len(self._pairs)} associations={len(self)}>"

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self._pairs.values())

    def type_pair(self, from_type: str, to_type: str) -> TypePairStore:
        """The live store of two canonical types (created if absent)."""
        key = (from_type, to_type)
        pairs = self._pairs.get(key)
        if pairs is None:
            pairs = self._pairs[key] = TypePairStore()
        return pairs

    def contains(self, from_type: str, to_type: str, from_id: int, to_id: int) -> bool:
        """Whether the records are associated."""
        pairs = self._pairs.get((from_type, to_type))
        return pairs is not None and pack_pair(from_id, to_id) in pairs.pairs

    def pairs(self, from_type: str, to_type: str) -> list[tuple[int, int]]:
        """Every associated pair between two canonical types, sorted."""
        store = self._pairs.get((from_type, to_type))
        return sorted(unpack_pair(key) for key in (store.pairs if store is not None else ()))

    def type_pairs(self) -> dict[tuple[str, str], int]:
        """How many associated pairs are stored per pair of types."""
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

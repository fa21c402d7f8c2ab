"""Test fixtures: associations and labels loaded without requests, and read back.

Plain functions of `SandboxState`, shared by the Python API (`SandboxApp`,
`Sandbox`) and the ``/_sandbox/`` endpoints, so a test can give a record 2,000
associations, or a benchmark seed 10,000 records, in one call instead of
thousands of requests. Seeding writes into the current generation like a
batch create would (the default type always, plus any types given) but is
not an API call: nothing is counted or rate limited.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeAlias

from ._inspect import types_or_raise
from ._state import SandboxState
from ._store import Spec
from ._types import canonical_ids, default_type_id, parse_record_id

__all__ = [
    "CATEGORIES",
    "SeedRow",
    "associations_of",
    "check_ranges",
    "define_label",
    "mapping_rows",
    "seed",
    "seed_ranges",
]

CATEGORIES: Final = frozenset({"HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"})
"""The association categories HubSpot's specs list."""

SeedRow: TypeAlias = (
    tuple[str | int, str | int] | tuple[str | int, str | int, Iterable[tuple[str, int]]]
)
"""``(from_id, to_id)`` or ``(from_id, to_id, [(category, type_id), ...])``."""


def _record_id(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{where} must be a record id (str or int), got {type(value).__name__}")
    record_id = parse_record_id(str(value))
    if record_id is None:
        raise ValueError(f"{where} must be a decimal int64 record id, got {value!r}")
    return record_id


def _specs(value: object, where: str) -> list[Spec]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{where} must be a list of (category, type_id) pairs")
    specs: list[Spec] = []
    for item in value:
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
            raise TypeError(f"{where}: each type must be a (category, type_id) pair, got {item!r}")
        category, type_id = item
        if category not in CATEGORIES:
            raise ValueError(f"{where}: category must be one of {sorted(CATEGORIES)}")
        if isinstance(type_id, bool) or not isinstance(type_id, int):
            raise TypeError(f"{where}: type_id must be an int, got {type_id!r}")
        specs.append((category, type_id))
    return specs


def seed(state: SandboxState, from_type: str, to_type: str, rows: Iterable[Any]) -> int:
    """Associate the records of each row; returns how many pairs were new.

    Raises `ValueError` for an invalid object type, id, category or row, and
    `TypeError` for a value of the wrong type; every row is checked before
    anything is stored.
    """
    types = types_or_raise(from_type, to_type)
    default: Spec = ("HUBSPOT_DEFINED", default_type_id(*types))
    sides: tuple[list[Any], list[Any]] = ([], [])
    typed: dict[int, list[Spec]] = {}  # row index -> its types
    for index, row in enumerate(rows):
        if not isinstance(row, tuple | list) or len(row) not in (2, 3):
            raise ValueError(f"rows[{index}] must be (from_id, to_id) or (from_id, to_id, types)")
        sides[0].append(row[0])
        sides[1].append(row[1])
        if len(row) == 3:
            typed[index] = _specs(row[2], f"rows[{index}][2]")
    from_ids, to_ids = (_record_ids(values, side) for side, values in enumerate(sides))
    keys = [f << 64 | t for f, t in zip(from_ids, to_ids, strict=True)]
    store = state.generation.store.type_pair(*types)
    if not typed:
        return store.add(keys)
    created = store.add([key for index, key in enumerate(keys) if index not in typed])
    for index, specs in typed.items():
        created += store.add_types(keys[index], specs, default)
    return created


def _record_ids(values: list[Any], side: int) -> list[int]:
    """Ids of one side of the rows; the common case (canonical strings) in one regex."""
    try:
        texts = canonical_ids(values)
    except TypeError:  # not all strings: the slow path says which
        texts = 0
    if not isinstance(texts, int):
        return list(map(int, texts))
    return [_record_id(value, f"rows[{index}][{side}]") for index, value in enumerate(values)]


def check_ranges(ranges: Iterable[Any]) -> list[tuple[int, int, int]]:
    """``(from_id, first_to_id, count)`` ranges as ints, checked (see `seed_ranges`).

    Raises `ValueError` or `TypeError` for a range that is not three values, an
    id that is no record id or a negative count.
    """
    checked: list[tuple[int, int, int]] = []
    for index, item in enumerate(ranges):
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 3:
            raise ValueError(f"ranges[{index}] must be (from_id, first_to_id, count)")
        from_id = _record_id(item[0], f"ranges[{index}][0]")
        first = _record_id(item[1], f"ranges[{index}][1]")
        count = item[2]
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"ranges[{index}][2] must be a count >= 0, got {count!r}")
        if count and parse_record_id(str(first + count - 1)) is None:
            raise ValueError(f"ranges[{index}] runs past the largest record id")
        checked.append((from_id, first, count))
    return checked


def seed_ranges(
    state: SandboxState, from_type: str, to_type: str, ranges: list[tuple[int, int, int]]
) -> int:
    """Associate each ``(from_id, first_to_id, count)`` record (from `check_ranges`) with
    ``count`` records numbered from ``first_to_id`` (the default type); returns how many
    pairs were new. The compact form for benchmarks that seed many records over HTTP.

    Raises `ValueError` for an invalid object type.
    """
    store = state.generation.store.type_pair(*types_or_raise(from_type, to_type))
    return sum(
        store.add([from_id << 64 | to_id for to_id in range(first, first + count)])
        for from_id, first, count in ranges
    )


def mapping_rows(mapping: Mapping[Any, Any]) -> Iterator[tuple[Any, Any]]:
    """``(from_id, to_id)`` rows of ``{from_id: [to_id, ...]}``, for `seed`.

    Raises `ValueError` (while iterated) when a value is not a list of ids.
    """
    for from_id, to_ids in mapping.items():
        if isinstance(to_ids, str) or not isinstance(to_ids, Sequence):
            raise ValueError(f"associations[{from_id!r}] must be a list of to ids")
        for to_id in to_ids:
            yield from_id, to_id


def associations_of(
    state: SandboxState, from_type: str, to_type: str, from_id: str | int
) -> dict[str, list[tuple[str, int]]]:
    """``{to_id: [(category, type_id), ...]}`` of one record, ascending ids, default type first,
    both ways (an association written from the other side is listed with this side's types).

    Raises `ValueError` for an invalid object type or id.
    """
    types = types_or_raise(from_type, to_type)
    record_id = _record_id(from_id, "from_id")
    links = state.generation.links(types)
    return {str(to_id): links.types_of(record_id, to_id) for to_id in links.ids(record_id)}


def define_label(
    state: SandboxState,
    from_type: str,
    to_type: str,
    label: str,
    *,
    name: str | None = None,
    inverse_label: str | None = None,
) -> list[dict[str, Any]]:
    """Create a label (and its inverse) as ``POST .../labels`` would; returns what it
    lists (``{"category", "typeId", "label"}`` each). `name` defaults to `label`.

    Raises `ValueError` for an invalid object type, an empty label or a name in use.
    """
    types = types_or_raise(from_type, to_type)
    name = label if name is None else name
    if not label.strip() or not name.strip():
        raise ValueError("label and name must not be empty")
    definitions = state.generation.labels
    if definitions.has_name(*types, name):
        raise ValueError(f"a label named {name!r} already exists between these types")
    return [d.as_json() for d in definitions.create(*types, label, name, inverse_label)]

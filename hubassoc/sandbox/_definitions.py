"""Association label definitions (HubSpot's "association types"), per pair of object types.

A label is an association type of category ``USER_DEFINED`` with a type id the
portal allocates; the sandbox allocates them from 1000 upward, one counter for
every type pair, as HubSpot's ids are unique in a portal. A label created with
an inverse label is a pair of types: the label from ``from`` to ``to`` and the
inverse from ``to`` to ``from`` (the next id). Every type pair also has its
``HUBSPOT_DEFINED`` default type, which is listed but cannot be changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ._types import default_type_id

__all__ = ["FIRST_USER_TYPE_ID", "Definition", "DefinitionStore"]

FIRST_USER_TYPE_ID: Final = 1000
"""The first type id the sandbox allocates to a label."""


@dataclass(slots=True)
class Definition:
    """One label: its type id, label text, internal name and the paired inverse type id."""

    type_id: int
    label: str
    name: str
    inverse: tuple[str, str, int] | None = None
    """``(from_type, to_type, type_id)`` of the inverse label, if one was created."""

    def as_json(self) -> dict[str, Any]:
        """``AssociationSpecWithLabel`` as the labels endpoints list it."""
        return {"category": "USER_DEFINED", "typeId": self.type_id, "label": self.label}


class DefinitionStore:
    """Label definitions between canonical object types."""

    __slots__ = ("_by_pair", "_next_id")

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str], dict[int, Definition]] = {}
        self._next_id = FIRST_USER_TYPE_ID

    def __repr__(self) -> str:
        return f"<DefinitionStore labels={len(self)} next_type_id={self._next_id}>"

    def __len__(self) -> int:
        return sum(len(definitions) for definitions in self._by_pair.values())

    def _of(self, from_type: str, to_type: str) -> dict[int, Definition]:
        return self._by_pair.setdefault((from_type, to_type), {})

    def results(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        """Every type between two types: the default one, then the labels by type id."""
        default = {"category": "HUBSPOT_DEFINED", "typeId": default_type_id(from_type, to_type)}
        labels = self._by_pair.get((from_type, to_type), {})
        return [default, *(labels[key].as_json() for key in sorted(labels))]

    def label_of(self, from_type: str, to_type: str, type_id: int) -> str | None:
        """The label text of a type id between two types, if it is a defined label."""
        definition = self._by_pair.get((from_type, to_type), {}).get(type_id)
        return None if definition is None else definition.label

    def inverse_of(self, from_type: str, to_type: str, type_id: int) -> int | None:
        """The type id of a label's inverse (between `to_type` and `from_type`), if any."""
        definition = self._by_pair.get((from_type, to_type), {}).get(type_id)
        return None if definition is None or definition.inverse is None else definition.inverse[2]

    def has_name(self, from_type: str, to_type: str, name: str) -> bool:
        """Whether a label of that internal name exists between the two types."""
        return any(d.name == name for d in self._by_pair.get((from_type, to_type), {}).values())

    def create(
        self, from_type: str, to_type: str, label: str, name: str, inverse_label: str | None
    ) -> list[Definition]:
        """A new label (and its inverse, if given); returns the definitions created."""
        first = Definition(self._next_id, label, name)
        self._next_id += 1
        self._of(from_type, to_type)[first.type_id] = first
        if inverse_label is None:
            return [first]
        second = Definition(self._next_id, inverse_label, f"{name}_inverse")
        self._next_id += 1
        self._of(to_type, from_type)[second.type_id] = second
        first.inverse = (to_type, from_type, second.type_id)
        second.inverse = (from_type, to_type, first.type_id)
        return [first, second]

    def update(
        self, from_type: str, to_type: str, type_id: int, label: str, inverse_label: str | None
    ) -> bool:
        """Rename a label (and its inverse when `inverse_label` is given); whether it exists."""
        definition = self._by_pair.get((from_type, to_type), {}).get(type_id)
        if definition is None:
            return False
        definition.label = label
        if inverse_label is not None and definition.inverse is not None:
            inverse_from, inverse_to, inverse_id = definition.inverse
            paired = self._by_pair.get((inverse_from, inverse_to), {}).get(inverse_id)
            if paired is not None:
                paired.label = inverse_label
        return True

    def delete(self, from_type: str, to_type: str, type_id: int) -> bool:
        """Remove a label and its inverse; whether it existed."""
        definition = self._by_pair.get((from_type, to_type), {}).pop(type_id, None)
        if definition is None:
            return False
        if definition.inverse is not None:
            inverse_from, inverse_to, inverse_id = definition.inverse
            self._by_pair.get((inverse_from, inverse_to), {}).pop(inverse_id, None)
        return True

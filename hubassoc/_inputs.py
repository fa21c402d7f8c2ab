"""Checking and normalising the inputs of the explicit batch calls.

Each function refuses the first bad input with ``TypeError``/``ValueError``
naming its index (``inputs[3]: ...``) before anything is sent, and returns
the inputs as the engine sends them: ids as canonical decimal strings,
duplicates once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from hubassoc._models import AssociationSpec
from hubassoc._operations import Pair
from hubassoc._validation import check_pair, check_record_id, check_types

__all__ = ["check_ids", "check_labelled", "check_pairs"]

T = TypeVar("T")


def check_pairs(pairs: Iterable[tuple[str | int, str | int]]) -> list[Pair]:
    """Validate and normalise every pair; an error names the offending index."""
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Iterable):
        raise TypeError(
            f"pairs must be an iterable of (from_id, to_id), not {type(pairs).__name__}"
        )
    checked: list[Pair] = []
    append = checked.append
    index = 0
    try:
        for index, pair in enumerate(pairs):  # noqa: B007 - index is reported on error
            if type(pair) is not tuple or len(pair) != 2:
                if isinstance(pair, str | bytes) or not isinstance(pair, tuple | list):
                    raise ValueError(f"expected a (from_id, to_id) pair, not {pair!r}")
                if len(pair) != 2:
                    raise ValueError(f"expected a (from_id, to_id) pair, not {pair!r}")
            from_id, to_id = pair
            # Inline fast path for the common case, plain digit strings that are
            # canonical and in range; anything else goes through check_record_id.
            if not (
                type(from_id) is str
                and type(to_id) is str
                and 0 < len(from_id) < 19
                and 0 < len(to_id) < 19
                and from_id.isdigit()
                and to_id.isdigit()
                and from_id.isascii()
                and to_id.isascii()
                and (from_id[0] != "0" or len(from_id) == 1)
                and (to_id[0] != "0" or len(to_id) == 1)
            ):
                from_id = check_record_id(from_id, "from_id")
                to_id = check_record_id(to_id, "to_id")
            append((from_id, to_id))
    except (TypeError, ValueError) as exc:
        # The per-pair checks name no index (formatting one per pair would
        # cost more than the check); say which pair it was here.
        raise type(exc)(f"pairs[{index}]: {exc}") from None
    return checked


def _each(values: object, name: str, what: str, check: Callable[[object], T]) -> list[T]:
    """``check`` each of ``values``; an error names the offending index."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an iterable of {what}, not {type(values).__name__}")
    checked: list[T] = []
    index = 0
    try:
        for index, value in enumerate(values):  # noqa: B007 - index is reported on error
            checked.append(check(value))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}[{index}]: {exc}") from None
    return checked


def _labelled(value: object) -> tuple[Pair, tuple[AssociationSpec, ...]]:
    if isinstance(value, str | bytes) or not isinstance(value, tuple | list) or len(value) != 3:
        raise ValueError(f"expected a (from_id, to_id, types) triple, not {value!r}")
    from_id, to_id, types = value
    return check_pair(from_id, to_id), check_types(types)


def check_labelled(inputs: object) -> dict[Pair, tuple[AssociationSpec, ...]]:
    """The ``(from_id, to_id, types)`` inputs as pair -> types; the types of a
    repeated pair are merged (union, first-seen order).

    Raises:
        TypeError, ValueError: an input is not such a triple, or an id or a
            ``types`` is invalid (see :func:`hubassoc._validation.check_types`).
    """
    merged: dict[Pair, tuple[AssociationSpec, ...]] = {}
    for pair, types in _each(inputs, "inputs", "(from_id, to_id, types)", _labelled):
        earlier = merged.get(pair)
        merged[pair] = types if earlier is None else tuple(dict.fromkeys((*earlier, *types)))
    return merged


def check_ids(ids: object) -> list[str]:
    """The record ids, canonical and distinct, in first-seen order.

    Raises:
        TypeError, ValueError: an id is invalid.
    """
    checked = _each(ids, "ids", "record ids", lambda value: check_record_id(value, "id"))
    return list(dict.fromkeys(checked))

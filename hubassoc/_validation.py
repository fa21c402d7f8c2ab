"""Checks on everything a caller hands us, before any byte goes on the wire.

Object types and record ids end up in URL paths; nothing reaches a path
unchecked, and path segments are percent-encoded all the same. Every check
raises ``ValueError`` (or ``TypeError`` for a value of the wrong kind) with a
message that names the argument and repeats the offending value.

The checks sit on the hot path of :meth:`AssociationsClient.associate_default`,
so the common case (a plain digit string) is a couple of string methods.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final, get_args
from urllib.parse import quote

from hubassoc._models import AssociationCategory, AssociationSpec

__all__ = [
    "INT64_MAX",
    "check_api_version",
    "check_object_type",
    "check_pair",
    "check_record_id",
    "check_seconds",
    "check_type_pair",
    "check_types",
    "path_segment",
]

INT64_MAX: Final = 2**63 - 1
_INT64_MAX_TEXT: Final = str(INT64_MAX)

# Names (``contacts``, ``line_items``), objectTypeIds (``0-1``, ``2-1234567``)
# and fully qualified custom object names (``p7878787_my_object``).
_OBJECT_TYPE = re.compile(r"(?:[A-Za-z][A-Za-z0-9_]{0,99}|[0-9]{1,10}-[0-9]{1,19})\Z")
_API_VERSION = re.compile(r"(?:v4|(20[0-9]{2})-(0[1-9]|1[0-2]))\Z")


# Object types already accepted: a service uses a handful, so checking them
# once each keeps the per-call cost of ``associate_default`` to a dict lookup.
_ACCEPTED_TYPES: set[str] = set()
_ACCEPTED_TYPES_MAX = 4096


def check_object_type(value: object, argument: str = "object type") -> str:
    """Return ``value`` if it is a valid object type.

    Raises:
        TypeError: ``value`` is not a string.
        ValueError: it is empty, or not a name, an objectTypeId or a custom object name.
    """
    if type(value) is str and value in _ACCEPTED_TYPES:
        return value
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, not {type(value).__name__}: {value!r}")
    if not _OBJECT_TYPE.match(value):
        raise ValueError(
            f"{argument} {value!r} is not an object type: expected a name such as "
            "'contacts', an objectTypeId such as '0-1' or '2-1234567', or a custom "
            "object name such as 'p123_widget'"
        )
    value = str(value)  # a str subclass becomes its plain text
    if len(_ACCEPTED_TYPES) < _ACCEPTED_TYPES_MAX:
        _ACCEPTED_TYPES.add(value)
    return value


def check_record_id(value: object, argument: str = "record id") -> str:
    """Return the canonical decimal string of a record id.

    A record id is a non-negative int64, given as an ``int`` or a string of
    ASCII digits; leading zeros are dropped (``"007"`` is record ``"7"``),
    so that ids match HubSpot's answers.

    Raises:
        TypeError: ``value`` is neither ``str`` nor ``int`` (``bool`` and ``None`` included).
        ValueError: it is empty, negative, not all digits or larger than int64.
    """
    if type(value) is str:
        # Fast path: a plain digit string of at most 18 digits is always in range.
        if value.isascii() and value.isdigit():
            if len(value) < 19 and (value[0] != "0" or len(value) == 1):
                return value
            canonical = value.lstrip("0") or "0"
            if len(canonical) < 19 or (len(canonical) == 19 and canonical <= _INT64_MAX_TEXT):
                return canonical
            raise ValueError(f"{argument} {value!r} is larger than the int64 range")
        raise ValueError(f"{argument} {value!r} is not a record id: expected decimal digits only")
    if type(value) is int:
        if 0 <= value <= INT64_MAX:
            return str(value)
        raise ValueError(f"{argument} {value!r} is out of range: expected 0 to {INT64_MAX}")
    if isinstance(value, str):  # a str subclass: check its plain text
        return check_record_id(str(value), argument)
    raise TypeError(f"{argument} must be a str or int, not {type(value).__name__}: {value!r}")


def check_type_pair(from_type: object, to_type: object) -> tuple[str, str]:
    """Both object types of a call, checked (see :func:`check_object_type`).

    Raises:
        TypeError, ValueError: either type is invalid; the message names which.
    """
    return check_object_type(from_type, "from_type"), check_object_type(to_type, "to_type")


def check_pair(from_id: object, to_id: object) -> tuple[str, str]:
    """Both record ids of a pair, canonical (see :func:`check_record_id`).

    Raises:
        TypeError, ValueError: either id is invalid; the message names which.
    """
    return check_record_id(from_id, "from_id"), check_record_id(to_id, "to_id")


def check_api_version(value: object) -> str:
    """Return ``value`` if it names an API version: ``"v4"`` or a date ``"YYYY-MM"``.

    Raises:
        ValueError: anything else.
    """
    if not isinstance(value, str) or not _API_VERSION.match(value):
        raise ValueError(
            f"api_version {value!r} is not an API version: expected 'v4' or a date "
            "version such as '2026-03'"
        )
    return value


def check_seconds(value: object, argument: str, *, positive: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number of seconds, >= 0 (or > 0).

    Every duration a caller hands over (timeouts, waits, margins, cool-downs)
    is checked here.

    Raises:
        TypeError: ``value`` is not an int or a float (``bool`` included).
        ValueError: it is negative, NaN or infinite, or 0 where ``positive``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{argument} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{argument} must be a finite number of seconds {bound}, not {value!r}")
    return float(value)


def path_segment(value: str) -> str:
    """Percent-encode one path segment (every reserved character, ``/`` included)."""
    return quote(value, safe="")


_CATEGORIES: Final = frozenset(get_args(AssociationCategory))
_INT32_MAX: Final = 2**31 - 1
# Association types already accepted: a service uses a handful, so checking
# them once each keeps the per-call cost of ``associate`` to a set lookup.
_ACCEPTED_SPECS: set[AssociationSpec] = set()


def _check_spec(value: object, argument: str, index: int | None = None) -> AssociationSpec:
    # ``True == 1`` and hashes alike: only a true int type id may hit the cache.
    if (
        type(value) is AssociationSpec
        and type(value.association_type_id) is int
        and type(value.association_category) is str
        and value in _ACCEPTED_SPECS
    ):
        return value
    # The name is formatted on failure only: this runs once per item on hot paths.
    name = argument if index is None else f"{argument}[{index}]"
    if not isinstance(value, AssociationSpec):
        hint = " (use its .spec)" if hasattr(value, "spec") else ""
        raise TypeError(
            f"{name} must be an AssociationSpec, not {type(value).__name__}{hint}: {value!r}"
        )
    category, type_id = value.association_category, value.association_type_id
    if not isinstance(category, str) or category not in _CATEGORIES:
        raise ValueError(
            f"{name}.association_category {category!r} is not one of {sorted(_CATEGORIES)}"
        )
    if type(type_id) is not int or not 0 <= type_id <= _INT32_MAX:
        raise ValueError(f"{name}.association_type_id {type_id!r} is not an int from 0 to 2**31-1")
    if len(_ACCEPTED_SPECS) < _ACCEPTED_TYPES_MAX:
        _ACCEPTED_SPECS.add(value)
    return value


def check_types(value: object, argument: str = "types") -> tuple[AssociationSpec, ...]:
    """Return the association types of a call: one ``AssociationSpec`` or a sequence of them.

    Duplicates are dropped, first-seen order kept, so the result is what goes
    on the wire.

    Raises:
        TypeError: ``value`` is neither an ``AssociationSpec`` nor a sequence
            (``str`` and ``bytes`` excluded), or an item is not an ``AssociationSpec``.
        ValueError: the sequence is empty, or a category or type id is invalid.
    """
    if isinstance(value, AssociationSpec):
        return (_check_spec(value, argument),)
    # list and tuple first: the ABC check costs more than the rest of the call.
    if (
        type(value) is not list
        and type(value) is not tuple
        and (isinstance(value, str | bytes) or not isinstance(value, Sequence))
    ):
        raise TypeError(
            f"{argument} must be an AssociationSpec or a sequence of them, "
            f"not {type(value).__name__}: {value!r}"
        )
    if not value:
        raise ValueError(f"{argument} is empty: give at least one AssociationSpec")
    checked = [_check_spec(item, argument, index) for index, item in enumerate(value)]
    return tuple(dict.fromkeys(checked)) if len(checked) > 1 else (checked[0],)

"""The one check of a ``types`` argument: one AssociationSpec or a non-empty sequence."""

from __future__ import annotations

import pytest

from hubassoc import AssociationSpec
from hubassoc._models import AssociationSpecWithLabel
from hubassoc._validation import check_types

BOSS = AssociationSpec(association_category="USER_DEFINED", association_type_id=1000)
DEFAULT = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)


def test_one_spec_or_a_sequence_deduplicated_in_order() -> None:
    assert check_types(BOSS) == (BOSS,)
    assert check_types([BOSS, DEFAULT, BOSS]) == (BOSS, DEFAULT)
    assert check_types((DEFAULT,)) == (DEFAULT,)
    # An equal spec built separately is the same type.
    again = AssociationSpec(association_category="USER_DEFINED", association_type_id=1000)
    assert check_types([BOSS, again]) == (BOSS,)


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        ([], ValueError, "types is empty"),
        ((), ValueError, "types is empty"),
        ("USER_DEFINED", TypeError, "not str"),
        (b"x", TypeError, "not bytes"),
        (None, TypeError, "not NoneType"),
        (1000, TypeError, "not int"),
        ({BOSS}, TypeError, "not set"),
        (iter([BOSS]), TypeError, "not list_iterator"),
        ([BOSS, "x"], TypeError, "types[1] must be an AssociationSpec"),
        (
            [AssociationSpecWithLabel(category="USER_DEFINED", type_id=1000)],
            TypeError,
            "use its .spec",
        ),
        (
            AssociationSpec(association_category="NOPE", association_type_id=1),
            ValueError,
            "types.association_category 'NOPE'",
        ),
        (
            [AssociationSpec(association_category=["WORK"], association_type_id=1)],  # type: ignore[arg-type]
            ValueError,
            "types[0].association_category",
        ),
        (
            AssociationSpec(association_category="WORK", association_type_id=-1),
            ValueError,
            "association_type_id -1",
        ),
        (
            AssociationSpec(association_category="WORK", association_type_id=2**31),
            ValueError,
            "association_type_id",
        ),
        (
            AssociationSpec(association_category="WORK", association_type_id="1"),  # type: ignore[arg-type]
            ValueError,
            "association_type_id '1'",
        ),
        (
            AssociationSpec(association_category="WORK", association_type_id=[1]),  # type: ignore[arg-type]
            ValueError,
            "association_type_id [1]",
        ),
    ],
)
def test_refusals_name_the_argument(value: object, error: type[Exception], text: str) -> None:
    with pytest.raises(error) as caught:
        check_types(value)
    assert text in str(caught.value)


def test_a_bool_type_id_is_refused_even_after_its_int_twin_was_accepted() -> None:
    check_types(AssociationSpec(association_category="WORK", association_type_id=1))
    with pytest.raises(ValueError, match="association_type_id True"):
        check_types(AssociationSpec(association_category="WORK", association_type_id=True))


def test_the_argument_name_is_the_callers() -> None:
    with pytest.raises(ValueError, match=r"inputs\[3\]\.types is empty"):
        check_types([], "inputs[3].types")

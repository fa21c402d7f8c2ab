"""Bad input gets a clear error before anything goes on the wire."""

from __future__ import annotations

import pytest

from hubassoc._routes import Routes
from hubassoc._validation import check_api_version, check_object_type, check_record_id

# ... including full-width and superscript digits, which str.isdigit() accepts.
BAD_IDS = ["", "..", "/", "%2F", "1/2", " 1", "1 ", "\t", "12abc", "-1", "+1", "1.0"]
BAD_IDS += ["\uff11\uff12", "\u00b2"]


@pytest.mark.parametrize(
    "value",
    [
        "contacts",
        "companies",
        "line_items",
        "0-1",
        "2-1234567",
        "p123_widget",
        "p7878787_my_object",
        "CONTACTS",
    ],
)
def test_valid_object_types(value: str) -> None:
    assert check_object_type(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "..",
        "/",
        "contacts/..",
        "a b",
        "%2e",
        "0-",
        "-1",
        "1",
        "contacts\n",
        "con%74acts",
        "ß",
        "a" * 101,
        "_x",
    ],
)
def test_invalid_object_types(value: str) -> None:
    with pytest.raises(ValueError, match="object type"):
        check_object_type(value, "from_type")


@pytest.mark.parametrize("value", [None, True, 1, b"contacts", ["contacts"]])
def test_object_types_of_the_wrong_kind(value: object) -> None:
    with pytest.raises(TypeError, match="from_type must be a str"):
        check_object_type(value, "from_type")


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("1", "1"),
        ("0", "0"),
        (0, "0"),
        (42, "42"),
        ("007", "7"),
        ("000", "0"),
        ("9223372036854775807", "9223372036854775807"),
        (2**63 - 1, "9223372036854775807"),
    ],
)
def test_valid_record_ids(value: object, canonical: str) -> None:
    assert check_record_id(value) == canonical


@pytest.mark.parametrize("value", [*BAD_IDS, "9223372036854775808", "99999999999999999999"])
def test_invalid_record_ids(value: str) -> None:
    with pytest.raises(ValueError, match="to_id"):
        check_record_id(value, "to_id")


@pytest.mark.parametrize("value", [-1, 2**63])
def test_out_of_range_int_ids(value: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        check_record_id(value)


@pytest.mark.parametrize("value", [None, True, False, 1.0, b"1", ["1"]])
def test_record_ids_of_the_wrong_kind(value: object) -> None:
    with pytest.raises(TypeError, match="must be a str or int"):
        check_record_id(value)


@pytest.mark.parametrize("value", ["v4", "2026-03", "2026-09", "2027-03"])
def test_api_versions(value: str) -> None:
    assert check_api_version(value) == value


@pytest.mark.parametrize("value", ["v3", "2026-13", "2026-3", "26-03", "", None, "2026-03/.."])
def test_bad_api_versions(value: object) -> None:
    with pytest.raises(ValueError, match="api_version"):
        check_api_version(value)


@pytest.mark.parametrize(
    ("version", "batch", "single", "configs"),
    [
        (
            "v4",
            "/crm/v4/associations/contacts/companies/batch/associate/default",
            "/crm/v4/objects/contacts/1/associations/default/companies/2",
            "/crm/associations/v4/definitions/configurations",
        ),
        (
            "2026-03",
            "/crm/associations/2026-03/contacts/companies/batch/associate/default",
            "/crm/objects/2026-03/contacts/1/associations/default/companies/2",
            "/crm/associations/2026-03/definitions/configurations",
        ),
        (
            "2026-09",
            "/crm/associations/2026-09/contacts/companies/batch/associate/default",
            "/crm/objects/2026-09/contacts/1/associations/default/companies/2",
            "/crm/associations/2026-09/definitions/configurations",
        ),
    ],
)
def test_routes_per_version(version: str, batch: str, single: str, configs: str) -> None:
    routes = Routes(version)
    assert routes.batch_associate_default("contacts", "companies") == batch
    assert routes.put_default("contacts", "1", "companies", "2") == single
    assert routes.configurations_all() == f"{configs}/all"
    assert routes.configurations("0-1", "0-2") == f"{configs}/0-1/0-2"
    assert routes.configurations_batch("0-1", "0-2", "purge") == f"{configs}/0-1/0-2/batch/purge"


def test_route_segments_are_percent_encoded() -> None:
    # Validation keeps such values out; the encoding is a second line of defence.
    assert Routes("v4").configurations("a/b", "c%d") == (
        "/crm/associations/v4/definitions/configurations/a%2Fb/c%25d"
    )


def test_batch_pairs_are_checked_and_canonical() -> None:
    from hubassoc._inputs import check_pairs as _check_pairs

    assert _check_pairs([("1", "2"), (3, "004"), ("007", 8), ("0", "0")]) == [
        ("1", "2"),
        ("3", "4"),
        ("7", "8"),
        ("0", "0"),
    ]
    for bad in ([("1", "\uff12")], [("1",)], ["12"], [("1", "2", "3")], [(None, "1")]):
        with pytest.raises((ValueError, TypeError), match=r"pairs\[0\]"):
            _check_pairs(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"pairs\[1\]: to_id '12abc'"):
        _check_pairs([("1", "2"), ("3", "12abc")])

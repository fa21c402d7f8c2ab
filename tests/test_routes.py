"""Paths per API version: templates name requests, concrete paths are percent-encoded."""

from __future__ import annotations

import pytest

from hubassoc._routes import Routes

A = {"v4": "/crm/v4/associations", "2026-03": "/crm/associations/2026-03"}
O = {"v4": "/crm/v4/objects", "2026-03": "/crm/objects/2026-03"}  # noqa: E741
LABELS = {"v4": "/crm/associations/v4", "2026-03": "/crm/associations/2026-03"}


@pytest.mark.parametrize("version", ["v4", "2026-03"])
def test_operation_paths(version: str) -> None:
    routes = Routes(version)
    a, o, labels = A[version], O[version], LABELS[version]
    assert routes.batch_create("contacts", "0-2") == f"{a}/contacts/0-2/batch/create"
    assert routes.batch_archive("contacts", "0-2") == f"{a}/contacts/0-2/batch/archive"
    assert routes.batch_labels_archive("contacts", "0-2") == (
        f"{a}/contacts/0-2/batch/labels/archive"
    )
    assert routes.batch_read("contacts", "0-2") == f"{a}/contacts/0-2/batch/read"
    assert routes.batch_associate_default("contacts", "0-2") == (
        f"{a}/contacts/0-2/batch/associate/default"
    )
    assert routes.put_labelled("contacts", "1", "companies", "2") == (
        f"{o}/contacts/1/associations/companies/2"
    )
    assert routes.delete("contacts", "1", "companies", "2") == (
        f"{o}/contacts/1/associations/companies/2"
    )
    assert routes.list_associations("contacts", "1", "companies", limit=500) == (
        f"{o}/contacts/1/associations/companies?limit=500"
    )
    assert routes.list_associations("contacts", "1", "companies", limit=3, after="MTAw") == (
        f"{o}/contacts/1/associations/companies?limit=3&after=MTAw"
    )
    assert routes.labels("contacts", "companies") == f"{labels}/contacts/companies/labels"
    assert routes.label("contacts", "companies", 1001) == (
        f"{labels}/contacts/companies/labels/1001"
    )
    assert routes.high_usage_report(77) == f"{a}/usage/high-usage-report/77"


@pytest.mark.parametrize("version", ["v4", "2026-03"])
def test_templates_hold_placeholders_not_values(version: str) -> None:
    templates = Routes(version).templates
    a, o, labels = A[version], O[version], LABELS[version]
    batch = f"{a}/{{fromObjectType}}/{{toObjectType}}/batch"
    assert templates.batch_create == f"{batch}/create"
    assert templates.batch_archive == f"{batch}/archive"
    assert templates.batch_labels_archive == f"{batch}/labels/archive"
    assert templates.batch_read == f"{batch}/read"
    pair = f"{o}/{{fromObjectType}}/{{fromObjectId}}/associations/{{toObjectType}}/{{toObjectId}}"
    assert templates.put_labelled == templates.delete == pair
    assert templates.list_associations == (
        f"{o}/{{objectType}}/{{objectId}}/associations/{{toObjectType}}"
    )
    assert templates.labels == f"{labels}/{{fromObjectType}}/{{toObjectType}}/labels"
    assert templates.label == f"{templates.labels}/{{associationTypeId}}"
    assert templates.high_usage_report == f"{a}/usage/high-usage-report/{{userId}}"


def test_segments_and_cursor_are_percent_encoded() -> None:
    routes = Routes("2026-03")
    assert routes.batch_read("a/b", "c d") == "/crm/associations/2026-03/a%2Fb/c%20d/batch/read"
    assert routes.put_labelled("a", "1/2", "b", "?") == (
        "/crm/objects/2026-03/a/1%2F2/associations/b/%3F"
    )
    assert routes.list_associations("a", "1", "b", limit=2, after="x&y=z/") == (
        "/crm/objects/2026-03/a/1/associations/b?limit=2&after=x%26y%3Dz%2F"
    )
    assert routes.labels("a?", "b#") == "/crm/associations/2026-03/a%3F/b%23/labels"


def test_batch_paths_are_cached_per_type_pair_and_action() -> None:
    routes = Routes("v4")
    first = routes.batch_read("contacts", "companies")
    assert routes.batch_read("contacts", "companies") is first
    assert routes.batch_create("contacts", "companies") is not first


@pytest.mark.parametrize(
    ("version", "available"),
    [("v4", True), ("2025-09", True), ("2026-03", True), ("2026-09", False), ("2027-03", False)],
)
def test_per_record_read_is_gone_from_2026_09(version: str, available: bool) -> None:
    assert Routes(version).has_list_associations is available

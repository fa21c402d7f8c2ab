"""Every answer of the sandbox, checked against the schema HubSpot's specs declare for it.

For each version (v4, 2026-03, 2026-09) and each in-scope endpoint, success,
partial-success and error answers are validated against the spec's schema for
that path, method and status (``default`` -> ``Error`` for error statuses). A
2xx status the spec does not declare fails, so the per-version status codes are
checked too. The schemas come from ``tests/schemas/`` (extracted from the specs
by ``tests/schemas/extract.py``). 429 bodies are not in the specs; they are
checked against the shape ``docs/hubspot.md`` records.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jsonschema
import pytest

from hubassoc.sandbox import Sandbox

from .spec_schemas import SPEC_NAMES, SpecBook

SandboxFactory = Callable[..., Awaitable[Sandbox]]

VERSIONS = ("v4", "2026-03", "2026-09")


@pytest.fixture(scope="module")
def spec_book() -> SpecBook:
    book = SpecBook()
    # Every version of both specs is there, so the coverage check below cannot shrink.
    assert sorted(book.spec_names) == sorted(SPEC_NAMES)
    return book


class Checker:
    """Sends requests and validates every answer; remembers what it covered."""

    def __init__(self, book: SpecBook, session: aiohttp.ClientSession) -> None:
        self.book = book
        self.session = session
        self.covered: set[tuple[str, str, str]] = set()

    async def check(
        self, method: str, path: str, body: Any = None, *, expect: int | None = None
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {}
        if isinstance(body, bytes):
            kwargs = {"data": body, "headers": {"Content-Type": "application/json"}}
        elif body is not None:
            kwargs = {"json": body}
        async with self.session.request(method, path, **kwargs) as response:
            raw = await response.read()
            status = response.status
        if expect is not None:
            assert status == expect, (method, path, status, raw[:300])
        self.book.validate(method, path, status, raw)
        operation = self.book.operation(method, path)
        declared = str(status) if str(status) in operation.responses else "default"
        self.covered.add((operation.spec_name, f"{method} {operation.template}", declared))
        return status, json.loads(raw) if raw else None


def batch_path(version: str, pair: str = "contacts/companies") -> str:
    if version == "v4":
        return f"/crm/v4/associations/{pair}/batch/associate/default"
    return f"/crm/associations/{version}/{pair}/batch/associate/default"


def single_path(version: str, from_id: str = "1", to_id: str = "2") -> str:
    tail = f"contacts/{from_id}/associations/default/deals/{to_id}"
    return f"/crm/v4/objects/{tail}" if version == "v4" else f"/crm/objects/{version}/{tail}"


def pairs(*items: tuple[str, str]) -> dict[str, Any]:
    return {"inputs": [{"from": {"id": f}, "to": {"id": t}} for f, t in items]}


async def test_every_answer_matches_the_specs(
    spec_book: SpecBook, sandbox_factory: SandboxFactory
) -> None:
    sandbox = await sandbox_factory(not_found_ids={"13"}, poison_ids={"666"}, max_batch_size=5)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        checker = Checker(spec_book, session)
        for version in VERSIONS:
            await check_associations(checker, sandbox, version)
            await check_configurations(checker, version)
            await check_labelled_writes(checker, sandbox, version)
            await check_reads(checker, sandbox, version)
            await check_labels(checker, version)
        # The SDK's legacy aliases of the configuration and label paths answer as v4 does.
        await check_configurations(checker, "v4", alias=True)
        await check_labels(checker, "v4", alias=True)
    async with aiohttp.ClientSession(sandbox.url) as anonymous:
        unauthenticated = Checker(spec_book, anonymous)
        for version in VERSIONS:
            await unauthenticated.check("POST", batch_path(version), pairs(("1", "2")), expect=401)
            await unauthenticated.check("PUT", single_path(version), expect=401)
            base = f"/crm/associations/{version}/definitions/configurations"
            await unauthenticated.check("GET", f"{base}/all", expect=401)
            await unauthenticated.check("GET", f"{base}/contacts/deals", expect=401)
            for tail in ("create", "archive", "labels/archive", "read"):
                path = ops_path(version, f"batch/{tail}")
                await unauthenticated.check("POST", path, {"inputs": []}, expect=401)
            await unauthenticated.check(
                "PUT", object_path(version, "1/associations/companies/2"), [], expect=401
            )
            await unauthenticated.check(
                "DELETE", object_path(version, "1/associations/companies/2"), expect=401
            )
            if version != "2026-09":
                await unauthenticated.check(
                    "GET", object_path(version, "1/associations/companies"), expect=401
                )
            await unauthenticated.check("GET", labels_path(version), expect=401)
            await unauthenticated.check("POST", usage_path(version), expect=401)

    # Every status each in-scope operation declares was produced and validated.
    wanted = set()
    for spec_name in spec_book.spec_names:
        for method, template, status in declared_in_scope(spec_book, spec_name):
            wanted.add((spec_name, f"{method} {template}", status))
    assert wanted - (checker.covered | unauthenticated.covered) == set()


def declared_in_scope(book: SpecBook, spec_name: str) -> list[tuple[str, str, str]]:
    # tests/schemas/ holds the association operations only: every one is in scope.
    return [
        (method, template, status)
        for method, template, statuses in book.operations(spec_name)
        for status in statuses
    ]


def ops_path(version: str, tail: str, pair: str = "contacts/companies") -> str:
    if version == "v4":
        return f"/crm/v4/associations/{pair}/{tail}"
    return f"/crm/associations/{version}/{pair}/{tail}"


def object_path(version: str, tail: str) -> str:
    prefix = "/crm/v4/objects" if version == "v4" else f"/crm/objects/{version}"
    return f"{prefix}/contacts/{tail}"


def labels_path(version: str, tail: str = "", *, alias: bool = False) -> str:
    base = "/crm/v4/associations" if alias else f"/crm/associations/{version}"
    return f"{base}/deals/companies/labels{tail}"


def usage_path(version: str, user: str = "7") -> str:
    base = "/crm/v4/associations" if version == "v4" else f"/crm/associations/{version}"
    return f"{base}/usage/high-usage-report/{user}"


USER_TYPE = {"associationCategory": "USER_DEFINED", "associationTypeId": 1000}


def typed(*items: tuple[str, str]) -> dict[str, Any]:
    return {
        "inputs": [{"from": {"id": f}, "to": {"id": t}, "types": [USER_TYPE]} for f, t in items]
    }


async def check_associations(checker: Checker, sandbox: Sandbox, version: str) -> None:
    path = batch_path(version)
    await checker.check("POST", path, pairs(("1", "2"), ("3", "4")), expect=200)
    for style in ("per_side", "ids", "none"):
        sandbox.configure(error_style=style)
        _, body = await checker.check(
            "POST", path, pairs(("1", "2"), ("13", "4"), ("5", "13")), expect=200
        )
        assert body["numErrors"] == len(body["errors"]) >= 1
    sandbox.configure(error_style="per_side")
    # Unknown fields must not break the schema (it allows additional properties).
    sandbox.configure(extra_fields=True)
    await checker.check("POST", path, pairs(("1", "2"), ("13", "4")), expect=200)
    await checker.check("POST", path, b"{", expect=400)
    sandbox.configure(extra_fields=False)
    await checker.check("POST", path, b"{", expect=400)
    await checker.check("POST", path, {"inputs": [{"from": {}}]}, expect=400)
    await checker.check("POST", path, pairs(("1", "x")), expect=400)
    await checker.check("POST", path, pairs(("1", "2"), ("666", "3")), expect=400)
    await checker.check("POST", path, pairs(*[(str(i), "1") for i in range(1, 7)]), expect=400)
    await checker.check("POST", batch_path(version, "foo bar/companies"), pairs(), expect=400)
    for status in (503, 504, 423, 477, 500):
        sandbox.script([status])
        await checker.check("POST", path, pairs(("1", "2")), expect=status)

    single = single_path(version)
    await checker.check("PUT", single, expect=200)
    await checker.check("PUT", single_path(version, "13", "2"), expect=404)
    await checker.check("PUT", single_path(version, "1", "abc"), expect=400)
    sandbox.script([503])
    await checker.check("PUT", single, expect=503)

    sandbox.script([429])
    async with checker.session.post(path, json=pairs(("1", "2"))) as response:
        assert response.status == 429
        body = await response.json()
    assert set(body) == {
        "status",
        "message",
        "errorType",
        "correlationId",
        "policyName",
        "requestId",
    }
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"


async def check_configurations(checker: Checker, version: str, *, alias: bool = False) -> None:
    base = (
        "/crm/v4/associations/definitions/configurations"
        if alias
        else f"/crm/associations/{version}/definitions/configurations"
    )
    pair = f"{base}/deals/tickets"
    item = {"category": "USER_DEFINED", "typeId": 11, "maxToObjectIds": 3}
    other = {"category": "HUBSPOT_DEFINED", "typeId": 27, "maxToObjectIds": 1}
    dated_09 = version == "2026-09"

    await checker.check(
        "POST", f"{pair}/batch/create", {"inputs": [item]}, expect=200 if dated_09 else 201
    )
    _, body = await checker.check(
        "POST", f"{pair}/batch/create", {"inputs": [item, other]}, expect=200 if dated_09 else 207
    )
    assert body["numErrors"] == 1
    await checker.check("POST", f"{pair}/batch/create", {"inputs": [{"typeId": 1}]}, expect=400)
    await checker.check("GET", f"{base}/all", expect=200)
    _, body = await checker.check("GET", pair, expect=200)
    assert len(body["results"]) == 2
    await checker.check("GET", f"{base}/deals/tickets", expect=200)

    update = {"inputs": [{**item, "maxToObjectIds": 4}]}
    await checker.check("POST", f"{pair}/batch/update", update, expect=200)
    missing = {"inputs": [{**item, "typeId": 12}]}
    await checker.check("POST", f"{pair}/batch/update", missing, expect=200 if dated_09 else 207)
    await checker.check("POST", f"{pair}/batch/update", b"[]", expect=400)

    purge = {
        "inputs": [
            {"category": "USER_DEFINED", "typeId": 11},
            {"category": "HUBSPOT_DEFINED", "typeId": 27},
        ]
    }
    status, body = await checker.check("POST", f"{pair}/batch/purge", purge)
    assert status == (204 if version == "v4" else 200)
    status, body = await checker.check("POST", f"{pair}/batch/purge", purge)
    if version != "v4":
        assert body["numErrors"] == 2
    await checker.check("POST", f"{pair}/batch/purge", {"inputs": "x"}, expect=400)


async def check_labelled_writes(checker: Checker, sandbox: Sandbox, version: str) -> None:
    dated_09 = version == "2026-09"
    create = ops_path(version, "batch/create")
    sandbox.reset()
    sandbox.define_label("contacts", "companies", "Manager")
    _, body = await checker.check(
        "POST", create, typed(("1", "2")), expect=200 if dated_09 else 201
    )
    assert body["results"][0]["labels"] == ["Manager"]
    _, body = await checker.check(
        "POST", create, typed(("1", "2"), ("13", "3")), expect=200 if dated_09 else 207
    )
    assert body["numErrors"] == 1
    sandbox.configure(extra_fields=True)
    await checker.check("POST", create, typed(("1", "3")), expect=200 if dated_09 else 201)
    sandbox.configure(extra_fields=False)
    await checker.check("POST", create, {"inputs": [{"from": {"id": "1"}}]}, expect=400)
    await checker.check("POST", create, typed(("666", "2")), expect=400)

    no_body = 204 if version == "v4" else 200
    for tail, body in (
        ("batch/labels/archive", typed(("1", "2"), ("13", "2"))),
        ("batch/archive", {"inputs": [{"from": {"id": "1"}, "to": [{"id": "2"}, {"id": "13"}]}]}),
    ):
        path = ops_path(version, tail)
        _, answer = await checker.check("POST", path, body, expect=no_body)
        if version != "v4":
            assert answer["numErrors"] == 1
        await checker.check("POST", path, {"inputs": [{"to": []}]}, expect=400)

    single = object_path(version, "1/associations/companies/4")
    _, body = await checker.check("PUT", single, [USER_TYPE], expect=201)
    assert body["labels"] == ["Manager"]
    await checker.check("PUT", single, [{"associationTypeId": 1}], expect=400)
    await checker.check("DELETE", single, expect=204)
    await checker.check("DELETE", object_path(version, "13/associations/companies/4"), expect=404)


async def check_reads(checker: Checker, sandbox: Sandbox, version: str) -> None:
    sandbox.reset()
    sandbox.configure(read_page_size=2)
    sandbox.seed_associations("contacts", "companies", [("1", str(i)) for i in range(1, 6)])
    sandbox.seed_associations("contacts", "companies", [("2", "9", [("USER_DEFINED", 1000)])])
    sandbox.define_label("contacts", "companies", "Manager")
    read = ops_path(version, "batch/read")
    inputs = {"inputs": [{"id": "1"}, {"id": "2"}, {"id": "1", "after": "4"}, {"id": "3"}]}
    _, body = await checker.check("POST", read, inputs, expect=200)
    assert body["results"][0]["paging"]["next"]["after"] == "2"
    with_missing = {"inputs": [{"id": "1"}, {"id": "13"}]}
    _, body = await checker.check(
        "POST", read, with_missing, expect=200 if version == "2026-09" else 207
    )
    assert body["numErrors"] == 1
    sandbox.configure(no_associations_errors=True, extra_fields=True)
    _, body = await checker.check(
        "POST", read, {"inputs": [{"id": "3"}]}, expect=200 if version == "2026-09" else 207
    )
    assert body["results"] == [] and body["numErrors"] == 1
    sandbox.configure(no_associations_errors=False, extra_fields=False)
    too_many = {"inputs": [{"id": str(i)} for i in range(1, 8)]}
    await checker.check("POST", read, too_many, expect=400)
    await checker.check("POST", read, {"inputs": [{"id": "1", "after": "x"}]}, expect=400)
    if version != "2026-09":
        listing = object_path(version, "1/associations/companies")
        _, body = await checker.check("GET", f"{listing}?limit=1", expect=200)
        assert body["paging"]["next"]["after"] == "1"
        await checker.check("GET", f"{listing}?after=4", expect=200)
        await checker.check("GET", f"{listing}?limit=0", expect=400)
        await checker.check("GET", object_path(version, "13/associations/companies"), expect=404)
    _, body = await checker.check("POST", usage_path(version), expect=200)
    assert body["userId"] == 7
    await checker.check("POST", usage_path(version, "x"), expect=400)
    sandbox.configure(read_page_size=500)


async def check_labels(checker: Checker, version: str, *, alias: bool = False) -> None:
    def path(tail: str = "") -> str:
        return labels_path(version, tail, alias=alias)

    create = {"label": "Buyer", "name": f"buyer_{version}_{alias}", "inverseLabel": "Bought by"}
    _, body = await checker.check("POST", path(), create, expect=200)
    type_id = body["results"][0]["typeId"]
    assert [r["label"] for r in body["results"]] == ["Buyer", "Bought by"]
    await checker.check("POST", path(), create, expect=400)
    _, body = await checker.check("GET", path(), expect=200)
    assert body["results"][0]["category"] == "HUBSPOT_DEFINED"
    update = {"associationTypeId": type_id, "label": "Purchaser"}
    await checker.check("PUT", path(), update, expect=204)
    await checker.check("PUT", path(), {**update, "associationTypeId": 999_999}, expect=404)
    await checker.check("DELETE", path(f"/{type_id}"), expect=204)
    await checker.check("DELETE", path(f"/{type_id}"), expect=404)
    await checker.check("DELETE", path("/x"), expect=400)


def test_the_checker_is_not_vacuous(spec_book: SpecBook) -> None:
    path = batch_path("2026-09")
    good = {
        "status": "COMPLETE",
        "results": [
            {
                "from": {"id": "1"},
                "to": {"id": "2"},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": 1,
                },
            }
        ],
        "startedAt": "2026-01-01T00:00:00.000Z",
        "completedAt": "2026-01-01T00:00:00.000Z",
    }
    spec_book.validate("POST", path, 200, json.dumps(good).encode())
    # Either shape of subCategory passes (see spec_schemas._patch); anything else does not.
    error = {
        "status": "error",
        "category": "X",
        "message": "m",
        "context": {},
        "errors": [],
        "links": {},
    }
    for sub in ("crm.x", {"name": "crm.x"}):
        body = {**good, "errors": [{**error, "subCategory": sub}]}
        spec_book.validate("POST", path, 200, json.dumps(body).encode())
    bad_bodies = [
        {**good, "results": [{"from": {"id": "1"}}]},
        {**good, "status": "DONE"},
        {**good, "startedAt": "yesterday"},
        {**good, "errors": [{**error, "subCategory": 5}]},
        {**good, "errors": [{**error, "context": {"ids": "1"}}]},
    ]
    for bad in bad_bodies:
        with pytest.raises(jsonschema.ValidationError):
            spec_book.validate("POST", path, 200, json.dumps(bad).encode())
    with pytest.raises(AssertionError, match="does not declare"):
        spec_book.validate("POST", path, 201, json.dumps(good).encode())
    not_uuid = {"category": "X", "message": "m", "correlationId": "nope"}
    with pytest.raises(jsonschema.ValidationError):
        spec_book.validate("POST", path, 400, json.dumps(not_uuid).encode())
    purge = "/crm/associations/v4/definitions/configurations/a/b/batch/purge"
    with pytest.raises(AssertionError, match="no body"):
        spec_book.validate("POST", purge, 204, b"{}")

"""Direct single calls: labelled put, delete, the per-record read, labels, usage report.

Bad input is refused before anything is sent; answers that HubSpot would never
send (about other records, a cursor that never moves) fail cleanly; and
against the sandbox every call does what HubSpot does, on every version.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from hubassoc import (
    AssociationsClient,
    AssociationSpec,
    AssociationSpecWithLabel,
    DecodingError,
    HubSpotError,
    InvalidRequestError,
    MultiAssociatedObjectWithLabel,
)
from hubassoc.events import RequestSent
from hubassoc.sandbox import Sandbox

from .conftest import ClientFactory, SandboxFactory
from .hostile import HostileServer, hostile

__all__ = ["hostile"]  # the fixture, for pytest

TOKEN = "pat-na1-" + "s" * 32
BOSS = AssociationSpec(association_category="USER_DEFINED", association_type_id=1000)


# --- bad input: refused before anything is sent ----------------------------------------


async def _refused(
    client: AssociationsClient, call: Any, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as caught:
        await call(client)
    assert text in str(caught.value)
    assert client.stats.requests == 0


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda c: c.put("contacts", "1", "companies", "2", []), ValueError, "types is empty"),
        (lambda c: c.put("contacts", "1", "companies", "2", "x"), TypeError, "types must be"),
        (lambda c: c.put("contacts", "1", "companies", "2", None), TypeError, "types must be"),
        (
            lambda c: c.put(
                "contacts",
                "1",
                "companies",
                "2",
                [AssociationSpecWithLabel(category="WORK", type_id=1)],
            ),
            TypeError,
            "use its .spec",
        ),
        (lambda c: c.put("contacts", "x", "companies", "2", BOSS), ValueError, "from_id 'x'"),
        (lambda c: c.put("con tacts", "1", "companies", "2", BOSS), ValueError, "from_type"),
        (lambda c: c.put("contacts", "1", "companies", -2, BOSS), ValueError, "to_id -2"),
        (lambda c: c.delete("contacts", "1", "companies", None), TypeError, "to_id"),
        (lambda c: c.delete("contacts", "1", "", "2"), ValueError, "to_type ''"),
        (lambda c: c.high_usage_report(0), ValueError, "user_id 0"),
        (lambda c: c.high_usage_report(True), TypeError, "user_id must be an int"),
        (lambda c: c.high_usage_report("7"), TypeError, "user_id must be an int"),
        (lambda c: c.high_usage_report(2**31), ValueError, "user_id"),
        (lambda c: c.labels.list("contacts", "x/y"), ValueError, "to_type"),
        (
            lambda c: c.labels.create("contacts", "companies", label="", name="boss"),
            ValueError,
            "label '' is empty",
        ),
        (
            lambda c: c.labels.create("contacts", "companies", label="Boss", name=None),
            TypeError,
            "name must be a str",
        ),
        (
            lambda c: c.labels.create(
                "contacts", "companies", label="Boss", name="boss", inverse_label=5
            ),
            TypeError,
            "inverse_label must be a str",
        ),
        (
            lambda c: c.labels.update("contacts", "companies", True, label="Boss"),
            TypeError,
            "type_id must be an int",
        ),
        (
            lambda c: c.labels.update("contacts", "companies", 1000, label=" "),
            ValueError,
            "label ' ' is empty",
        ),
        (lambda c: c.labels.delete("contacts", "companies", -1), ValueError, "type_id -1"),
        (lambda c: c.labels.delete("contacts", "companies", "1000"), TypeError, "type_id"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    make_client: ClientFactory, call: Any, error: type[Exception], text: str
) -> None:
    await _refused(make_client(), call, error, text)


@pytest.mark.parametrize(
    ("page_size", "error"),
    [(0, ValueError), (501, ValueError), (True, TypeError), ("5", TypeError)],
)
async def test_iter_associations_checks_page_size_when_called(
    make_client: ClientFactory, page_size: Any, error: type[Exception]
) -> None:
    client = make_client()
    with pytest.raises(error, match="page_size"):
        client.iter_associations("contacts", "1", "companies", page_size=page_size)
    with pytest.raises(ValueError, match="from_id"):
        client.iter_associations("contacts", "1.5", "companies")
    assert client.stats.requests == 0


async def test_iter_associations_is_not_on_2026_09(make_client: ClientFactory) -> None:
    client = make_client(api_version="2026-09")
    with pytest.raises(ValueError, match=r"'2026-09'.*get_associations"):
        client.iter_associations("contacts", "1", "companies")
    assert client.stats.requests == 0


def test_the_call_groups_show_their_version(make_client: ClientFactory) -> None:
    client = make_client(api_version="v4")
    assert repr(client.labels) == "<Labels api_version='v4'>"
    assert repr(client.configurations) == "<Configurations api_version='v4'>"


# --- answers HubSpot would never send ---------------------------------------------------


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body), content_type="application/json")


async def test_put_refuses_an_answer_about_other_records(hostile: HostileServer) -> None:
    async def other_pair(request: web.Request) -> web.StreamResponse:
        return _json(
            {
                "fromObjectTypeId": "0-1",
                "fromObjectId": 1,
                "toObjectTypeId": "0-2",
                "toObjectId": 3,
                "labels": [TOKEN],
            },
            201,
        )

    hostile.handler = other_pair
    async with AssociationsClient(TOKEN, base_url=hostile.url, rate_limit=False) as client:
        with pytest.raises(DecodingError, match="not about the pair sent") as caught:
            await client.put("contacts", 1, "companies", 2, BOSS)
    assert TOKEN not in repr(vars(caught.value)) + str(caught.value)


async def test_put_accepts_the_pair_either_way_and_numeric_ids(hostile: HostileServer) -> None:
    seen: list[tuple[str, bytes]] = []

    async def reversed_pair(request: web.Request) -> web.StreamResponse:
        seen.append((f"{request.method} {request.path}", await request.read()))
        return _json(
            {
                "fromObjectTypeId": "0-2",
                "fromObjectId": 2,
                "toObjectTypeId": "0-1",
                "toObjectId": "1",
                "labels": ["Boss"],
            },
            201,
        )

    hostile.handler = reversed_pair
    async with AssociationsClient(
        TOKEN, base_url=hostile.url, rate_limit=False, api_version="v4"
    ) as client:
        result = await client.put("contacts", "01", "companies", 2, [BOSS, BOSS])
    assert (result.from_object_id, result.to_object_id, result.labels) == ("2", "1", ["Boss"])
    assert seen == [
        (
            "PUT /crm/v4/objects/contacts/1/associations/companies/2",
            b'[{"associationCategory":"USER_DEFINED","associationTypeId":1000}]',
        )
    ]


async def test_iter_associations_stops_on_a_cursor_that_never_moves(
    hostile: HostileServer,
) -> None:
    queries: list[str] = []

    async def stuck(request: web.Request) -> web.StreamResponse:
        queries.append(request.query_string)
        return _json(
            {
                "results": [{"toObjectId": 5, "associationTypes": []}],
                "paging": {"next": {"after": "same"}},
            }
        )

    hostile.handler = stuck
    received: list[MultiAssociatedObjectWithLabel] = []
    routes: list[str] = []

    def on_event(event: object) -> None:
        if isinstance(event, RequestSent):
            routes.append(event.route)

    async with AssociationsClient(
        TOKEN, base_url=hostile.url, rate_limit=False, on_event=on_event
    ) as client:
        with pytest.raises(DecodingError, match="repeats the cursor"):
            async for record in client.iter_associations("contacts", 1, "companies"):
                received.append(record)
    assert queries == ["limit=500", "limit=500&after=same"]
    # Events name the request by its template: no ids, no cursor.
    assert (
        routes == ["/crm/objects/2026-03/{objectType}/{objectId}/associations/{toObjectType}"] * 2
    )
    assert [record.to_object_id for record in received] == ["5", "5"]


# --- against the sandbox, on every version ----------------------------------------------

VERSIONS = ["v4", "2026-03", "2026-09"]
READ_VERSIONS = ["v4", "2026-03"]  # the per-record GET is gone from 2026-09
CONTACT_TO_COMPANY = AssociationSpec(
    association_category="HUBSPOT_DEFINED", association_type_id=279
)


async def _label(client: AssociationsClient, label: str = "Manager") -> AssociationSpec:
    types = await client.labels.create("contacts", "companies", label=label, name=label.lower())
    return next(t.spec for t in types if t.label == label)


@pytest.mark.parametrize("version", VERSIONS)
async def test_label_definitions_round_trip(
    make_client: ClientFactory, sandbox: Sandbox, version: str
) -> None:
    client = make_client(api_version=version)
    before = await client.labels.list("contacts", "companies")
    assert all(t.label != "Manager" for t in before)
    created = await client.labels.create(
        "contacts", "companies", label="Manager", name="manager", inverse_label="Employee"
    )
    manager = next(t for t in created if t.label == "Manager")
    assert manager.category == "USER_DEFINED" and manager.type_id >= 1000
    listed = await client.labels.list("contacts", "companies")
    assert manager in listed
    await client.labels.update("contacts", "companies", manager.type_id, label="Boss")
    renamed = {t.type_id: t.label for t in await client.labels.list("contacts", "companies")}
    assert renamed[manager.type_id] == "Boss"
    await client.labels.delete("contacts", "companies", manager.type_id)
    after = await client.labels.list("contacts", "companies")
    assert manager.type_id not in {t.type_id for t in after}
    assert {t.type_id for t in after} == {t.type_id for t in before}
    assert len(sandbox.labels("contacts", "companies")) == len(after)


@pytest.mark.parametrize("version", VERSIONS)
async def test_put_with_a_label_then_delete(
    make_client: ClientFactory, sandbox: Sandbox, version: str
) -> None:
    client = make_client(api_version=version)
    manager = await _label(client)
    result = await client.put("contacts", 1, "companies", "2", [CONTACT_TO_COMPANY, manager])
    assert (result.from_object_id, result.to_object_id) == ("1", "2")
    assert "Manager" in result.labels
    stored = sandbox.associations("contacts", "companies", 1)
    assert {key: set(types) for key, types in stored.items()} == {
        "2": {("HUBSPOT_DEFINED", 279), ("USER_DEFINED", manager.association_type_id)}
    }
    if version in READ_VERSIONS:
        (record,) = [r async for r in client.iter_associations("contacts", 1, "companies")]
        assert record.to_object_id == "2"
        assert {t.spec for t in record.association_types} == {CONTACT_TO_COMPANY, manager}
        # Associations go both ways: the company lists the contact too.
        (back,) = [r async for r in client.iter_associations("companies", 2, "contacts")]
        assert back.to_object_id == "1"
    # Removed from the other side, as HubSpot allows.
    await client.delete("companies", 2, "contacts", 1)
    assert sandbox.associations("contacts", "companies", 1) == {}
    if version in READ_VERSIONS:
        assert [r async for r in client.iter_associations("contacts", 1, "companies")] == []
        assert [r async for r in client.iter_associations("companies", 2, "contacts")] == []


@pytest.mark.parametrize("version", READ_VERSIONS)
@pytest.mark.parametrize(("read_page_size", "page_size"), [(4, 500), (500, 3), (5, 5)])
async def test_iter_associations_follows_every_page(
    sandbox_factory: SandboxFactory,
    make_client: ClientFactory,
    version: str,
    read_page_size: int,
    page_size: int,
) -> None:
    sandbox = await sandbox_factory(read_page_size=read_page_size)
    client = make_client(sandbox, api_version=version)
    to_ids = [str(n) for n in range(100, 125)]
    outcome = await client.batch_associate_default(
        "contacts", "companies", [("7", to_id) for to_id in to_ids]
    )
    outcome.raise_for_errors()
    before = client.stats.requests
    records = [
        record
        async for record in client.iter_associations(
            "contacts", "7", "companies", page_size=page_size
        )
    ]
    assert sorted(record.to_object_id for record in records) == to_ids
    assert all(
        CONTACT_TO_COMPANY in {t.spec for t in record.association_types} for record in records
    )
    per_page = min(read_page_size, page_size)
    assert client.stats.requests - before == -(-25 // per_page)  # no empty last page


@pytest.mark.parametrize("version", VERSIONS)
async def test_high_usage_report(make_client: ClientFactory, version: str) -> None:
    report = await make_client(api_version=version).high_usage_report(4242)
    assert report.user_id == 4242
    assert report.user_email
    assert report.enqueue_time.tzinfo is not None


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_missing_record_fails_put_without_the_token_in_the_error(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str
) -> None:
    sandbox = await sandbox_factory(token=TOKEN, not_found_ids={"404"})
    client = make_client(sandbox, api_version=version)
    with pytest.raises(HubSpotError) as caught:
        await client.put("contacts", 1, "companies", 404, CONTACT_TO_COMPANY)
    assert not isinstance(caught.value, DecodingError)
    assert TOKEN not in repr(vars(caught.value)) + str(caught.value)


@pytest.mark.parametrize("version", READ_VERSIONS)
@pytest.mark.parametrize("numeric", [False, True], ids=["string-ids", "int64-ids"])
async def test_a_record_with_2000_labelled_associations_is_read_whole(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str, numeric: bool
) -> None:
    sandbox = await sandbox_factory(numeric_object_ids=numeric)
    (manager, *_) = sandbox.define_label("contacts", "companies", "Manager")
    labelled = ("USER_DEFINED", manager["typeId"])
    rows = [(5, n, [labelled]) if n % 7 == 0 else (5, n) for n in range(10**12, 10**12 + 2000)]
    sandbox.seed_associations("contacts", "companies", rows)
    client = make_client(sandbox, api_version=version)
    records = [r async for r in client.iter_associations("contacts", 5, "companies")]
    assert client.stats.requests == 4  # 500 a page
    assert [r.to_object_id for r in records] == [str(n) for n in range(10**12, 10**12 + 2000)]
    with_label = [r for r in records if any(t.label == "Manager" for t in r.association_types)]
    assert [r.to_object_id for r in with_label] == [str(row[1]) for row in rows if len(row) == 3]
    assert {t.spec for t in with_label[0].association_types} == {
        CONTACT_TO_COMPANY,
        AssociationSpec(association_category="USER_DEFINED", association_type_id=manager["typeId"]),
    }


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_records_and_labels_fail_with_hubspot_errors(
    sandbox_factory: SandboxFactory, make_client: ClientFactory, version: str
) -> None:
    sandbox = await sandbox_factory(token=TOKEN, not_found_ids={"404"})
    client = make_client(sandbox, api_version=version)
    calls = [
        client.delete("contacts", 1, "companies", 404),
        client.labels.update("contacts", "companies", 5555, label="x"),
        client.labels.delete("contacts", "companies", 5555),
    ]
    for call in calls:
        with pytest.raises(InvalidRequestError) as caught:
            await call
        assert caught.value.status == 404
        assert TOKEN not in repr(vars(caught.value)) + str(caught.value)

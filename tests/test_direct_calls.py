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
    MultiAssociatedObjectWithLabel,
)
from hubassoc.events import RequestSent

from .conftest import ClientFactory
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

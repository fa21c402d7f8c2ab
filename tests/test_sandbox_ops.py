"""The sandbox's association operations beyond the default type, over real HTTP.

Labelled creates, archives, label archives, paged reads, label definitions and
the high-usage report: what each stores and answers, on every version, with
the id rules, the request pipeline and the test helpers (seeding, reading back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hubassoc.sandbox import Sandbox

from .test_sandbox_spec import object_path as record
from .test_sandbox_spec import ops_path as ops

SandboxFactory = Callable[..., Awaitable[Sandbox]]

VERSIONS = ("v4", "2026-03", "2026-09")
DEFAULT = ("HUBSPOT_DEFINED", 279)  # contacts -> companies
MANAGER = {"associationCategory": "USER_DEFINED", "associationTypeId": 1000}


def typed(*items: tuple[str, str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"inputs": [{"from": {"id": f}, "to": {"id": t}, "types": ts} for f, t, ts in items]}


async def call(
    session: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    kwargs = {} if body is None else {"json": body}
    async with session.request(method, path, **kwargs) as response:
        raw = await response.read()
        return response.status, (await response.json() if raw else None)


@pytest.fixture
async def session(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        yield session


async def read_all(
    session: aiohttp.ClientSession, version: str, record_id: str
) -> tuple[list[dict[str, Any]], int]:
    """Every associated record of one contact via batch/read, following ``after``."""
    found: list[dict[str, Any]] = []
    requests = 0
    item: dict[str, str] = {"id": record_id}
    while True:
        status, body = await call(session, "POST", ops(version, "batch/read"), {"inputs": [item]})
        requests += 1
        assert status == 200, body
        if not body["results"]:
            return found, requests
        (result,) = body["results"]
        found += result["to"]
        after = result.get("paging", {}).get("next", {}).get("after")
        if after is None:
            return found, requests
        item = {"id": record_id, "after": after}


# -- writes and what reads see ---------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_labels_are_stored_per_pair_and_removed_as_hubspot_does(
    sandbox: Sandbox, session: aiohttp.ClientSession, version: str
) -> None:
    sandbox.define_label("contacts", "companies", "Manager")
    other = {"associationCategory": "USER_DEFINED", "associationTypeId": 1234}
    status, body = await call(
        session, "POST", ops(version, "batch/create"), typed(("1", "2", [MANAGER, other]))
    )
    assert status == (200 if version == "2026-09" else 201)
    assert body["results"] == [
        {
            "fromObjectTypeId": "0-1",
            "fromObjectId": "1",
            "toObjectTypeId": "0-2",
            "toObjectId": "2",
            "labels": ["Manager"],
        }
    ]
    # A labelled create carries the default type too; a default associate adds it alone.
    await call(session, "PUT", record(version, "1/associations/default/companies/3"))
    assert sandbox.associations("contacts", "companies", "1") == {
        "2": [DEFAULT, ("USER_DEFINED", 1000), ("USER_DEFINED", 1234)],
        "3": [DEFAULT],
    }
    found, _ = await read_all(session, version, "1")
    assert found[0] == {
        "toObjectId": "2",
        "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 279},
            {"category": "USER_DEFINED", "typeId": 1000, "label": "Manager"},
            {"category": "USER_DEFINED", "typeId": 1234},
        ],
    }
    # Removing a label keeps the pair; removing the default type removes every label.
    archive_labels = ops(version, "batch/labels/archive")
    await call(session, "POST", archive_labels, typed(("1", "2", [MANAGER])))
    assert sandbox.associations("contacts", "companies", 1)["2"] == [
        DEFAULT,
        ("USER_DEFINED", 1234),
    ]
    default = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
    status, body = await call(session, "POST", archive_labels, typed(("1", "3", [default])))
    assert status == (204 if version == "v4" else 200)
    assert not sandbox.has_association("contacts", "companies", "1", "3")
    # Archive removes every type; pairs that were never associated are no error.
    archive = {"inputs": [{"from": {"id": "1"}, "to": [{"id": "2"}, {"id": "77"}]}]}
    status, body = await call(session, "POST", ops(version, "batch/archive"), archive)
    assert status == (204 if version == "v4" else 200)
    if body is not None:
        assert body["results"] == [] and "errors" not in body
    assert sandbox.associations("contacts", "companies", "1") == {}
    assert sandbox.stats().pairs_archived == 2


async def test_labelled_put_and_delete(sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
    sandbox.define_label("contacts", "companies", "Manager")
    path = record("2026-09", "5/associations/companies/6")
    status, body = await call(session, "PUT", path, [MANAGER])
    assert status == 201
    assert body["labels"] == ["Manager"] and body["toObjectId"] == "6"
    assert (await call(session, "PUT", path, []))[0] == 400
    assert (await call(session, "DELETE", path))[0] == 204
    assert (await call(session, "DELETE", path))[0] == 204  # not associated: still fine
    assert sandbox.store_pairs("contacts", "companies") == []


async def test_numeric_object_ids_switch(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await sandbox_factory(numeric_object_ids=True)
    sandbox.seed_associations("contacts", "companies", [(1, 2)])
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        _, body = await call(session, "POST", ops("v4", "batch/read"), {"inputs": [{"id": "1"}]})
        assert body["results"][0]["to"][0]["toObjectId"] == 2
        _, body = await call(session, "POST", ops("v4", "batch/create"), typed(("1", "3", [])))
        assert (body["results"][0]["fromObjectId"], body["results"][0]["toObjectId"]) == (1, 3)


# -- reads -------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_reads_page_at_the_configured_size_and_lose_nothing(
    sandbox_factory: SandboxFactory, version: str
) -> None:
    sandbox = await sandbox_factory(read_page_size=500)
    seeded = sandbox.seed_associations(
        "contacts", "companies", [("1", str(i)) for i in range(1, 2001)]
    )
    assert seeded == 2000 and sandbox.stats().requests == 0
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        found, requests = await read_all(session, version, "1")
    assert [int(item["toObjectId"]) for item in found] == list(range(1, 2001))
    assert requests == 4


async def test_a_page_cursor_survives_writes_between_pages(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await sandbox_factory(read_page_size=3)
    sandbox.seed_associations("contacts", "companies", [("1", str(i)) for i in range(10, 20)])
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        path = ops("v4", "batch/read")
        _, body = await call(session, "POST", path, {"inputs": [{"id": "1"}]})
        after = body["results"][0]["paging"]["next"]["after"]
        assert after == "12"
        assert body["results"][0]["paging"]["next"]["link"].endswith(f"?after={after}")
        # Written after the index was built: the next pages see it, in order.
        await call(
            session,
            "POST",
            ops("v4", "batch/associate/default"),
            {
                "inputs": [
                    {"from": {"id": "1"}, "to": {"id": "15"}},
                    {"from": {"id": "1"}, "to": {"id": "99"}},
                ]
            },
        )
        await call(session, "DELETE", record("v4", "1/associations/companies/13"))
        rest: list[str] = []
        while after is not None:
            _, body = await call(session, "POST", path, {"inputs": [{"id": "1", "after": after}]})
            (result,) = body["results"]
            rest += [item["toObjectId"] for item in result["to"]]
            after = result.get("paging", {}).get("next", {}).get("after")
    assert rest == ["14", "15", "16", "17", "18", "19", "99"]


async def test_batch_read_shapes_and_limits(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await sandbox_factory(not_found_ids={"13"}, poison_ids={"666"})
    sandbox.seed_associations("contacts", "companies", [("1", "2"), ("4", "5")])
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        path = ops("v4", "batch/read")
        inputs = {"inputs": [{"id": "1"}, {"id": "3"}, {"id": "13"}, {"id": "4"}]}
        status, body = await call(session, "POST", path, inputs)
        assert status == 207
        assert [r["from"]["id"] for r in body["results"]] == ["1", "4"]  # "3": absent
        assert [e["context"] for e in body["errors"]] == [{"fromObjectId": ["13"]}]
        status, body = await call(session, "POST", ops("2026-09", "batch/read"), inputs)
        assert status == 200 and body["numErrors"] == 1
        sandbox.configure(no_associations_errors=True)
        status, body = await call(session, "POST", path, {"inputs": [{"id": "3"}]})
        assert status == 207 and body["results"] == []
        (error,) = body["errors"]
        assert error["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
        assert error["context"] == {"fromObjectId": ["3"]}
        # HubSpot refuses more than 1,000 inputs, whatever max_batch_size says.
        many = {"inputs": [{"id": str(i)} for i in range(1000, 2001)]}
        assert (await call(session, "POST", path, many))[0] == 400
        assert (await call(session, "POST", path, {"inputs": many["inputs"][:1000]}))[0] == 207
        assert (await call(session, "POST", path, {"inputs": [{"id": "666"}]}))[0] == 400
        for bad in ("1,2", "-1", "x"):
            assert (await call(session, "POST", path, {"inputs": [{"id": bad}]}))[0] == 400
        comma = {"inputs": [{"from": {"id": "1,2"}, "to": {"id": "3"}}]}
        assert (await call(session, "POST", ops("v4", "batch/associate/default"), comma))[0] == 400
    assert sandbox.stats().batches_poisoned == 1


async def test_per_record_get_pages_with_limit(
    sandbox: Sandbox, session: aiohttp.ClientSession
) -> None:
    sandbox.configure(read_page_size=4)
    sandbox.seed_associations("contacts", "companies", [("8", str(i)) for i in range(1, 11)])
    path = record("2026-03", "8/associations/companies")
    ids: list[str] = []
    query = "?limit=3"
    pages = 0
    while True:
        status, body = await call(session, "GET", path + query)
        assert status == 200
        pages += 1
        assert len(body["results"]) <= 3
        ids += [item["toObjectId"] for item in body["results"]]
        after = body.get("paging", {}).get("next", {}).get("after")
        if after is None:
            break
        query = f"?limit=3&after={after}"
    assert ids == [str(i) for i in range(1, 11)] and pages == 4
    status, body = await call(session, "GET", record("v4", "8/associations/companies?limit=99"))
    assert len(body["results"]) == 4  # read_page_size caps the limit
    # 2026-09 has no per-record GET.
    assert (await call(session, "GET", record("2026-09", "8/associations/companies")))[0] == 404


# -- label definitions and the usage report ------------------------------------------


async def test_label_definitions(sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
    base = "/crm/associations/2026-03/contacts/companies/labels"
    status, body = await call(
        session, "POST", base, {"label": "Manager", "name": "manager", "inverseLabel": "Report"}
    )
    assert status == 200
    assert body["results"] == [
        {"category": "USER_DEFINED", "typeId": 1000, "label": "Manager"},
        {"category": "USER_DEFINED", "typeId": 1001, "label": "Report"},
    ]
    # The inverse belongs to the other direction.
    assert sandbox.labels("companies", "contacts")[1:] == [body["results"][1]]
    status, body = await call(session, "GET", "/crm/v4/associations/contacts/companies/labels")
    assert body["results"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 279},
        {"category": "USER_DEFINED", "typeId": 1000, "label": "Manager"},
    ]
    update = {"associationTypeId": 1000, "label": "Boss", "inverseLabel": "Minion"}
    assert (await call(session, "PUT", base, update))[0] == 204
    assert [d["label"] for d in sandbox.labels("contacts", "companies")[1:]] == ["Boss"]
    assert [d["label"] for d in sandbox.labels("companies", "contacts")[1:]] == ["Minion"]
    assert (await call(session, "DELETE", f"{base}/279"))[0] == 400
    assert (await call(session, "DELETE", f"{base}/1000"))[0] == 204
    assert sandbox.labels("companies", "contacts") == [
        {"category": "HUBSPOT_DEFINED", "typeId": 280}
    ]
    assert (await call(session, "DELETE", f"{base}/1000"))[0] == 404
    assert sandbox.stats().labels == 0


async def test_high_usage_report(session: aiohttp.ClientSession) -> None:
    status, body = await call(session, "POST", "/crm/v4/associations/usage/high-usage-report/42")
    assert status == 200
    assert body["userId"] == 42 and body["userEmail"]
    assert set(body["enqueueTime"]) == {"value", "dateOnly", "timeZoneShift"}


# -- the pipeline applies to every operation -----------------------------------------


async def test_new_operations_go_through_the_pipeline(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(rate_limit=(3, 60.0))
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        sandbox.script([503])
        assert (await call(session, "POST", ops("v4", "batch/read"), {"inputs": []}))[0] == 503
        for _ in range(3):
            async with session.post(ops("v4", "batch/read"), json={"inputs": []}) as response:
                assert response.status == 200
                assert "X-HubSpot-RateLimit-Remaining" in response.headers
        assert (await call(session, "GET", "/crm/v4/associations/contacts/deals/labels"))[0] == 429
        sandbox.configure(rate_limit_headers=False)
        async with session.post(ops("v4", "batch/archive"), json={"inputs": []}) as response:
            assert response.status == 429
            assert not any(h.startswith("X-HubSpot-RateLimit") for h in response.headers)
    stats = sandbox.stats()
    assert stats.faults == 1 and stats.rate_limited >= 2
    # A scripted fault is answered before the limit: three reads were served.
    assert stats.operations == {"batch/read": 3}


async def test_seed_validates_rows_before_storing(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="rows\\[1\\]\\[1\\]"):
        sandbox.seed_associations("contacts", "companies", [("1", "2"), ("1", "x")])
    with pytest.raises(ValueError, match="category"):
        sandbox.seed_associations("contacts", "companies", [("1", "2", [("LABEL", 1)])])
    with pytest.raises(TypeError):
        sandbox.seed_associations("contacts", "companies", [(True, "2")])
    with pytest.raises(ValueError, match="object type"):
        sandbox.seed_associations("companys", "companies", [])
    assert sandbox.store_pairs("contacts", "companies") == []


async def test_control_endpoints_seed_and_read(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.control_headers) as control:
        rows = [["1", "2"], [1, 3, [["USER_DEFINED", 1000]]]]
        body = {"from": "contacts", "to": "companies", "rows": rows}
        async with control.post("/_sandbox/associations", json=body) as response:
            assert response.status == 200
            assert await response.json() == {"seeded": 2}
        label = {"from": "contacts", "to": "companies", "label": "Manager"}
        async with control.post("/_sandbox/labels", json=label) as response:
            assert (await response.json())["results"][0]["typeId"] == 1000
        query = "?from=contacts&to=companies&id=1"
        async with control.get(f"/_sandbox/associations{query}") as response:
            assert await response.json() == {
                "fromObjectType": "0-1",
                "toObjectType": "0-2",
                "fromId": "1",
                "count": 2,
                "associations": {
                    "2": [list(DEFAULT)],
                    "3": [list(DEFAULT), ["USER_DEFINED", 1000]],
                },
            }
        ranges = {"from": "contacts", "to": "companies", "ranges": [["5", "100", 700], [6, 1, 0]]}
        async with control.post("/_sandbox/associations", json=ranges) as response:
            assert (await response.json())["seeded"] == 700
        mapping = {"from": "contacts", "to": "companies", "associations": {"7": ["1", "2"]}}
        async with control.post("/_sandbox/associations", json=mapping) as response:
            assert (await response.json())["seeded"] == 2
        bad = {**mapping, "associations": {"8": ["1"], "9": "2"}, "ranges": [[8, 1, 5]]}
        async with control.post("/_sandbox/associations", json=bad) as response:
            assert response.status == 400
        assert sandbox.associations("contacts", "companies", 8) == {}
        assert list(sandbox.associations("contacts", "companies", 5)) == [
            str(i) for i in range(100, 800)
        ]
        async with control.post(
            "/_sandbox/associations", json={**body, "rows": [["x"]]}
        ) as response:
            assert response.status == 400
    assert sandbox.stats().requests == 0


async def test_default_only_pairs_stay_packed_ints(
    sandbox: Sandbox, session: aiohttp.ClientSession
) -> None:
    pairs = {"inputs": [{"from": {"id": "1"}, "to": {"id": str(i)}} for i in range(2, 52)]}
    await call(session, "POST", ops("v4", "batch/associate/default"), pairs)
    default = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
    await call(session, "POST", ops("v4", "batch/create"), typed(("1", "60", [default])))
    store = sandbox.app.store.type_pair("0-1", "0-2")
    assert len(store.pairs) == 51 and store.extras == {}
    assert all(isinstance(key, int) for key in store.pairs)


async def test_associations_go_both_ways(sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
    sandbox.define_label("contacts", "companies", "Manager", inverse_label="Employee")
    await call(session, "POST", ops("v4", "batch/create"), typed(("1", "2", [MANAGER])))
    await call(session, "PUT", record("v4", "1/associations/default/companies/3"))
    # Read from the company: the contact, with the company side's types.
    reverse = ops("v4", "batch/read", "companies/contacts")
    _, body = await call(session, "POST", reverse, {"inputs": [{"id": "2"}]})
    assert body["results"][0]["to"] == [
        {
            "toObjectId": "1",
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": 280},
                {"category": "USER_DEFINED", "typeId": 1001, "label": "Employee"},
            ],
        }
    ]
    assert sandbox.associations("companies", "contacts", 3) == {"1": [("HUBSPOT_DEFINED", 280)]}
    # Removing from the other side removes what was written from this one.
    employee = {"associationCategory": "USER_DEFINED", "associationTypeId": 1001}
    back = {"inputs": [{"from": {"id": "2"}, "to": {"id": "1"}, "types": [employee]}]}
    await call(session, "POST", ops("v4", "batch/labels/archive", "companies/contacts"), back)
    assert sandbox.associations("contacts", "companies", 1)["2"] == [DEFAULT]
    archive = {"inputs": [{"from": {"id": "3"}, "to": [{"id": "1"}]}]}
    await call(session, "POST", ops("v4", "batch/archive", "companies/contacts"), archive)
    assert sandbox.store_pairs("contacts", "companies") == [("1", "2")]
    status, _ = await call(session, "DELETE", "/crm/v4/objects/companies/2/associations/contacts/1")
    assert status == 204
    assert sandbox.store_pairs("contacts", "companies") == []
    # A type pair with itself: one association, seen from both records.
    sandbox.seed_associations("contacts", "contacts", [("5", "6")])
    assert list(sandbox.associations("contacts", "contacts", 6)) == ["5"]
    assert list(sandbox.associations("contacts", "contacts", 5)) == ["6"]


async def test_pages_merge_both_directions(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(read_page_size=2)
    sandbox.seed_associations("contacts", "companies", [("1", "2"), ("1", "5"), ("1", "9")])
    sandbox.seed_associations("companies", "contacts", [("5", "1"), ("7", "1"), ("8", "4")])
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        found, requests = await read_all(session, "2026-09", "1")
    assert [item["toObjectId"] for item in found] == ["2", "5", "7", "9"]
    assert requests == 2

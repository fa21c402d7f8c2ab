"""The sandbox's HubSpot endpoints over real HTTP: associations, configurations, rules."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from hubassoc.sandbox import Sandbox

SandboxFactory = Callable[..., Awaitable[Sandbox]]

VERSIONS = ("v4", "2026-03", "2026-09")


def batch_path(version: str, from_type: str = "contacts", to_type: str = "companies") -> str:
    if version == "v4":
        return f"/crm/v4/associations/{from_type}/{to_type}/batch/associate/default"
    return f"/crm/associations/{version}/{from_type}/{to_type}/batch/associate/default"


def single_path(version: str, from_type: str, from_id: str, to_type: str, to_id: str) -> str:
    tail = f"{from_type}/{from_id}/associations/default/{to_type}/{to_id}"
    return f"/crm/v4/objects/{tail}" if version == "v4" else f"/crm/objects/{version}/{tail}"


def config_path(version: str, tail: str) -> str:
    return f"/crm/associations/{version}/definitions/configurations/{tail}"


def inputs(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"inputs": [{"from": {"id": f}, "to": {"id": t}} for f, t in pairs]}


def result_pairs(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["from"]["id"], r["to"]["id"]) for r in body["results"]]


def assert_error_shape(body: dict[str, Any], category: str) -> None:
    assert body["status"] == "error"
    assert body["category"] == category
    assert isinstance(body["message"], str) and body["message"]
    uuid.UUID(body["correlationId"])


async def post(
    session: aiohttp.ClientSession, path: str, body: Any
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with session.post(path, json=body) as response:
        payload = await response.json() if response.status != 204 else {}
        return response.status, payload, response


# -- batch associate default -------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_batch_associate_answers_every_pair_and_stores_it(
    version: str, sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    status, body, response = await post(
        sandbox_session, batch_path(version), inputs(("1", "2"), ("3", "4"))
    )
    assert status == 200
    uuid.UUID(response.headers["X-HubSpot-Correlation-Id"])
    assert body["status"] == "COMPLETE"
    assert result_pairs(body) == [("1", "2"), ("3", "4")]
    assert body["results"][0]["associationSpec"] == {
        "associationCategory": "HUBSPOT_DEFINED",
        "associationTypeId": 279,
    }
    for key in ("startedAt", "completedAt", "requestedAt"):
        assert body[key].endswith("Z")
        datetime.fromisoformat(body[key])
    assert "errors" not in body and "numErrors" not in body
    assert sandbox.store_pairs("contacts", "companies") == [("1", "2"), ("3", "4")]


@pytest.mark.parametrize(
    ("from_type", "to_type", "type_id"),
    [
        ("contacts", "companies", 279),
        ("companies", "contacts", 280),
        ("contact", "deals", 4),
        ("deals", "contacts", 3),
        ("contacts", "tickets", 15),
        ("tickets", "contacts", 16),
        ("0-2", "0-3", 342),
        ("deal", "company", 341),
        ("companies", "tickets", 340),
        ("tickets", "companies", 339),
        ("deals", "tickets", 27),
        ("0-5", "0-3", 28),
    ],
)
async def test_default_type_ids_follow_hubspots_table(
    from_type: str, to_type: str, type_id: int, sandbox_session: aiohttp.ClientSession
) -> None:
    _, body, _ = await post(
        sandbox_session, batch_path("v4", from_type, to_type), inputs(("1", "2"))
    )
    assert body["results"][0]["associationSpec"]["associationTypeId"] == type_id


async def test_type_names_and_object_type_ids_share_one_store(
    sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    await post(sandbox_session, batch_path("v4", "contacts", "companies"), inputs(("1", "2")))
    await post(sandbox_session, batch_path("2026-09", "0-1", "0-2"), inputs(("1", "2")))
    await post(sandbox_session, batch_path("2026-03", "contact", "company"), inputs(("5", "6")))
    assert sandbox.store_pairs("0-1", "company") == [("1", "2"), ("5", "6")]
    stats = sandbox.stats()
    assert (stats.pairs_received, stats.pairs_duplicate, stats.associations) == (3, 1, 2)


async def test_custom_and_unknown_types_get_a_stable_positive_type_id(
    sandbox_session: aiohttp.ClientSession,
) -> None:
    ids = []
    for from_type in ("2-1234567", "p123_widget", "2-1234567"):
        _, body, _ = await post(
            sandbox_session, batch_path("v4", from_type, "contacts"), inputs(("1", "2"))
        )
        ids.append(body["results"][0]["associationSpec"]["associationTypeId"])
    assert ids[0] == ids[2] != ids[1]
    assert all(0 < i < 2**31 for i in ids)


@pytest.mark.parametrize("object_type", ["foo bar", "foo%2Fbar", "-1", "a.b", "1-x"])
async def test_invalid_object_type_is_a_400(
    object_type: str, sandbox_session: aiohttp.ClientSession
) -> None:
    path = f"/crm/v4/associations/{object_type}/companies/batch/associate/default"
    async with sandbox_session.post(path, json=inputs(("1", "2"))) as response:
        # An encoded slash may stop the path from routing at all: then a 404.
        assert response.status in (400, 404)
        category = "VALIDATION_ERROR" if response.status == 400 else "OBJECT_NOT_FOUND"
        assert_error_shape(await response.json(), category)


@pytest.mark.parametrize(
    ("object_type", "type_id"),
    [
        ("contact", "0-1"),
        ("CONTACTS", "0-1"),
        ("deal", "0-3"),
        ("tickets", "0-5"),
        ("notes", "0-46"),
        ("meeting", "0-47"),
        ("calls", "0-48"),
        ("emails", "0-49"),
        ("tasks", "0-27"),
        ("products", "0-7"),
        ("line_item", "0-8"),
        ("line_items", "0-8"),
        ("quotes", "0-14"),
        ("leads", "0-136"),
        ("communications", "0-18"),
        ("postal_mail", "0-116"),
        ("invoices", "0-53"),
        ("0-116", "0-116"),
        ("2-1234567", "2-1234567"),
        ("p123_widget", "p123_widget"),
        ("P7878787_My_Object", "p7878787_my_object"),
    ],
)
async def test_object_types_hubspot_accepts(
    object_type: str, type_id: str, sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    status, _, _ = await post(
        sandbox_session, batch_path("2026-09", object_type, "companies"), inputs(("1", "2"))
    )
    assert status == 200
    # Every spelling of a standard object shares its objectTypeId's store.
    assert sandbox.store_pairs(type_id, "0-2") == [("1", "2")]


@pytest.mark.parametrize(
    "object_type", ["companys", "contactz", "widgets", "custom_object", "p123", "p_widget"]
)
async def test_object_types_hubspot_refuses_are_a_400_everywhere(
    object_type: str, sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    # A typo in a type must fail as it does against HubSpot, not quietly work.
    pair = inputs(("1", "2"))
    calls = [
        ("POST", batch_path("v4", object_type, "contacts"), pair),
        ("POST", batch_path("2026-03", "contacts", object_type), pair),
        ("PUT", single_path("2026-09", "contacts", "1", object_type, "2"), None),
        ("GET", config_path("v4", f"{object_type}/contacts"), None),
    ]
    for method, path, payload in calls:
        async with sandbox_session.request(method, path, json=payload) as response:
            assert response.status == 400
            body = await response.json()
        assert_error_shape(body, "VALIDATION_ERROR")
        assert body["message"] == f"Unable to infer object type from: {object_type}"
        assert body["correlationId"] == response.headers["X-HubSpot-Correlation-Id"]
    stats = sandbox.stats()
    assert (stats.pairs_received, stats.associations, stats.by_status) == (0, 0, {"400": 4})
    with pytest.raises(ValueError, match=f"not an object type: '{object_type}'"):
        sandbox.store_pairs(object_type, "contacts")
    with pytest.raises(ValueError, match="is not an object type"):
        sandbox.configure(not_found_ids={f"{object_type}:1"})


async def test_associating_twice_is_idempotent_and_counted(
    sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    for _ in range(3):
        status, body, _ = await post(
            sandbox_session, batch_path("v4"), inputs(("1", "2"), ("1", "2"), ("7", "8"))
        )
        assert status == 200 and len(body["results"]) == 3
    stats = sandbox.stats()
    assert stats.associations == 2
    assert stats.pairs_received == 9
    assert stats.pairs_created == 2
    assert stats.pairs_duplicate == 7
    assert stats.batch_sizes == {3: 3}


async def test_send_counts_per_pair(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(track_sends=True)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        await post(session, batch_path("v4"), inputs(("1", "2"), ("1", "2"), ("3", "4")))
        await post(session, batch_path("2026-09", "0-1", "0-2"), inputs(("3", "4")))
    assert sandbox.send_counts("contacts", "companies") == {("1", "2"): 2, ("3", "4"): 2}
    assert sandbox.send_counts("companies", "contacts") == {}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "JSON is malformed"),
        (b"[]", "Expected `object`"),
        (b"{}", "missing required field `inputs`"),
        (b'{"inputs": {}}', "Expected `array`"),
        (b'{"inputs": [{"from": {"id": "1"}}]}', "missing required field `to`"),
        (b'{"inputs": [{"from": {"id": 1}, "to": {"id": "2"}}]}', "$.inputs[1].from.id"),
        (b'{"inputs": [{"from": {"id": "1"}, "to": {"id": "x2"}}]}', "inputs[1].to.id"),
        (b'{"inputs": [{"from": {"id": "-1"}, "to": {"id": "2"}}]}', "inputs[1].from.id"),
        (b'{"inputs": [{"from": {"id": "1"}, "to": {"id": "99999999999999999999"}}]}', "to.id"),
        (b'{"inputs": [{"from": {"id": ""}, "to": {"id": "2"}}]}', "from.id"),
        (b'{"inputs": [{"from": {"id": "1 OR 1=1"}, "to": {"id": "2"}}]}', "from.id"),
    ],
)
async def test_malformed_batches_are_400_validation_errors_that_store_nothing(
    body: bytes, fragment: str, sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    # A good input first: a bad one anywhere fails the whole call.
    good = b'{"from": {"id": "5"}, "to": {"id": "6"}}, '
    if body.startswith(b'{"inputs": [{'):
        body = body.replace(b'{"inputs": [', b'{"inputs": [' + good)
    headers = {"Content-Type": "application/json"}
    async with sandbox_session.post(batch_path("v4"), data=body, headers=headers) as response:
        assert response.status == 400
        payload = await response.json()
    assert_error_shape(payload, "VALIDATION_ERROR")
    assert fragment in payload["message"]
    assert sandbox.stats().associations == 0


async def test_leading_zeros_are_normalised_like_int64_ids(
    sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    _, body, _ = await post(sandbox_session, batch_path("v4"), inputs(("007", "0")))
    assert result_pairs(body) == [("7", "0")]
    assert sandbox.has_association("contacts", "companies", "7", "0")


async def test_max_batch_size_rejects_the_whole_call(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(max_batch_size=3)
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        many = inputs(*[(str(i), str(i)) for i in range(1, 5)])
        status, body, _ = await post(session, batch_path("2026-09"), many)
        assert status == 400
        assert_error_shape(body, "VALIDATION_ERROR")
        assert body["message"] == "Batch input size of 4 exceeds the maximum of 3 inputs."
        status, _, _ = await post(session, batch_path("2026-09"), inputs(("1", "1")))
        assert status == 200
    assert sandbox.stats().associations == 1
    assert sandbox.stats().batch_sizes == {4: 1, 1: 1}


async def test_default_max_batch_size_is_2000(sandbox_session: aiohttp.ClientSession) -> None:
    ok = inputs(*[(str(i), "1") for i in range(1, 2001)])
    status, body, _ = await post(sandbox_session, batch_path("v4"), ok)
    assert status == 200 and len(body["results"]) == 2000
    too_many = inputs(*[(str(i), "1") for i in range(1, 2002)])
    status, body, _ = await post(sandbox_session, batch_path("v4"), too_many)
    assert status == 400 and "exceeds the maximum of 2000" in body["message"]


async def test_empty_batch_is_answered_with_no_results(
    sandbox_session: aiohttp.ClientSession,
) -> None:
    status, body, _ = await post(sandbox_session, batch_path("v4"), {"inputs": []})
    assert (status, body["results"], body["status"]) == (200, [], "COMPLETE")


# -- the not-found rule --------------------------------------------------------------


async def test_not_found_per_side(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(not_found_ids={"13", "companies:99"})
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        status, body, _ = await post(
            session,
            batch_path("v4"),
            inputs(("1", "2"), ("13", "3"), ("4", "13"), ("13", "13"), ("99", "5"), ("6", "99")),
        )
    assert status == 200
    assert result_pairs(body) == [("1", "2"), ("99", "5")]
    contexts = [e["context"] for e in body["errors"]]
    assert contexts == [{"fromObjectId": ["13"]}, {"toObjectId": ["13"]}, {"toObjectId": ["99"]}]
    assert body["numErrors"] == 3
    for error in body["errors"]:
        assert error["status"] == "error"
        assert error["category"] == "OBJECT_NOT_FOUND"
        assert error["subCategory"] == "crm.associations.OBJECT_NOT_FOUND"
        assert error["errors"] == [] and error["links"] == {}
    assert sandbox.store_pairs("contacts", "companies") == [("1", "2"), ("99", "5")]
    assert sandbox.stats().pairs_not_found == 4


async def test_not_found_ids_style(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(not_found_ids={"13", "14"}, error_style="ids")
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        _, body, _ = await post(
            session,
            batch_path("2026-03"),
            inputs(("1", "2"), ("13", "3"), ("4", "14"), ("13", "5")),
        )
    assert result_pairs(body) == [("1", "2")]
    assert [e["context"] for e in body["errors"]] == [{"ids": ["13", "14"]}]
    assert body["numErrors"] == 1


async def test_not_found_style_none_names_no_input(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(not_found_ids={"13"}, error_style="none")
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        _, body, _ = await post(session, batch_path("2026-09"), inputs(("1", "2"), ("13", "3")))
    assert result_pairs(body) == [("1", "2")]
    (error,) = body["errors"]
    assert error["context"] == {}
    assert "13" not in error["message"]


async def test_every_input_not_found_is_still_a_200(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(not_found_ids={"13"})
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        status, body, _ = await post(session, batch_path("v4"), inputs(("13", "1"), ("13", "2")))
    assert status == 200
    assert body["results"] == [] and body["errors"][0]["context"] == {"fromObjectId": ["13"]}


@pytest.mark.parametrize("version", VERSIONS)
async def test_single_put_not_found_is_a_404(version: str, sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(not_found_ids={"deals:13"})
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        path = single_path(version, "contacts", "13", "deals", "13")
        async with session.put(path) as response:
            assert response.status == 404
            body = await response.json()
    assert_error_shape(body, "OBJECT_NOT_FOUND")
    assert body["context"] == {"toObjectId": ["13"]}
    assert sandbox.stats().associations == 0


# -- single PUT ----------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_single_put_associates(
    version: str, sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    for _ in range(2):
        async with sandbox_session.put(single_path(version, "0-3", "10", "tickets", "20")) as r:
            assert r.status == 200
            body = await r.json()
    assert body["status"] == "COMPLETE"
    assert body["results"] == [
        {
            "from": {"id": "10"},
            "to": {"id": "20"},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 27},
        }
    ]
    assert sandbox.store_pairs("deals", "tickets") == [("10", "20")]
    assert sandbox.stats().pairs_duplicate == 1


async def test_single_put_rejects_non_numeric_ids(sandbox_session: aiohttp.ClientSession) -> None:
    async with sandbox_session.put(single_path("v4", "contacts", "abc", "deals", "1")) as r:
        assert r.status == 400
        assert_error_shape(await r.json(), "VALIDATION_ERROR")


# -- poison ----------------------------------------------------------------------------


async def test_poison_fails_the_whole_batch_without_naming_an_input(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = await sandbox_factory(poison_ids={"666"})
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        status, body, _ = await post(
            session, batch_path("v4"), inputs(("1", "2"), ("666", "3"), ("4", "5"))
        )
        assert status == 400
        assert_error_shape(body, "VALIDATION_ERROR")
        assert set(body) == {"status", "message", "correlationId", "category"}
        assert "666" not in body["message"]
        status, _, _ = await post(session, batch_path("v4"), inputs(("1", "2"), ("4", "5")))
        assert status == 200
        async with session.put(single_path("v4", "contacts", "1", "companies", "666")) as r:
            assert r.status == 400
    stats = sandbox.stats()
    assert stats.associations == 2 and stats.batches_poisoned == 2


# -- response quirks -------------------------------------------------------------------


async def test_shuffle_results(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(shuffle_results=True, seed=7)
    pairs = [(str(i), str(i + 1000)) for i in range(1, 51)]
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        _, body, _ = await post(session, batch_path("v4"), inputs(*pairs))
    assert result_pairs(body) != pairs
    assert sorted(result_pairs(body)) == sorted(pairs)


def _objects(value: Any) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            found.append((where, node))
            for key, item in node.items():
                if key not in ("sandboxTrace", "context", "links"):
                    walk(item, f"{where}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]")

    walk(value, "$")
    return found


async def test_extra_fields_at_every_level(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(extra_fields=True, not_found_ids={"13"})
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        _, body, _ = await post(session, batch_path("v4"), inputs(("1", "2"), ("13", "3")))
        _, error, _ = await post(session, batch_path("v4"), {})
    objects = _objects(body) + _objects(error)
    assert len(objects) == 7  # body, result, from, to, spec, error; the Error body
    for where, node in objects:
        assert "sandboxTrace" in node, where
    assert body["errors"][0]["context"] == {"fromObjectId": ["13"]}


async def test_subcategory_as_object(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(subcategory_object=True, not_found_ids={"13"})
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        _, body, _ = await post(session, batch_path("v4"), inputs(("13", "3")))
    assert isinstance(body["errors"][0]["subCategory"], dict)


# -- auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sandbox-token"}],
    ids=["missing", "wrong", "no-scheme"],
)
async def test_auth_is_required(
    headers: dict[str, str], sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    async with aiohttp.ClientSession(sandbox.url, headers=headers) as session:
        for method, path in [
            ("POST", batch_path("v4")),
            ("PUT", single_path("2026-09", "contacts", "1", "deals", "2")),
            ("GET", config_path("2026-03", "all")),
        ]:
            async with session.request(method, path, json=inputs(("1", "2"))) as response:
                assert response.status == 401
                body = await response.json()
                assert_error_shape(body, "INVALID_AUTHENTICATION")
                assert body["correlationId"] == response.headers["X-HubSpot-Correlation-Id"]
    if not headers:
        assert body["message"].startswith("Authentication credentials not found")
    assert sandbox.stats().associations == 0
    assert sandbox.stats().by_status == {"401": 3}


async def test_bearer_scheme_is_case_insensitive(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"bearer {sandbox.token}"}
    async with aiohttp.ClientSession(sandbox.url, headers=headers) as session:
        status, _, _ = await post(session, batch_path("v4"), inputs(("1", "2")))
    assert status == 200


async def test_auth_can_be_turned_off(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(token=None)
    assert sandbox.auth_headers == {}
    async with aiohttp.ClientSession(sandbox.url) as session:
        status, _, _ = await post(session, batch_path("v4"), inputs(("1", "2")))
    assert status == 200


async def test_unknown_routes_are_json_404s(sandbox_session: aiohttp.ClientSession) -> None:
    for method, path in [
        ("GET", "/crm/v4/associations/contacts/companies/batch/associate/default"),
        ("POST", "/crm/associations/v4/contacts/companies/batch/associate/default"),
        ("GET", "/nothing/here"),
    ]:
        async with sandbox_session.request(method, path) as response:
            assert response.status == 404
            assert_error_shape(await response.json(), "OBJECT_NOT_FOUND")
            assert "X-HubSpot-Correlation-Id" in response.headers


# -- limit configurations ----------------------------------------------------------------


CREATE_STATUS = {"v4": (201, 207), "2026-03": (201, 207), "2026-09": (200, 200)}
UPDATE_STATUS = {"v4": (200, 207), "2026-03": (200, 207), "2026-09": (200, 200)}


@pytest.mark.parametrize("version", VERSIONS)
async def test_configurations_lifecycle(
    version: str, sandbox: Sandbox, sandbox_session: aiohttp.ClientSession
) -> None:
    create_ok, create_partial = CREATE_STATUS[version]
    update_ok, update_partial = UPDATE_STATUS[version]
    pair = "contacts/companies"
    first = {"category": "USER_DEFINED", "typeId": 7, "maxToObjectIds": 5}
    second = {"category": "HUBSPOT_DEFINED", "typeId": 279, "maxToObjectIds": 1}

    status, body, _ = await post(
        sandbox_session, config_path(version, f"{pair}/batch/create"), {"inputs": [first]}
    )
    assert status == create_ok
    assert body["status"] == "COMPLETE"
    assert body["results"] == [
        {"category": "USER_DEFINED", "typeId": 7, "userEnforcedMaxToObjectIds": 5}
    ]
    assert "errors" not in body

    # Creating an existing one again is a per-input error.
    status, body, _ = await post(
        sandbox_session, config_path(version, f"{pair}/batch/create"), {"inputs": [first, second]}
    )
    assert status == create_partial
    assert [r["typeId"] for r in body["results"]] == [279]
    assert body["numErrors"] == 1
    assert body["errors"][0]["context"] == {"category": ["USER_DEFINED"], "typeId": ["7"]}

    async with sandbox_session.get(config_path(version, "0-1/0-2")) as response:
        assert response.status == 200
        listed = (await response.json())["results"]
    assert {(c["category"], c["typeId"], c["userEnforcedMaxToObjectIds"]) for c in listed} == {
        ("USER_DEFINED", 7, 5),
        ("HUBSPOT_DEFINED", 279, 1),
    }
    async with sandbox_session.get(config_path(version, "all")) as response:
        assert len((await response.json())["results"]) == 2
    assert len(sandbox.configurations("contact", "company")) == 2

    changed = {**first, "maxToObjectIds": 9}
    status, body, _ = await post(
        sandbox_session, config_path(version, f"{pair}/batch/update"), {"inputs": [changed]}
    )
    assert status == update_ok
    assert body["results"] == [
        {"category": "USER_DEFINED", "typeId": 7, "userEnforcedMaxToObjectIds": 9}
    ]
    missing = {"category": "USER_DEFINED", "typeId": 8, "maxToObjectIds": 2}
    status, body, _ = await post(
        sandbox_session, config_path(version, f"{pair}/batch/update"), {"inputs": [missing]}
    )
    assert status == update_partial
    assert body["results"] == [] and body["errors"][0]["category"] == "OBJECT_NOT_FOUND"

    purge = {"inputs": [{"category": "USER_DEFINED", "typeId": 7}]}
    status, body, _ = await post(
        sandbox_session, config_path(version, f"{pair}/batch/purge"), purge
    )
    if version == "v4":
        assert status == 204
    else:
        assert status == 200 and body["status"] == "COMPLETE" and "errors" not in body
    status, body, _ = await post(
        sandbox_session, config_path(version, f"{pair}/batch/purge"), purge
    )
    if version == "v4":
        assert status == 204
    else:
        assert status == 200
        assert body["numErrors"] == 1 and body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert sandbox.stats().configurations == 1


async def test_sdk_alias_paths_behave_like_v4(sandbox_session: aiohttp.ClientSession) -> None:
    base = "/crm/v4/associations/definitions/configurations"
    item = {"category": "USER_DEFINED", "typeId": 3, "maxToObjectIds": 2}
    status, _, _ = await post(
        sandbox_session, f"{base}/deals/contacts/batch/create", {"inputs": [item]}
    )
    assert status == 201
    status, _, _ = await post(
        sandbox_session, f"{base}/deals/contacts/batch/create", {"inputs": [item]}
    )
    assert status == 207
    async with sandbox_session.get(f"{base}/all") as response:
        assert len((await response.json())["results"]) == 1
    status, _, _ = await post(
        sandbox_session, f"{base}/deals/contacts/batch/purge", {"inputs": [item]}
    )
    assert status == 204


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"inputs": [{"category": "NOPE", "typeId": 1, "maxToObjectIds": 1}]},
        {"inputs": [{"category": "USER_DEFINED", "typeId": "1", "maxToObjectIds": 1}]},
        {"inputs": [{"category": "USER_DEFINED", "typeId": 1}]},
    ],
)
async def test_configuration_validation(
    body: dict[str, Any], sandbox_session: aiohttp.ClientSession
) -> None:
    status, payload, _ = await post(
        sandbox_session, config_path("2026-09", "contacts/deals/batch/create"), body
    )
    assert status == 400
    assert_error_shape(payload, "VALIDATION_ERROR")

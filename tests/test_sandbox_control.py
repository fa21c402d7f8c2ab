"""The sandbox's own surface: lifecycle, options, and the /_sandbox/ HTTP endpoints."""

from __future__ import annotations

import ast
import dataclasses
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import hubassoc.sandbox
from hubassoc.sandbox import Sandbox, SandboxConfig, SandboxOptions
from hubassoc.sandbox._config import config_from_json, parse_fault_rates, parse_rate_limit

SandboxFactory = Callable[..., Awaitable[Sandbox]]

BATCH = "/crm/v4/associations/contacts/companies/batch/associate/default"
JSON_TYPE = {"Content-Type": "application/json"}


def pairs_body(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"inputs": [{"from": {"id": f}, "to": {"id": t}} for f, t in pairs]}


def test_public_surface() -> None:
    assert sorted(hubassoc.sandbox.__all__) == [
        "ErrorStyle",
        "Fault",
        "FaultKind",
        "OAuthCredentials",
        "PASS",
        "Sandbox",
        "SandboxApp",
        "SandboxConfig",
        "SandboxOptions",
        "SandboxStats",
        "ScriptEntry",
    ]


def test_options_mirror_the_config_fields() -> None:
    fields = {f.name for f in dataclasses.fields(SandboxConfig)}
    assert set(typing.get_type_hints(SandboxOptions)) == fields


def test_sandbox_does_not_import_the_client() -> None:
    # A server written apart from the client is what makes it a real test of it.
    package = Path(hubassoc.sandbox.__file__).parent
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{source.name} imports from outside the sandbox"
                names = [node.module or ""] if node.level == 0 else []
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top, _, rest = name.partition(".")
                if top == "hubassoc":
                    assert rest.split(".")[0] == "sandbox", f"{source.name} imports {name}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_limit": (0, 10.0)}, "rate_limit requests"),
        ({"rate_limit": (10, 0.0)}, "rate_limit window"),
        ({"latency": -1.0}, "latency"),
        ({"jitter": float("inf")}, "jitter"),
        ({"faults": {"418": 0.1}}, "unknown fault kind"),
        ({"faults": {"503": 1.5}}, "must be in"),
        ({"faults": {"503": 0.6, "504": 0.6}}, "more than 1"),
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"daily_limit": -1}, "daily_limit"),
        ({"error_style": "loud"}, "error_style"),
        ({"not_found_ids": "13"}, "collection of ids"),
        ({"not_found_ids": {"x13"}}, "not a record id"),
        ({"poison_ids": {"a b:1"}}, "not a record id"),
        ({"peak_window_seconds": 0.0}, "peak_window_seconds"),
    ],
)
def test_invalid_options_raise_value_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sandbox(**options)


def test_config_normalises_sets_and_rates() -> None:
    config = SandboxConfig(not_found_ids={"13", "contacts:14"}, rate_limit=(100, 10))
    assert config.not_found_ids == frozenset({"13", "contacts:14"})
    assert config.rate_limit == (100, 10.0)
    assert config.window_seconds == 10.0
    assert SandboxConfig().window_seconds == 10.0
    assert SandboxConfig().max_batch_size == 2000


def test_parsers() -> None:
    assert parse_rate_limit("100/10") == (100, 10.0)
    assert parse_rate_limit("none") is None
    with pytest.raises(ValueError, match="REQUESTS/SECONDS"):
        parse_rate_limit("100")
    with pytest.raises(ValueError, match="REQUESTS/SECONDS"):
        parse_rate_limit("a/b")
    assert parse_fault_rates("503=0.01, reset=0.5") == {"503": 0.01, "reset": 0.5}
    with pytest.raises(ValueError, match="KIND=RATE"):
        parse_fault_rates("503")


def test_config_from_json() -> None:
    base = SandboxConfig()
    config = config_from_json(
        base, {"rate_limit": "10/1", "not_found_ids": ["1", 2], "error_style": "ids"}
    )
    assert config.rate_limit == (10, 1.0)
    assert config.not_found_ids == frozenset({"1", "2"})
    assert config_from_json(base, {"rate_limit": [5, 0.5]}).rate_limit == (5, 0.5)
    assert config_from_json(config, {"rate_limit": None}).rate_limit is None
    for bad in (
        {"nope": 1},
        {"rate_limit": 5},
        {"rate_limit": [1]},
        {"latency": "slow"},
        {"daily_limit": True},
        {"extra_fields": 1},
        {"faults": [1]},
        {"not_found_ids": "13"},
        {"token": 5},
    ):
        with pytest.raises(ValueError):
            config_from_json(base, bad)


async def test_lifecycle() -> None:
    sandbox = Sandbox(port=0)
    assert "unopened" in repr(sandbox)
    async with sandbox:
        assert sandbox.port != 0
        assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
        assert "open" in repr(sandbox)
        with pytest.raises(RuntimeError, match="open"):
            await sandbox.start()
    assert "closed" in repr(sandbox)
    with pytest.raises(RuntimeError, match="closed"):
        await sandbox.start()
    await sandbox.close()  # idempotent


async def test_python_inspection_and_control(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(token="t0k", seed=None)
    assert sandbox.token == "t0k" and sandbox.auth_headers == {"Authorization": "Bearer t0k"}
    async with aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as session:
        async with session.post(BATCH, json=pairs_body(("1", "2"), ("3", "4"))) as response:
            assert response.status == 200
        sandbox.configure(not_found_ids={"3"}, error_style="ids")
        assert sandbox.config.error_style == "ids"
        async with session.post(BATCH, json=pairs_body(("3", "9"))) as response:
            assert (await response.json())["errors"][0]["context"] == {"ids": ["3"]}
        with pytest.raises(ValueError, match="not an object type"):
            sandbox.configure(not_found_ids={"a.b:1"})
        assert sandbox.config.not_found_ids == {"3"}  # unchanged after the failure
    assert sandbox.has_association("0-1", "0-2", "1", "2")
    assert not sandbox.has_association("0-1", "0-2", "3", "9")
    with pytest.raises(ValueError, match="not an object type"):
        sandbox.store_pairs("bad type", "companies")
    with pytest.raises(RuntimeError, match="track_sends"):
        sandbox.send_counts("contacts", "companies")
    stats = sandbox.stats()
    assert (stats.requests, stats.associations, stats.pairs_not_found) == (2, 2, 1)
    assert stats.as_dict()["batch_sizes"] == {"1": 1, "2": 1}
    assert isinstance(sandbox.app.config, SandboxConfig)
    sandbox.reset()
    stats = sandbox.stats()
    assert (stats.requests, stats.associations, stats.peak_window) == (0, 0, 0)
    assert sandbox.arrival_times() == []
    assert sandbox.config.not_found_ids == {"3"}  # reset keeps the options


async def test_http_introspection(sandbox: Sandbox) -> None:
    async with (
        aiohttp.ClientSession(sandbox.url, headers=sandbox.control_headers) as admin,
        aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as api,
    ):
        async with api.post(BATCH, json=pairs_body(("1", "2"), ("5", "6"))) as response:
            assert response.status == 200
        async with api.post(BATCH, json=pairs_body(("1", "2"))) as response:
            assert response.status == 200

        async with admin.get("/_sandbox/stats") as response:
            assert response.status == 200
            assert "X-HubSpot-Correlation-Id" in response.headers
            stats = await response.json()
        assert stats == sandbox.stats().as_dict()
        assert stats["requests"] == 2
        assert stats["by_status"] == {"200": 2}
        assert stats["batch_sizes"] == {"1": 1, "2": 1}
        assert (stats["pairs_received"], stats["pairs_duplicate"]) == (3, 1)
        assert (stats["associations"], stats["configurations"]) == (2, 0)
        assert stats["peak_window"] == 2

        async with admin.get("/_sandbox/store", params={"from": "contacts", "to": "0-2"}) as r:
            store = await r.json()
        assert store == {
            "fromObjectType": "0-1",
            "toObjectType": "0-2",
            "count": 2,
            "pairs": [["1", "2"], ["5", "6"]],
        }
        for params in ({"from": "contacts"}, {"from": "a b", "to": "deals"}):
            async with admin.get("/_sandbox/store", params=params) as r:
                assert r.status == 400

        async with admin.post(
            "/_sandbox/config",
            json={"rate_limit": "2/5", "poison_ids": ["9"], "latency": 0},
        ) as r:
            assert r.status == 200
            config = await r.json()
        assert config["rate_limit"] == [2, 5.0] and config["poison_ids"] == ["9"]
        assert sandbox.config.rate_limit == (2, 5.0)
        async with admin.get("/_sandbox/config") as r:
            assert (await r.json()) == config
        for bad in (b"[]", b"{", b'{"max_batch_size": 0}', b'{"nope": 1}'):
            async with admin.post("/_sandbox/config", data=bad, headers=JSON_TYPE) as r:
                assert r.status == 400
                assert "message" in await r.json()

        async with admin.post("/_sandbox/script", json=[503, "reset", [429, "DAILY"]]) as r:
            assert (await r.json()) == {"pending": 3}
        async with admin.get("/_sandbox/script") as r:
            assert (await r.json()) == {"pending": 3}
        async with admin.post("/_sandbox/script", json=["bogus"]) as r:
            assert r.status == 400
        async with admin.post("/_sandbox/script", json={"a": 1}) as r:
            assert r.status == 400
        async with api.post(BATCH, json=pairs_body(("7", "8"))) as response:
            assert response.status == 503
        async with admin.delete("/_sandbox/script", json={}) as r:
            assert (await r.json()) == {"pending": 0}
        async with api.post(BATCH, json=pairs_body(("7", "8"))) as response:
            assert response.status == 200
            assert response.headers["X-HubSpot-RateLimit-Max"] == "2"

        async with admin.get("/_sandbox/nothing") as r:
            assert r.status == 404
        async with admin.post("/_sandbox/stats", json={}) as r:
            assert r.status == 404
        async with admin.post("/_sandbox/reset", json={}) as r:
            assert r.status == 200
        async with admin.get("/_sandbox/stats") as r:
            stats = await r.json()
        assert (stats["requests"], stats["associations"]) == (0, 0)


async def test_http_send_counts(sandbox: Sandbox) -> None:
    sends = "/_sandbox/sends"
    async with (
        aiohttp.ClientSession(sandbox.url, headers=sandbox.control_headers) as admin,
        aiohttp.ClientSession(sandbox.url, headers=sandbox.auth_headers) as api,
    ):
        async with admin.get(sends, params={"from": "contacts", "to": "companies"}) as r:
            assert r.status == 409
            assert "track_sends" in (await r.json())["message"]

        async with admin.post("/_sandbox/config", json={"track_sends": True}) as r:
            assert r.status == 200
        body = pairs_body(("10", "2"), ("9", "2"), ("10", "2"))
        for _ in range(2):
            async with api.post(BATCH, json=body) as response:
                assert response.status == 200
        async with admin.get(sends, params={"from": "contact", "to": "0-2"}) as r:
            assert r.status == 200
            answer = await r.json()
        assert answer == {
            "fromObjectType": "0-1",
            "toObjectType": "0-2",
            "count": 2,
            "total": 6,
            "sends": [["9", "2", 2], ["10", "2", 4]],  # ordered by id, as numbers
        }
        mirrored = {(f, t): n for f, t, n in answer["sends"]}
        assert mirrored == sandbox.send_counts("contacts", "companies")

        async with admin.get(sends, params={"from": "companies", "to": "contacts"}) as r:
            assert (await r.json())["sends"] == []
        for params in ({"from": "contacts"}, {"from": "companys", "to": "contacts"}):
            async with admin.get(sends, params=params) as r:
                assert r.status == 400
                assert "message" in await r.json()
        async with admin.post(sends, json={}) as r:
            assert r.status == 404

        async with admin.post("/_sandbox/reset", json={}) as r:
            assert r.status == 200
        async with admin.get(sends, params={"from": "contacts", "to": "companies"}) as r:
            assert (await r.json())["count"] == 0


CONTROL_ROUTES = [
    ("GET", "/_sandbox/stats"),
    ("GET", "/_sandbox/store?from=contacts&to=companies"),
    ("GET", "/_sandbox/config"),
    ("POST", "/_sandbox/config"),
    ("POST", "/_sandbox/reset"),
    ("GET", "/_sandbox/script"),
    ("POST", "/_sandbox/script"),
    ("DELETE", "/_sandbox/script"),
    ("GET", "/_sandbox/arrivals"),
    ("GET", "/_sandbox/oauth"),
    ("POST", "/_sandbox/oauth/revoke"),
    ("GET", "/_sandbox/nothing"),
]


async def test_control_endpoints_need_the_control_token(sandbox_factory: SandboxFactory) -> None:
    sandbox = await sandbox_factory(token="api", control_token="ctl")
    assert sandbox.control_headers == {"Authorization": "Bearer ctl"}
    async with aiohttp.ClientSession(sandbox.url) as session:
        for method, path in CONTROL_ROUTES:
            for headers in ({}, {"Authorization": "Bearer api"}, {"Authorization": "ctl"}):
                async with session.request(method, path, json={}, headers=headers) as r:
                    assert r.status == 401, (method, path, headers)
                    assert r.headers["WWW-Authenticate"].startswith("Bearer")
                    assert "control token" in (await r.json())["message"]
        async with session.get("/_sandbox/stats", headers={"Authorization": "bearer ctl"}) as r:
            assert r.status == 200
        # The control token is not an API token.
        async with session.post(
            BATCH, json=pairs_body(("1", "2")), headers=sandbox.control_headers
        ):
            pass
    assert sandbox.stats().by_status == {"401": 1}
    sandbox.configure(control_token=None)
    assert sandbox.control_headers == {"Authorization": "Bearer api"}
    sandbox.configure(token=None)
    assert sandbox.control_headers == {}
    async with aiohttp.ClientSession(sandbox.url) as session, session.get("/_sandbox/stats") as r:
        assert r.status == 200  # no token anywhere: open, as the API is


@pytest.mark.parametrize(
    "send",
    [
        {"data": b"{}", "headers": {"Content-Type": "text/plain"}},
        {"data": {"rate_limit": "1/10"}},  # a form
        {"data": b'{"rate_limit": "1/10"}'},  # no Content-Type
        {},
    ],
)
async def test_control_posts_must_be_json(sandbox: Sandbox, send: dict[str, Any]) -> None:
    headers = {**sandbox.control_headers, **send.pop("headers", {})}
    sandbox.script([503])
    async with aiohttp.ClientSession(sandbox.url) as session:
        for method, path in CONTROL_ROUTES:
            if method == "GET":
                continue
            async with session.request(method, path, headers=headers, **send) as r:
                assert r.status == 415, (method, path)
                assert "application/json" in (await r.json())["message"]
    assert sandbox.config.rate_limit is None and sandbox.pending_script == 1

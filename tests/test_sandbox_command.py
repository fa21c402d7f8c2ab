"""``hubassoc sandbox``: the standalone server, started as a real subprocess."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from hubassoc.sandbox import OAuthCredentials, SandboxConfig
from hubassoc.sandbox._command import add_parser, build_config, is_loopback

REPO = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"hubassoc sandbox listening on (http://\S+) token=(\S+)\n")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sandbox", *argv])


def test_command_line_options_build_the_config() -> None:
    args = parse(
        "--rate-limit",
        "100/10",
        "--daily-limit",
        "5",
        "--latency",
        "0.05",
        "--jitter",
        "0.01",
        "--fault-rate",
        "0.04",
        "--faults",
        "423=0.02",
        "--max-batch-size",
        "0",
        "--token",
        "abc",
        "--not-found-ids",
        "13, 14",
        "--poison-ids",
        "contacts:9",
        "--error-style",
        "ids",
        "--shuffle-results",
    )
    config = build_config(args)
    assert config == SandboxConfig(
        token="abc",
        rate_limit=(100, 10.0),
        daily_limit=5,
        latency=0.05,
        jitter=0.01,
        faults={"502": 0.01, "503": 0.01, "504": 0.01, "reset": 0.01, "423": 0.02},
        max_batch_size=None,
        not_found_ids={"13", "14"},
        poison_ids={"contacts:9"},
        error_style="ids",
        shuffle_results=True,
    )
    assert args.port == 8080 and args.host == "127.0.0.1"
    assert build_config(parse()) == SandboxConfig()
    assert build_config(parse("--no-auth")).token is None
    with pytest.raises(SystemExit):
        parse("--rate-limit", "fast")


def test_oauth_options_build_the_config() -> None:
    config = build_config(
        parse(
            "--oauth",
            "--token-lifetime",
            "0.5",
            "--hub-id",
            "42",
            "--client-id",
            "cid",
            "--client-secret",
            "cs",
            "--refresh-token",
            "na1-r",
            "--rotate-refresh-tokens",
            "--oauth-only",
        )
    )
    assert config == SandboxConfig(
        oauth=True,
        oauth_token_lifetime=0.5,
        oauth_hub_id=42,
        oauth_client_id="cid",
        oauth_client_secret="cs",
        oauth_refresh_token="na1-r",
        oauth_rotate_refresh_tokens=True,
        oauth_only=True,
    )


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com", ""):
        assert not is_loopback(host), host


def test_a_remote_host_needs_allow_remote(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--host", "0.0.0.0", "--port", "0")
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "0.0.0.0" in err and "--allow-remote" in err
    # Allowed, it warns (and here cannot bind a documentation-only address).
    args = parse("--host", "192.0.2.1", "--port", "0", "--allow-remote")
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "WARNING" in err and "192.0.2.1" in err


def test_control_token_option() -> None:
    assert build_config(parse("--control-token", "ctl")).control_token == "ctl"


def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--latency", "-1")
    assert args.func(args) == 2
    assert "latency" in capsys.readouterr().err


async def start(*argv: str) -> tuple[asyncio.subprocess.Process, str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    match = LISTENING.fullmatch(line.decode())
    if match is None:
        process.kill()
        _, err = await process.communicate()
        raise AssertionError(f"unexpected first line {line!r}; stderr: {err.decode()[-2000:]}")
    return process, match.group(1), match.group(2)


async def stop(process: asyncio.subprocess.Process, signum: int) -> tuple[int, bytes, bytes]:
    process.send_signal(signum)
    out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode is not None
    return process.returncode, out, err


@pytest.mark.slow
async def test_standalone_server_serves_until_sigint() -> None:
    process, url, token = await start("-m", "hubassoc", "sandbox", "--port", "0")
    try:
        assert token == "sandbox-token"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
        body = {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"}}]}
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(url, headers=headers) as session:
            async with session.post(
                "/crm/v4/associations/contacts/companies/batch/associate/default", json=body
            ) as response:
                assert response.status == 200
                assert (await response.json())["results"][0]["to"] == {"id": "2"}
            async with session.get("/_sandbox/stats") as response:
                assert (await response.json())["associations"] == 1
    finally:
        status, out, err = await stop(process, signal.SIGINT)
    assert status == 0, err.decode()
    assert out == b""  # nothing after the one line
    assert b"Traceback" not in err


@pytest.mark.slow
async def test_standalone_options_and_sigterm() -> None:
    process, url, token = await start(
        "-m",
        "hubassoc.sandbox",
        "--port",
        "0",
        "--token",
        "tok",
        "--rate-limit",
        "1/10",
        "--not-found-ids",
        "13",
    )
    try:
        assert token == "tok"
        headers = {"Authorization": "Bearer tok"}
        async with aiohttp.ClientSession(url, headers=headers) as session:
            path = "/crm/objects/2026-09/contacts/13/associations/default/deals/2"
            async with session.put(path) as response:
                assert response.status == 404
                assert response.headers["X-HubSpot-RateLimit-Max"] == "1"
            async with session.put(path) as response:
                assert response.status == 429
    finally:
        status, _, err = await stop(process, signal.SIGTERM)
    assert status == 0, err.decode()


OAUTH_LINE = re.compile(
    r"hubassoc sandbox oauth client_id=(\S+) client_secret=(\S+) refresh_token=(\S+) "
    r"hub_id=(\d+)\n"
)


@pytest.mark.slow
async def test_standalone_oauth_prints_its_credentials() -> None:
    argv = "-m hubassoc sandbox --port 0 --oauth --token-lifetime 0.5 --hub-id 42 --oauth-only"
    process, url, _ = await start(*argv.split())
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        match = OAUTH_LINE.fullmatch(line.decode())
        assert match is not None, line
        client_id, client_secret, refresh_token, hub_id = match.groups()
        assert hub_id == "42"
        form = OAuthCredentials(client_id, client_secret, refresh_token, 42).refresh_form()
        async with aiohttp.ClientSession(url) as session:
            async with session.post("/oauth/v3/token", data=form) as response:
                assert response.status == 200
                grant = await response.json()
            assert (grant["expires_in"], grant["hub_id"]) == (1, 42)
            headers = {"Authorization": f"Bearer {grant['access_token']}"}
            async with session.put(
                "/crm/v4/objects/contacts/1/associations/default/companies/2", headers=headers
            ) as response:
                assert response.status == 200
    finally:
        status, out, err = await stop(process, signal.SIGINT)
    assert status == 0, err.decode()
    assert out == b""


def test_association_operation_options() -> None:
    config = build_config(
        parse(
            "--read-page-size",
            "25",
            "--no-associations-errors",
            "--numeric-object-ids",
            "--no-rate-limit-headers",
        )
    )
    assert config.read_page_size == 25
    assert config.no_associations_errors and config.numeric_object_ids
    assert not config.rate_limit_headers
    defaults = build_config(parse())
    assert defaults.read_page_size == 500 and defaults.rate_limit_headers
    with pytest.raises(ValueError, match="read_page_size"):
        build_config(parse("--read-page-size", "0"))

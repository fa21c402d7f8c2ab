"""``hubassoc sandbox``: run the sandbox as a standalone server.

On start it prints exactly one line to stdout and flushes it::

    hubassoc sandbox listening on http://127.0.0.1:PORT token=TOKEN

(other processes parse it to find the URL); with ``--oauth`` a second line
follows with what a client needs to refresh tokens::

    hubassoc sandbox oauth client_id=ID client_secret=SECRET refresh_token=TOKEN hub_id=N

(a local test server: printing its made-up secrets is the point). Then it
serves until SIGINT or SIGTERM and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
from typing import Any

from ._config import SandboxConfig, parse_fault_rates, parse_rate_limit
from ._sandbox import Sandbox

__all__ = ["add_parser", "build_config", "is_loopback", "run"]

_RANDOM_KINDS = ("502", "503", "504", "reset")


def _ids(text: str) -> frozenset[str]:
    return frozenset(filter(None, (part.strip() for part in text.split(","))))


def _rate(text: str) -> tuple[int, float] | None:
    try:
        return parse_rate_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _faults(text: str) -> dict[str, float]:
    try:
        return parse_fault_rates(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``sandbox`` sub-command on an argparse sub-parsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="run a local HubSpot-compatible associations server",
        description=(
            "Serve HubSpot's association endpoints from memory on a local port: default and "
            "labelled creates, archives, paged reads, label definitions, limit configurations "
            "and the high-usage report, on v4 and date-versioned paths. Prints "
            "'hubassoc sandbox listening on URL token=TOKEN' once ready; stops on SIGINT/SIGTERM."
        ),
    )
    add = parser.add_argument
    add(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s); a non-loopback one needs --allow-remote",
    )
    add(
        "--allow-remote",
        action="store_true",
        help="allow a --host other machines can reach (the sandbox is a test server)",
    )
    add("--port", type=int, default=8080, help="port to bind; 0 picks a free one (default: 8080)")
    add("--token", default="sandbox-token", help="bearer token to require (default: %(default)s)")
    add("--no-auth", action="store_true", help="accept calls without a token")
    add(
        "--control-token",
        default=None,
        help="bearer token of the /_sandbox/ control endpoints (default: the --token)",
    )
    add(
        "--rate-limit",
        type=_rate,
        default=None,
        metavar="N/SECONDS",
        help="rolling-window limit, e.g. 100/10 (default: none)",
    )
    add("--daily-limit", type=int, default=None, metavar="N", help="daily request allowance")
    add(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="round trip of every request: half before it arrives (and is counted), half after",
    )
    add(
        "--jitter",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="extra random round trip, 0..J (each way draws its own 0..J/2)",
    )
    add(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of a random fault, split evenly over 502 (HTML), 503, 504, reset",
    )
    add(
        "--faults",
        type=_faults,
        default={},
        metavar="KIND=P,...",
        help="per-kind fault rates, e.g. 503=0.01,reset=0.005 (kinds: 502 503 504 423 429 477 "
        "reset); overrides --fault-rate for the kinds named",
    )
    add("--seed", type=int, default=0, help="random seed for faults, jitter, shuffling")
    add(
        "--max-batch-size",
        type=int,
        default=2000,
        metavar="N",
        help="largest batch accepted; 0 for no limit (default: %(default)s)",
    )
    add(
        "--not-found-ids",
        type=_ids,
        default=frozenset(),
        metavar="ID,...",
        help="records that do not exist (ID or TYPE:ID): per-input errors in a batch, 404 for "
        "single-record calls",
    )
    add(
        "--poison-ids",
        type=_ids,
        default=frozenset(),
        metavar="ID,...",
        help="ids that make a whole batch fail with a 400 naming no input",
    )
    add(
        "--error-style",
        choices=("per_side", "ids", "none"),
        default="per_side",
        help="how per-input not-found errors name inputs (default: %(default)s)",
    )
    add(
        "--read-page-size",
        type=int,
        default=500,
        metavar="N",
        help="most associated records per read page (batch/read and the per-record GET); "
        "more are paged with paging.next.after (default: %(default)s)",
    )
    add(
        "--no-associations-errors",
        action="store_true",
        help="batch/read reports a record without associations as a NO_ASSOCIATIONS_FOUND "
        "error instead of leaving it out",
    )
    add(
        "--numeric-object-ids",
        action="store_true",
        help="write toObjectId/fromObjectId in reads and labelled creates as JSON numbers",
    )
    add(
        "--no-rate-limit-headers",
        action="store_true",
        help="enforce --rate-limit/--daily-limit without sending X-HubSpot-RateLimit-* headers",
    )
    add("--shuffle-results", action="store_true", help="answer results in random order")
    add("--extra-fields", action="store_true", help="add unknown fields to every answer")
    add("--subcategory-object", action="store_true", help="send subCategory as an object")
    add(
        "--echo-authorization",
        action="store_true",
        help="hostile mode for redaction tests: errors repeat the caller's token everywhere",
    )
    add(
        "--peak-window",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="window of the peak_window statistic without --rate-limit (default: 10)",
    )
    add(
        "--oauth",
        action="store_true",
        help="serve /oauth/v3/token and /oauth/v1/token (refresh_token grant) and accept the "
        "access tokens they issue; prints the client id, secret and refresh token",
    )
    add(
        "--token-lifetime",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="lifetime of issued access tokens (default: %(default)s)",
    )
    add("--hub-id", type=int, default=1234567, metavar="N", help="hub_id of token answers")
    add("--client-id", default=None, help="OAuth client id (default: random)")
    add("--client-secret", default=None, help="OAuth client secret (default: random)")
    add("--refresh-token", default=None, help="OAuth refresh token (default: random)")
    add(
        "--rotate-refresh-tokens",
        action="store_true",
        help="each refresh answers a new refresh token and retires the old one",
    )
    add("--oauth-only", action="store_true", help="refuse the static --token on API calls")
    add("--access-log", action="store_true", help="log every request to stderr")
    parser.set_defaults(func=run)
    return parser


def build_config(args: argparse.Namespace) -> SandboxConfig:
    """The `SandboxConfig` the parsed command line asks for. Raises `ValueError`."""
    faults: dict[str, float] = {}
    if args.fault_rate:
        faults = {kind: args.fault_rate / len(_RANDOM_KINDS) for kind in _RANDOM_KINDS}
    faults.update(args.faults)
    return SandboxConfig(
        token=None if args.no_auth else args.token,
        control_token=args.control_token,
        rate_limit=args.rate_limit,
        daily_limit=args.daily_limit,
        latency=args.latency,
        jitter=args.jitter,
        faults=faults,
        seed=args.seed,
        max_batch_size=args.max_batch_size or None,
        not_found_ids=args.not_found_ids,
        poison_ids=args.poison_ids,
        error_style=args.error_style,
        read_page_size=args.read_page_size,
        no_associations_errors=args.no_associations_errors,
        numeric_object_ids=args.numeric_object_ids,
        rate_limit_headers=not args.no_rate_limit_headers,
        shuffle_results=args.shuffle_results,
        extra_fields=args.extra_fields,
        subcategory_object=args.subcategory_object,
        peak_window_seconds=args.peak_window,
        echo_authorization=args.echo_authorization,
        oauth=args.oauth,
        oauth_client_id=args.client_id,
        oauth_client_secret=args.client_secret,
        oauth_refresh_token=args.refresh_token,
        oauth_hub_id=args.hub_id,
        oauth_token_lifetime=args.token_lifetime,
        oauth_rotate_refresh_tokens=args.rotate_refresh_tokens,
        oauth_only=args.oauth_only,
    )


async def _serve(sandbox: Sandbox) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(signum, stop.set)
    async with sandbox:
        print(f"hubassoc sandbox listening on {sandbox.url} token={sandbox.token}", flush=True)
        if sandbox.config.oauth:
            oauth = sandbox.oauth_credentials
            print(
                f"hubassoc sandbox oauth client_id={oauth.client_id} "
                f"client_secret={oauth.client_secret} refresh_token={oauth.refresh_token} "
                f"hub_id={oauth.hub_id}",
                flush=True,
            )
        await stop.wait()


def is_loopback(host: str) -> bool:
    """Whether `host` is an address (or ``localhost``) only this machine can reach."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit status (2 for bad options)."""
    if not is_loopback(args.host):
        if not args.allow_remote:
            print(
                f"hubassoc sandbox: refusing to listen on {args.host}, which other machines "
                "may reach; give --allow-remote if that is what you want",
                file=sys.stderr,
            )
            return 2
        print(
            f"hubassoc sandbox: WARNING: listening on {args.host}; anyone who can reach it "
            "can use the sandbox, and with its token control it",
            file=sys.stderr,
        )
    try:
        config = build_config(args)
        sandbox = Sandbox(config, host=args.host, port=args.port, access_log=args.access_log)
    except ValueError as exc:
        print(f"hubassoc sandbox: {exc}", file=sys.stderr)
        return 2
    if args.access_log:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        asyncio.run(_serve(sandbox))
    except KeyboardInterrupt:  # signal handlers unavailable (Windows)
        pass
    except OSError as exc:
        print(f"hubassoc sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0

"""`Sandbox`: the HubSpot-compatible server on a local port, with its lifecycle.

A `Sandbox` is unopened until `start` (or ``async with``), then serves on
``host:port`` until `close`; a closed sandbox cannot be started again. Every
inspection and configuration method works in any state. A request whose client
disconnects is cancelled where it is (aiohttp's ``handler_cancellation``).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal, Unpack

from aiohttp import web
from aiohttp.log import access_logger

from ._app import SandboxApp
from ._config import SandboxConfig, SandboxOptions
from ._faults import ScriptEntry
from ._fixtures import SeedRow
from ._oauth import OAuthCredentials
from ._stats import SandboxStats

__all__ = ["Sandbox"]

_State = Literal["unopened", "open", "closed"]


class Sandbox:
    """A local HubSpot Associations API for tests and benchmarks.

    ``Sandbox(config, host=..., port=..., **options)``: options override fields
    of `config` (a `SandboxConfig`; defaults when omitted). ``port=0`` picks a
    free port; `url` tells which after `start`. Raises `ValueError` for invalid
    options.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        /,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
        shutdown_timeout: float = 1.0,
        **options: Unpack[SandboxOptions],
    ) -> None:
        config = config if config is not None else SandboxConfig()
        if options:
            config = dataclasses.replace(config, **options)
        self._app = SandboxApp(config)
        self._host = host
        self._port = port
        self._access_log = access_log
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._state: _State = "unopened"

    def __repr__(self) -> str:
        where = self.url if self._state == "open" else f"{self._host}:{self._port}"
        return f"<Sandbox {self._state} {where} {self._app!r}>"

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> Sandbox:
        """Bind the port and start serving; returns self.

        Raises `RuntimeError` if already started or closed, `OSError` if the
        port cannot be bound.
        """
        if self._state != "unopened":
            raise RuntimeError(f"cannot start a sandbox that is {self._state}")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.create_server((self._host, self._port), family=family, backlog=1024)
        self._port = sock.getsockname()[1]
        runner = web.AppRunner(
            self._app.web_app(),
            access_log=access_logger if self._access_log else None,
            handle_signals=False,
            shutdown_timeout=self._shutdown_timeout,
            # A client that hangs up cancels its request (held by latency, say)
            # instead of letting it finish and store behind the client's back.
            handler_cancellation=True,
        )
        try:
            await runner.setup()
            site = web.SockSite(runner, sock, backlog=1024)
            await site.start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner = runner
        self._state = "open"
        return self

    async def close(self) -> None:
        """Stop serving (in-flight requests get `shutdown_timeout` seconds). Idempotent."""
        runner, self._runner = self._runner, None
        self._state = "closed"
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- where and how to reach it -----------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the real port once started)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def host(self) -> str:
        """The address bound."""
        return self._host

    @property
    def port(self) -> int:
        """The port bound (0 before `start` if a free port was asked for)."""
        return self._port

    @property
    def token(self) -> str | None:
        """The bearer token API calls must carry (``None``: no check)."""
        return self._app.config.token

    @property
    def auth_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` (empty when auth is off)."""
        token = self.token
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    @property
    def control_headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <control token>"}`` for the ``/_sandbox/`` endpoints
        (empty when they are open). POST and DELETE also need a JSON body."""
        token = self._app.config.control_bearer
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    @property
    def config(self) -> SandboxConfig:
        """The options in force."""
        return self._app.config

    @property
    def app(self) -> SandboxApp:
        """The application state behind this server."""
        return self._app

    # -- run-time control ----------------------------------------------------------

    def configure(self, **options: Unpack[SandboxOptions]) -> SandboxConfig:
        """Change options at run time (store and counters are kept); returns the new config.

        Raises `ValueError` for invalid options, keeping the old ones.
        """
        config = dataclasses.replace(self._app.config, **options)
        self._app.configure(config)
        return config

    def script(self, entries: Iterable[ScriptEntry]) -> int:
        """Queue exact answers for the next API requests, one entry per request.

        Entries: ``503`` (any status; canned HubSpot body, 502 as HTML),
        ``"reset"`` (drop the connection), ``None``/``"pass"`` (serve normally),
        ``(429, "DAILY")`` (429 with that policy), ``(477, 2.0)`` (with
        Retry-After), or a `Fault`. Returns how many entries are pending.
        Raises `ValueError` for an unknown entry (nothing is queued then).
        """
        return self._app.script(entries)

    @property
    def pending_script(self) -> int:
        """Script entries not consumed yet."""
        return self._app.pending_script

    def clear_script(self) -> None:
        """Drop every pending script entry."""
        self._app.clear_script()

    def reset(self) -> None:
        """Forget associations, configurations, counters, arrivals, limits and the script.

        Requests in flight at the time (held by latency, say) still get their
        answer, but nothing they store or count afterwards is kept.
        """
        self._app.reset()

    # -- OAuth ---------------------------------------------------------------------

    @property
    def oauth_credentials(self) -> OAuthCredentials:
        """Client id, client secret, newest refresh token and hub id of the OAuth app
        (generated ones unless the options name them). Over HTTP: ``GET /_sandbox/oauth``."""
        return self._app.oauth_credentials()

    @property
    def token_url(self) -> str:
        """``{url}/oauth/v3/token``, where clients refresh access tokens."""
        return f"{self.url}/oauth/v3/token"

    def revoke_refresh_token(self, refresh_token: str | None = None) -> int:
        """Retire one refresh token (default: every one): later refreshes get 400
        ``BAD_REFRESH_TOKEN``. Returns how many were valid. Over HTTP:
        ``POST /_sandbox/oauth/revoke``."""
        return self._app.revoke_refresh_token(refresh_token)

    def expire_access_tokens(self) -> int:
        """Expire every issued access token now (API calls with one get 401
        ``EXPIRED_AUTHENTICATION``); returns how many were valid. Over HTTP:
        ``POST /_sandbox/oauth/expire``."""
        return self._app.expire_access_tokens()

    # -- inspection ----------------------------------------------------------------

    def stats(self) -> SandboxStats:
        """A snapshot of the counters (see `SandboxStats`)."""
        return self._app.stats()

    def store_pairs(self, from_type: str, to_type: str) -> list[tuple[str, str]]:
        """Stored ``(fromId, toId)`` pairs between two object types (any spelling), sorted."""
        return self._app.store_pairs(from_type, to_type)

    def has_association(self, from_type: str, to_type: str, from_id: str, to_id: str) -> bool:
        """Whether one association is stored."""
        return self._app.has_association(from_type, to_type, from_id, to_id)

    def send_counts(self, from_type: str, to_type: str) -> dict[tuple[str, str], int]:
        """How often each pair was sent; needs ``track_sends=True`` (else `RuntimeError`).

        Over HTTP: ``GET /_sandbox/sends?from=..&to=..`` (409 without tracking).
        """
        return self._app.send_counts(from_type, to_type)

    def associations(
        self, from_type: str, to_type: str, from_id: str | int
    ) -> dict[str, list[tuple[str, int]]]:
        """Every record one record is associated with, and the types of each pair:
        ``{to_id: [(category, type_id), ...]}``, ascending ids, the default type first.

        Raises `ValueError` for an invalid object type or id. Over HTTP:
        ``GET /_sandbox/associations?from=..&to=..&id=..``.
        """
        return self._app.associations(from_type, to_type, from_id)

    def seed_associations(self, from_type: str, to_type: str, rows: Iterable[SeedRow]) -> int:
        """Store associations without requests (nothing counted or limited); returns how
        many pairs were new.

        Each row is ``(from_id, to_id)`` (the default type) or ``(from_id, to_id,
        [(category, type_id), ...])`` (those types too); ids are str or int. Raises
        `ValueError`/`TypeError` for a bad type, id or row, before storing anything.
        Over HTTP: ``POST /_sandbox/associations`` ``{"from", "to", "rows"}``.
        """
        return self._app.seed_associations(from_type, to_type, rows)

    def define_label(
        self,
        from_type: str,
        to_type: str,
        label: str,
        *,
        name: str | None = None,
        inverse_label: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create a label definition (and its inverse) without a request; returns the
        types created, ``{"category": "USER_DEFINED", "typeId", "label"}`` each.

        `name` defaults to `label`. Raises `ValueError` for an invalid object type,
        an empty label or a name already used between the two types. Over HTTP:
        ``POST /_sandbox/labels`` ``{"from", "to", "label", "name"?, "inverseLabel"?}``.
        """
        return self._app.define_label(
            from_type, to_type, label, name=name, inverse_label=inverse_label
        )

    def labels(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        """The association types between two object types, as ``GET .../labels`` lists
        them (the default type first). Raises `ValueError` for an invalid object type."""
        return self._app.labels_of(from_type, to_type)

    def configurations(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        """Stored limit configurations between two object types."""
        return self._app.configurations_of(from_type, to_type)

    def arrival_times(self) -> list[float]:
        """Loop times at which API requests arrived, in order."""
        return self._app.arrival_times()

    def peak_window(self, seconds: float | None = None) -> int:
        """Most arrivals within any span of `seconds` (default: the configured window)."""
        return self._app.peak_window(seconds)

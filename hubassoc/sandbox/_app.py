"""`SandboxApp`: the sandbox's state, its Python control API, and its aiohttp route table.

The parts, one module each: `SandboxState` (options in force, limiters, fault
plan, current generation), `RequestPipeline` (what every API call goes through
first), HubSpot's endpoints (`AssociationEndpoints` for default associations,
`WriteEndpoints` for labelled creates and removals, `ReadEndpoints`,
`LabelEndpoints`, `ConfigurationEndpoints`, `UsageEndpoints`), `TokenEndpoint`
(OAuth refreshes), `ControlEndpoints` (``/_sandbox/``). This module wires
them to paths and offers the inspection and control methods `Sandbox` exposes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web

from ._associations import AssociationEndpoints
from ._call import Call
from ._config import SandboxConfig
from ._configurations import ConfigurationEndpoints
from ._control import ControlEndpoints
from ._faults import ScriptEntry
from ._fixtures import SeedRow, associations_of, define_label, seed
from ._inspect import send_counts, snapshot, store_pairs, types_or_raise
from ._labels import LabelEndpoints
from ._limits import peak_in_window
from ._oauth import OAuthCredentials
from ._pipeline import RequestPipeline
from ._reads import ReadEndpoints
from ._responses import error_response
from ._state import SandboxState
from ._stats import SandboxStats
from ._store import AssociationStore, ConfigurationStore
from ._token import TokenEndpoint
from ._usage import UsageEndpoints
from ._writes import WriteEndpoints

__all__ = ["SandboxApp", "SandboxStats"]

_VERSION: Final = r"{version:v4|[0-9]{4}-[0-9]{2}}"
_DATE_VERSION: Final = r"{version:[0-9]{4}-[0-9]{2}}"


class SandboxApp:
    """The sandbox's state and request handlers; `web_app` builds the aiohttp application.

    Not bound to a loop until it serves a request. `Sandbox` wraps it with a
    server lifecycle; this class is usable on its own with any aiohttp runner or
    ``aiohttp.test_utils.TestServer``. Run it with ``handler_cancellation=True``
    (as `Sandbox` and ``TestServer`` do) so a request whose client went away
    stops where it is instead of finishing its latency and storing.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self._state = SandboxState(config if config is not None else SandboxConfig())
        self._pipeline = RequestPipeline(self._state)
        self._associations = AssociationEndpoints(self._state)
        self._writes = WriteEndpoints(self._state)
        self._reads = ReadEndpoints(self._state)
        self._labels = LabelEndpoints(self._state)
        self._usage = UsageEndpoints(self._state)
        self._configurations = ConfigurationEndpoints(self._state)
        self._token = TokenEndpoint(self._state)
        self._control = ControlEndpoints(self._state)

    def __repr__(self) -> str:
        state = self._state
        generation = state.generation
        return (
            f"<SandboxApp requests={generation.counts.requests} "
            f"associations={len(generation.store)} generation={generation.number} "
            f"limiter={state.limiter!r} daily={state.daily!r} faults={state.faults!r}>"
        )

    # -- configuration -------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        """The options in force."""
        return self._state.config

    def configure(self, config: SandboxConfig) -> None:
        """Switch to new options at run time; store and counters are kept.

        Raises `ValueError` (leaving the old options in force) if an id rule
        names an invalid object type.
        """
        self._state.apply(config)

    # -- state ---------------------------------------------------------------------

    @property
    def store(self) -> AssociationStore:
        """The associations stored since the last reset."""
        return self._state.generation.store

    @property
    def configurations(self) -> ConfigurationStore:
        """The limit configurations stored since the last reset."""
        return self._state.generation.configurations

    def reset(self) -> None:
        """Forget associations, configurations, counters, arrivals, limits and the script.

        Requests still in flight finish into the forgotten state: whatever they
        store or count after the reset is not seen (see `Generation`).
        """
        self._state.reset()

    def stats(self) -> SandboxStats:
        """A snapshot of the counters."""
        return snapshot(self._state)

    def arrival_times(self) -> list[float]:
        """Loop times (``loop.time()``) at which API requests arrived, in order."""
        return self._state.arrivals.times()

    def peak_window(self, seconds: float | None = None) -> int:
        """Most arrivals within any span of `seconds` (default: the configured window)."""
        arrivals = self._state.arrivals
        if seconds is None:
            return arrivals.peak
        return peak_in_window(arrivals.times(), seconds)

    def script(self, entries: Iterable[ScriptEntry]) -> int:
        """Queue exact answers for the next API requests; returns how many are pending.

        Raises `ValueError` for an entry `Fault.coerce` does not understand
        (nothing is queued then).
        """
        return self._state.faults.extend(entries)

    @property
    def pending_script(self) -> int:
        """Script entries not consumed yet."""
        return self._state.faults.pending

    def clear_script(self) -> None:
        """Drop every pending script entry."""
        self._state.faults.clear()

    def store_pairs(self, from_type: str, to_type: str) -> list[tuple[str, str]]:
        """Stored ``(fromId, toId)`` pairs between two object types (any spelling), sorted.

        Raises `ValueError` for an invalid object type.
        """
        return store_pairs(self._state, from_type, to_type)

    def has_association(self, from_type: str, to_type: str, from_id: str, to_id: str) -> bool:
        """Whether one association is stored. Raises `ValueError` for an invalid type."""
        from_key, to_key = types_or_raise(from_type, to_type)
        return self.store.contains(from_key, to_key, int(from_id), int(to_id))

    def send_counts(self, from_type: str, to_type: str) -> dict[tuple[str, str], int]:
        """How often each pair was sent (needs ``track_sends=True``; else `RuntimeError`).

        Raises `ValueError` for an invalid object type.
        """
        return send_counts(self._state, from_type, to_type)

    def associations(
        self, from_type: str, to_type: str, from_id: str | int
    ) -> dict[str, list[tuple[str, int]]]:
        """``{to_id: [(category, type_id), ...]}`` of one record (see `associations_of`)."""
        return associations_of(self._state, from_type, to_type, from_id)

    def seed_associations(self, from_type: str, to_type: str, rows: Iterable[SeedRow]) -> int:
        """Store associations without requests; returns how many pairs were new (see `seed`)."""
        return seed(self._state, from_type, to_type, rows)

    def define_label(
        self,
        from_type: str,
        to_type: str,
        label: str,
        *,
        name: str | None = None,
        inverse_label: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create a label definition without a request (see `define_label`)."""
        return define_label(
            self._state, from_type, to_type, label, name=name, inverse_label=inverse_label
        )

    def labels_of(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        """The types between two object types, as ``GET .../labels`` lists them."""
        return self._state.generation.labels.results(*types_or_raise(from_type, to_type))

    def configurations_of(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        """Stored limit configurations between two types, as the GET endpoint lists them."""
        from_key, to_key = types_or_raise(from_type, to_type)
        return self.configurations.results(from_key, to_key)

    # -- OAuth -------------------------------------------------------------------

    def oauth_credentials(self) -> OAuthCredentials:
        """Client id, client secret, newest refresh token and hub id of the OAuth app."""
        return self._state.oauth.credentials

    def revoke_refresh_token(self, refresh_token: str | None = None) -> int:
        """Retire one refresh token (default: every one); later refreshes with it get
        400 ``BAD_REFRESH_TOKEN``. Returns how many valid refresh tokens were retired."""
        return self._state.oauth.revoke(refresh_token)

    def expire_access_tokens(self) -> int:
        """Make every issued access token expire now; returns how many were still valid."""
        return self._state.oauth.expire_access_tokens(_loop_time())

    # -- the application ---------------------------------------------------------

    def web_app(self) -> web.Application:
        """A new aiohttp application serving this sandbox."""
        app = web.Application(client_max_size=256 * 1024**2)
        router = app.router
        control = self._control
        for method, path, control_handler in (
            ("GET", "/_sandbox/stats", control.stats),
            ("GET", "/_sandbox/store", control.store),
            ("GET", "/_sandbox/sends", control.sends),
            ("GET", "/_sandbox/associations", control.associations),
            ("POST", "/_sandbox/associations", control.seed),
            ("POST", "/_sandbox/labels", control.labels),
            ("POST", "/_sandbox/reset", control.reset),
            ("GET", "/_sandbox/config", control.get_config),
            ("POST", "/_sandbox/config", control.set_config),
            ("GET", "/_sandbox/script", control.get_script),
            ("POST", "/_sandbox/script", control.add_script),
            ("DELETE", "/_sandbox/script", control.clear_script),
            ("GET", "/_sandbox/arrivals", control.arrivals),
            ("GET", "/_sandbox/oauth", control.oauth),
            ("POST", "/_sandbox/oauth/revoke", control.revoke),
            ("POST", "/_sandbox/oauth/expire", control.expire),
        ):
            router.add_route(method, path, control.guarded(control_handler))
        router.add_route("*", "/_sandbox/{tail:.*}", control.guarded(control.unknown))

        router.add_post("/oauth/v3/token", self._token.v3)
        router.add_post("/oauth/v1/token", self._token.v1)

        self._api_routes(router)
        # Everything else is still an API call: counted, limited, answered 404.
        router.add_route("*", "/{tail:.*}", self._pipeline.wrap(self._unknown_route, "unknown"))
        return app

    def _api_routes(self, router: web.UrlDispatcher) -> None:
        """HubSpot's paths, each served through the request pipeline."""
        api = self._pipeline.wrap
        pair = "{from}/{to}"
        associations_prefixes = ("/crm/v4/associations", f"/crm/associations/{_DATE_VERSION}")
        usage = api(self._usage.high_usage_report, "usage/high-usage-report")
        for prefix in associations_prefixes:
            # Before the labels paths, which {from}/{to} would otherwise match.
            router.add_post(f"{prefix}/usage/high-usage-report/{{userId}}", usage)
        writes, reads = self._writes, self._reads
        for tail, batch_handler in (
            ("batch/associate/default", self._associations.batch_associate),
            ("batch/create", writes.batch_create),
            ("batch/archive", writes.batch_archive),
            ("batch/labels/archive", writes.batch_labels_archive),
            ("batch/read", reads.batch_read),
        ):
            served = api(batch_handler, tail)
            for prefix in associations_prefixes:
                router.add_post(f"{prefix}/{pair}/{tail}", served)
        record = "{from}/{fromId}/associations"
        for method, path, handler, operation in (
            (
                "PUT",
                f"{record}/default/{{to}}/{{toId}}",
                self._associations.single_associate,
                "associations/default",
            ),
            ("PUT", f"{record}/{{to}}/{{toId}}", writes.put_labelled, "associations/put"),
            ("DELETE", f"{record}/{{to}}/{{toId}}", writes.delete, "associations/delete"),
            ("GET", f"{record}/{{to}}", reads.list_associations, "associations/list"),
        ):
            served = api(handler, operation)
            for prefix in ("/crm/v4/objects", f"/crm/objects/{_DATE_VERSION}"):
                router.add_route(method, f"{prefix}/{path}", served)
        labels = self._labels
        for method, tail, handler, operation in (
            ("GET", "labels", labels.list, "labels/list"),
            ("POST", "labels", labels.create, "labels/create"),
            ("PUT", "labels", labels.update, "labels/update"),
            ("DELETE", "labels/{typeId}", labels.delete, "labels/delete"),
        ):
            served = api(handler, operation)
            # The schema spec's path, and the one the official Python SDK uses for v4.
            for prefix in (f"/crm/associations/{_VERSION}", "/crm/v4/associations"):
                router.add_route(method, f"{prefix}/{pair}/{tail}", served)
        configurations = self._configurations
        for prefix in (
            f"/crm/associations/{_VERSION}/definitions/configurations",
            # The path the official hubspot-api-client SDK uses; v4 behaviour.
            "/crm/v4/associations/definitions/configurations",
        ):
            for method, tail, handler, operation in (
                ("GET", "all", configurations.get, "configurations/list"),
                ("GET", pair, configurations.get, "configurations/list"),
                ("POST", f"{pair}/batch/create", configurations.create, "configurations/create"),
                ("POST", f"{pair}/batch/update", configurations.update, "configurations/update"),
                ("POST", f"{pair}/batch/purge", configurations.purge, "configurations/purge"),
            ):
                router.add_route(method, f"{prefix}/{tail}", api(handler, operation))

    async def _unknown_route(self, request: web.Request, call: Call) -> web.StreamResponse:
        return error_response(
            self._state.config,
            call,
            404,
            "OBJECT_NOT_FOUND",
            f"No route for {request.method} {request.path}",
        )


def _loop_time() -> float:
    # The running loop's clock, which token expiries use; outside a loop, the
    # monotonic clock asyncio's default loops read.
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()

"""`SandboxApp`: the sandbox's state, its Python control API, and its aiohttp route table.

The parts, one module each: `SandboxState` (options in force, limiters, fault
plan, current generation), `RequestPipeline` (what every API call goes through
first), `AssociationEndpoints` and `ConfigurationEndpoints` (HubSpot's
endpoints), `TokenEndpoint` (OAuth refreshes), `ControlEndpoints`
(``/_sandbox/``). This module wires them to paths and offers the inspection and
control methods `Sandbox` exposes.
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
from ._limits import peak_in_window
from ._oauth import OAuthCredentials
from ._pipeline import RequestPipeline
from ._responses import error_response
from ._state import SandboxState
from ._stats import SandboxStats
from ._store import AssociationStore, ConfigurationStore, unpack_pair
from ._token import TokenEndpoint
from ._types import canonical_type

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
        self._configurations = ConfigurationEndpoints(self._state)
        self._token = TokenEndpoint(self._state)
        self._control = ControlEndpoints(self)

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
        state = self._state
        generation = state.generation
        counts = generation.counts
        return SandboxStats(
            requests=counts.requests,
            by_status=dict(sorted(counts.by_status.items())),
            batch_sizes=dict(sorted(counts.batch_sizes.items())),
            peak_window=state.arrivals.peak,
            window_seconds=state.arrivals.window,
            pairs_received=counts.pairs_received,
            pairs_duplicate=counts.pairs_duplicate,
            pairs_created=counts.pairs_created,
            pairs_not_found=counts.pairs_not_found,
            batches_poisoned=counts.batches_poisoned,
            associations=len(generation.store),
            configurations=len(generation.configurations),
            rate_limited=counts.rate_limited,
            daily_used=state.daily.used,
            faults=counts.faults,
            oauth_refreshes=counts.oauth_refreshes,
            oauth_refresh_errors=counts.oauth_refresh_errors,
            oauth_peak_in_flight=counts.oauth_peak_in_flight,
            oauth_expired=counts.oauth_expired,
            oauth_tokens=tuple(counts.oauth_tokens),
        )

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
        from_key, to_key = _types_or_raise(from_type, to_type)
        return [(str(f), str(t)) for f, t in self.store.pairs(from_key, to_key)]

    def has_association(self, from_type: str, to_type: str, from_id: str, to_id: str) -> bool:
        """Whether one association is stored. Raises `ValueError` for an invalid type."""
        from_key, to_key = _types_or_raise(from_type, to_type)
        return self.store.contains(from_key, to_key, int(from_id), int(to_id))

    def send_counts(self, from_type: str, to_type: str) -> dict[tuple[str, str], int]:
        """How often each pair was sent (needs ``track_sends=True``; else `RuntimeError`).

        Raises `ValueError` for an invalid object type.
        """
        sends = self.store.sends
        if sends is None:
            raise RuntimeError("send counts need the track_sends option")
        from_key, to_key = _types_or_raise(from_type, to_type)
        out: dict[tuple[str, str], int] = {}
        for (f_type, t_type, key), count in sends.items():
            if f_type == from_key and t_type == to_key:
                f, t = unpack_pair(key)
                out[(str(f), str(t))] = count
        return out

    def configurations_of(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        """Stored limit configurations between two types, as the GET endpoint lists them."""
        from_key, to_key = _types_or_raise(from_type, to_type)
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

        api = self._pipeline.wrap
        associations = self._associations
        pair = "{from}/{to}"
        batch = api(associations.batch_associate)
        router.add_post(f"/crm/v4/associations/{pair}/batch/associate/default", batch)
        router.add_post(f"/crm/associations/{_DATE_VERSION}/{pair}/batch/associate/default", batch)
        single = api(associations.single_associate)
        single_path = "{from}/{fromId}/associations/default/{to}/{toId}"
        router.add_put(f"/crm/v4/objects/{single_path}", single)
        router.add_put(f"/crm/objects/{_DATE_VERSION}/{single_path}", single)

        configurations = self._configurations
        for prefix in (
            f"/crm/associations/{_VERSION}/definitions/configurations",
            # The path the official hubspot-api-client SDK uses; v4 behaviour.
            "/crm/v4/associations/definitions/configurations",
        ):
            router.add_get(f"{prefix}/all", api(configurations.get))
            router.add_get(f"{prefix}/{pair}", api(configurations.get))
            router.add_post(f"{prefix}/{pair}/batch/create", api(configurations.create))
            router.add_post(f"{prefix}/{pair}/batch/update", api(configurations.update))
            router.add_post(f"{prefix}/{pair}/batch/purge", api(configurations.purge))
        # Everything else is still an API call: counted, limited, answered 404.
        router.add_route("*", "/{tail:.*}", api(self._unknown_route))
        return app

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


def _types_or_raise(from_type: str, to_type: str) -> tuple[str, str]:
    from_key = canonical_type(from_type)
    to_key = canonical_type(to_type)
    if from_key is None or to_key is None:
        bad = from_type if from_key is None else to_type
        raise ValueError(
            f"not an object type: {bad!r} (expected a standard object name such as 'contacts', "
            "an objectTypeId such as '0-1' or '2-1234567', or a custom object name such as "
            "'p123_widget')"
        )
    return from_key, to_key

"""The sandbox's aiohttp application: HubSpot's association endpoints, in memory.

Every API request goes through `SandboxApp._serve`, which in this order:
counts the arrival (loop time, before any latency), consumes a scripted fault
if one is queued, checks the bearer token, applies the daily and rolling-window
limits, draws a random fault, holds the configured latency, and only then runs
the endpoint handler. A request answered by a fault or a limit is never
processed, so it stores nothing. ``/_sandbox/...`` introspection routes skip all
of that and need no token.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from aiohttp import web

from ._config import SandboxConfig, config_from_json, config_to_json
from ._faults import Fault, FaultPlan, ScriptEntry
from ._limits import ArrivalLog, DailyCounter, RollingWindowLimiter, peak_in_window
from ._store import AssociationStore, ConfigurationStore, pack_pair, unpack_pair
from ._types import (
    canonical_ids,
    canonical_type,
    default_type_id,
    parse_record_id,
    type_label,
)
from ._wire import (
    HTML_502,
    add_extra_fields,
    decode_batch_associate,
    decode_config_inputs,
    decode_spec_inputs,
    encode,
    error_body,
    new_correlation_id,
    rate_limit_body,
    standard_error,
    timestamp,
)

__all__ = ["CORRELATION_HEADER", "SandboxApp", "SandboxStats"]

CORRELATION_HEADER: Final = "X-HubSpot-Correlation-Id"
_JSON: Final = "application/json"
_VERSION: Final = r"{version:v4|[0-9]{4}-[0-9]{2}}"
_DATE_VERSION: Final = r"{version:[0-9]{4}-[0-9]{2}}"
_NOT_FOUND_SUB: Final = "crm.associations.OBJECT_NOT_FOUND"
_RESULT_TEMPLATE: Final = (
    '{"from":{"id":"%s"},"to":{"id":"%s"},'
    '"associationSpec":{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":TYPE_ID}}'
)
_POISON_MESSAGE: Final = "Invalid input: the request could not be processed"
_AUTH_MISSING: Final = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
    "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_AUTH_INVALID: Final = (
    "Authentication credentials not found or invalid: the access token was not recognised."
)

# Canned (category, message) of injected error statuses.
_FAULT_ERRORS: Final[dict[int, tuple[str, str]]] = {
    400: ("VALIDATION_ERROR", "Invalid input"),
    401: ("INVALID_AUTHENTICATION", _AUTH_MISSING),
    403: ("MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call."),
    404: ("OBJECT_NOT_FOUND", "Resource not found"),
    409: ("CONFLICT", "Conflict"),
    423: ("LOCKED", "The record is locked by another operation; retry in a few seconds."),
    477: ("MIGRATION_IN_PROGRESS", "This account is being migrated; retry after Retry-After."),
    500: ("INTERNAL_ERROR", "Internal error"),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable; try again later."),
    504: ("GATEWAY_TIMEOUT", "The request timed out before the server answered."),
}

Handler = Callable[[web.Request, "_Call"], Awaitable[web.StreamResponse]]


class _Call:
    """What the prelude of `SandboxApp._serve` hands to an endpoint handler."""

    __slots__ = ("correlation_id", "requested_at")

    def __init__(self, correlation_id: str, requested_at: float) -> None:
        self.correlation_id = correlation_id
        self.requested_at = requested_at


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _version_profile(version: str) -> str:
    """``v4``, ``2026-03`` (any date version before 2026-09) or ``2026-09`` (and later)."""
    if version == "v4":
        return "v4"
    return "2026-09" if version >= "2026-09" else "2026-03"


class _Rule:
    """A compiled not-found / poison id rule: ids of any type, and (type, id) pairs."""

    __slots__ = ("_by_type", "any_ids", "typed")

    def __init__(self, ids: Iterable[str]) -> None:
        any_ids: set[int] = set()
        typed: set[tuple[str, int]] = set()
        for text in ids:
            type_text, _, id_text = text.rpartition(":")
            if not type_text:
                any_ids.add(int(id_text))
                continue
            object_type = canonical_type(type_text)
            if object_type is None:
                raise ValueError(f"{text!r}: {type_text!r} is not an object type")
            typed.add((object_type, int(id_text)))
        self.any_ids = frozenset(any_ids)
        self.typed = frozenset(typed)
        self._by_type: dict[str, frozenset[int]] = {}

    def __bool__(self) -> bool:
        return bool(self.any_ids or self.typed)

    def ids_for(self, object_type: str) -> frozenset[int]:
        """Every id the rule names for records of one (canonical) type."""
        ids = self._by_type.get(object_type)
        if ids is None:
            typed = {i for t, i in self.typed if t == object_type}
            ids = self._by_type[object_type] = self.any_ids | typed
        return ids

    def matches(self, object_type: str, record_id: int) -> bool:
        return record_id in self.ids_for(object_type)

    def hits(self, object_type: str, record_ids: list[int]) -> bool:
        return not self.ids_for(object_type).isdisjoint(record_ids)


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxStats:
    """Counters since start (or the last reset), as ``GET /_sandbox/stats`` returns them."""

    requests: int
    """API requests that arrived (introspection calls excluded)."""
    by_status: dict[str, int]
    """Answers per HTTP status (``"200"``, ``"429"``, ...); dropped connections as ``"reset"``."""
    batch_sizes: dict[int, int]
    """``inputs`` length -> number of batch associate calls of that size."""
    peak_window: int
    """Most requests that arrived within any span of ``window_seconds``."""
    window_seconds: float
    """The rate limit's window, or ``peak_window_seconds`` when none is set."""
    pairs_received: int
    """Association inputs received in decoded batch/single associate calls."""
    pairs_duplicate: int
    """Inputs that were already stored when they arrived (re-sends)."""
    pairs_created: int
    """Inputs that created a new association."""
    pairs_not_found: int
    """Inputs refused by the not-found rule."""
    batches_poisoned: int
    """Calls refused whole by the poison rule."""
    associations: int
    """Associations stored now."""
    configurations: int
    """Limit configurations stored now."""
    rate_limited: int
    """Requests refused by the daily or rolling-window limit (scripted 429s excluded)."""
    daily_used: int
    """Requests admitted against the daily limit."""
    faults: int
    """Scripted or random faults answered (including connection resets)."""

    def as_dict(self) -> dict[str, Any]:
        """The stats as JSON-ready builtins (batch sizes keyed by strings)."""
        out = dataclasses.asdict(self)
        out["batch_sizes"] = {str(size): n for size, n in sorted(self.batch_sizes.items())}
        return out


class SandboxApp:
    """The sandbox's state and request handlers; `web_app` builds the aiohttp application.

    Not bound to a loop until it serves a request. `Sandbox` wraps it with a
    server lifecycle; this class is usable on its own with any aiohttp runner or
    ``aiohttp.test_utils.TestServer``.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        config = config if config is not None else SandboxConfig()
        self._config = config
        self._rng = random.Random(config.seed)
        self.store = AssociationStore()
        self.configurations = ConfigurationStore()
        self._arrivals = ArrivalLog(config.window_seconds)
        self._limiter: RollingWindowLimiter | None = None
        self._daily = DailyCounter(config.daily_limit)
        self._faults = FaultPlan(config.faults, self._rng)
        self._not_found = _Rule(())
        self._poison = _Rule(())
        self._trace: dict[str, Any] = {}
        self._reset_counters()
        self._apply(config, previous=None)

    def __repr__(self) -> str:
        return (
            f"<SandboxApp requests={self._requests} associations={len(self.store)} "
            f"limiter={self._limiter!r} daily={self._daily!r} faults={self._faults!r}>"
        )

    # -- configuration -------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        """The options in force."""
        return self._config

    def configure(self, config: SandboxConfig) -> None:
        """Switch to new options at run time; store and counters are kept.

        Raises `ValueError` (leaving the old options in force) if an id rule
        names an invalid object type.
        """
        self._apply(config, previous=self._config)

    def _apply(self, config: SandboxConfig, previous: SandboxConfig | None) -> None:
        not_found = _Rule(config.not_found_ids)
        poison = _Rule(config.poison_ids)
        self._config = config
        self._not_found = not_found
        self._poison = poison
        if previous is not None and config.seed != previous.seed:
            self._rng = random.Random(config.seed)
            self._faults.set_random(self._rng)
        self._faults.set_rates(config.faults)
        if config.rate_limit is None:
            self._limiter = None
        else:
            limit, window = config.rate_limit
            if self._limiter is None:
                self._limiter = RollingWindowLimiter(
                    limit, window, count_rejected=config.count_rejected
                )
            else:
                self._limiter.limit = limit
                self._limiter.window = window
                self._limiter.count_rejected = config.count_rejected
        self._daily.limit = config.daily_limit
        self._arrivals.set_window(config.window_seconds)
        if config.track_sends and self.store.sends is None:
            self.store.sends = Counter()
        elif not config.track_sends:
            self.store.sends = None
        self._trace = {"server": "hubassoc-sandbox", "note": "unknown field, ignore me"}
        self._auth_header = None if config.token is None else f"Bearer {config.token}"

    # -- introspection -----------------------------------------------------------

    def _reset_counters(self) -> None:
        self._requests = 0
        self._by_status: Counter[str] = Counter()
        self._batch_sizes: Counter[int] = Counter()
        self._pairs_received = 0
        self._pairs_duplicate = 0
        self._pairs_created = 0
        self._pairs_not_found = 0
        self._batches_poisoned = 0
        self._rate_limited = 0
        self._faults_answered = 0

    def reset(self) -> None:
        """Forget associations, configurations, counters, arrivals, limits and the script."""
        self.store.clear()
        self.configurations.clear()
        self._arrivals.clear()
        if self._limiter is not None:
            self._limiter.clear()
        self._daily.used = 0
        self._faults.clear()
        self._rng.seed(self._config.seed)
        self._reset_counters()

    def stats(self) -> SandboxStats:
        """A snapshot of the counters."""
        associations = len(self.store)
        return SandboxStats(
            requests=self._requests,
            by_status=dict(sorted(self._by_status.items())),
            batch_sizes=dict(sorted(self._batch_sizes.items())),
            peak_window=self._arrivals.peak,
            window_seconds=self._arrivals.window,
            pairs_received=self._pairs_received,
            pairs_duplicate=self._pairs_duplicate,
            pairs_created=self._pairs_created,
            pairs_not_found=self._pairs_not_found,
            batches_poisoned=self._batches_poisoned,
            associations=associations,
            configurations=len(self.configurations),
            rate_limited=self._rate_limited,
            daily_used=self._daily.used,
            faults=self._faults_answered,
        )

    def arrival_times(self) -> list[float]:
        """Loop times (``loop.time()``) at which API requests arrived, in order."""
        return self._arrivals.times()

    def peak_window(self, seconds: float | None = None) -> int:
        """Most arrivals within any span of `seconds` (default: the configured window)."""
        if seconds is None:
            return self._arrivals.peak
        return peak_in_window(self._arrivals.times(), seconds)

    def script(self, entries: Iterable[ScriptEntry]) -> int:
        """Queue exact answers for the next API requests; returns how many are pending.

        Raises `ValueError` for an entry `Fault.coerce` does not understand
        (nothing is queued then).
        """
        return self._faults.extend(entries)

    @property
    def pending_script(self) -> int:
        """Script entries not consumed yet."""
        return self._faults.pending

    def clear_script(self) -> None:
        """Drop every pending script entry."""
        self._faults.clear()

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
        """How often each pair was sent (needs ``track_sends=True``; else `RuntimeError`)."""
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

    # -- the application ---------------------------------------------------------

    def web_app(self) -> web.Application:
        """A new aiohttp application serving this sandbox."""
        app = web.Application(client_max_size=256 * 1024**2)
        api = self._api
        router = app.router
        sandbox = [
            ("GET", "/_sandbox/stats", self._h_stats),
            ("GET", "/_sandbox/store", self._h_store),
            ("POST", "/_sandbox/reset", self._h_reset),
            ("GET", "/_sandbox/config", self._h_get_config),
            ("POST", "/_sandbox/config", self._h_set_config),
            ("GET", "/_sandbox/script", self._h_get_script),
            ("POST", "/_sandbox/script", self._h_add_script),
            ("DELETE", "/_sandbox/script", self._h_clear_script),
            ("GET", "/_sandbox/arrivals", self._h_arrivals),
        ]
        for method, path, handler in sandbox:
            router.add_route(method, path, handler)
        router.add_route("*", "/_sandbox/{tail:.*}", self._h_unknown)
        pair = "{from}/{to}"
        router.add_post(
            f"/crm/v4/associations/{pair}/batch/associate/default", api(self._batch_associate)
        )
        router.add_post(
            f"/crm/associations/{_DATE_VERSION}/{pair}/batch/associate/default",
            api(self._batch_associate),
        )
        single = "{from}/{fromId}/associations/default/{to}/{toId}"
        router.add_put(f"/crm/v4/objects/{single}", api(self._single_associate))
        router.add_put(f"/crm/objects/{_DATE_VERSION}/{single}", api(self._single_associate))
        for prefix in (
            f"/crm/associations/{_VERSION}/definitions/configurations",
            # The path the official hubspot-api-client SDK uses; v4 behaviour.
            "/crm/v4/associations/definitions/configurations",
        ):
            router.add_get(f"{prefix}/all", api(self._config_list))
            router.add_get(f"{prefix}/{pair}", api(self._config_list))
            router.add_post(f"{prefix}/{pair}/batch/create", api(self._config_create))
            router.add_post(f"{prefix}/{pair}/batch/update", api(self._config_update))
            router.add_post(f"{prefix}/{pair}/batch/purge", api(self._config_purge))
        # Everything else is still an API call: counted, limited, answered 404.
        router.add_route("*", "/{tail:.*}", api(self._unknown_route))
        return app

    def _api(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, handler)

        return serve

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        now = asyncio.get_running_loop().time()
        self._arrivals.record(now)
        self._requests += 1
        call = _Call(new_correlation_id(), time.time())
        config = self._config
        response: web.StreamResponse | None = None
        fault = self._faults.next_scripted()
        if fault is not None and fault.pass_through:
            fault = None
        if fault is None:
            auth = self._auth_header
            if auth is not None and not self._authorized(request.headers.get("Authorization")):
                response = self._auth_error(request, call)
            else:
                policy = self._admit(now)
                if policy is not None:
                    self._rate_limited += 1
                    response = self._json(rate_limit_body(call.correlation_id, policy), 429)
                else:
                    fault = self._faults.draw()
        # Limit headers describe the window as the request found it on arrival.
        limits = (
            self._rate_headers(now)
            if self._limiter is not None or self._daily.limit is not None
            else None
        )
        delay = config.latency
        if config.jitter:
            delay += self._rng.uniform(0.0, config.jitter)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None:
            self._faults_answered += 1
            if fault.reset:
                self._by_status["reset"] += 1
                return _reset_connection(request)
            response = self._fault_response(fault, call)
        elif response is None:
            response = await handler(request, call)
        headers = response.headers
        headers[CORRELATION_HEADER] = call.correlation_id
        if limits is not None:
            headers.update(limits)
        self._by_status[str(response.status)] += 1
        return response

    def _authorized(self, given: str | None) -> bool:
        if given is None:
            return False
        if given == self._auth_header:
            return True
        # The scheme is case-insensitive (RFC 9110); the token is not.
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self._config.token

    def _admit(self, now: float) -> str | None:
        daily = self._daily
        if daily.exhausted:
            return "DAILY"
        limiter = self._limiter
        if limiter is not None and not limiter.try_admit(now):
            return "TEN_SECONDLY_ROLLING"
        daily.used += 1
        return None

    def _rate_headers(self, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        limiter = self._limiter
        if limiter is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(limiter.limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(limiter.remaining(now))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(round(limiter.window * 1000))
        daily = self._daily
        if daily.limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(daily.limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(daily.remaining)
        return headers

    def _auth_error(self, request: web.Request, call: _Call) -> web.Response:
        given = request.headers.get("Authorization")
        message = _AUTH_MISSING if given is None else _AUTH_INVALID
        return self._error(call, 401, "INVALID_AUTHENTICATION", message)

    def _fault_response(self, fault: Fault, call: _Call) -> web.Response:
        if fault.body is not None:
            response = web.Response(
                body=fault.body, status=fault.status, content_type=fault.content_type
            )
        elif fault.status == 502:
            response = web.Response(body=HTML_502, status=502, content_type="text/html")
        elif fault.status == 429:
            body = rate_limit_body(call.correlation_id, fault.policy or "TEN_SECONDLY_ROLLING")
            if fault.message is not None:
                body["message"] = fault.message
            response = self._json(body, 429)
        else:
            category, message = _FAULT_ERRORS.get(fault.status, ("ERROR", "Injected fault"))
            response = self._error(call, fault.status, category, fault.message or message)
        if fault.retry_after is not None:
            seconds = fault.retry_after
            response.headers["Retry-After"] = (
                str(int(seconds)) if seconds == int(seconds) else f"{seconds:g}"
            )
        return response

    # -- response helpers --------------------------------------------------------

    def _json(self, body: Any, status: int = 200) -> web.Response:
        if self._config.extra_fields:
            add_extra_fields(body, self._trace)
        return web.Response(body=encode(body), status=status, content_type=_JSON)

    def _error(
        self,
        call: _Call,
        status: int,
        category: str,
        message: str,
        *,
        sub_category: str | None = None,
        context: dict[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> web.Response:
        body = error_body(
            call.correlation_id,
            category,
            message,
            sub_category=sub_category,
            context=context,
            errors=errors,
            subcategory_object=self._config.subcategory_object,
        )
        return self._json(body, status)

    def _validation_error(
        self, call: _Call, message: str, where: str | None = None
    ) -> web.Response:
        errors = None if where is None else [{"message": message, "in": where, "code": "INVALID"}]
        return self._error(call, 400, "VALIDATION_ERROR", message, errors=errors)

    def _types(self, request: web.Request, call: _Call) -> tuple[str, str] | web.Response:
        match = request.match_info
        from_type = canonical_type(match["from"])
        to_type = canonical_type(match["to"])
        for raw, parsed in ((match["from"], from_type), (match["to"], to_type)):
            if parsed is None:
                return self._validation_error(call, f"Unable to infer object type from: {raw}")
        assert from_type is not None and to_type is not None
        return from_type, to_type

    def _batch_envelope(self, call: _Call, results: list[Any], started: str) -> dict[str, Any]:
        return {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": _iso(call.requested_at),
            "startedAt": started,
            "completedAt": timestamp(),
        }

    def _with_errors(self, body: dict[str, Any], errors: list[Any]) -> dict[str, Any]:
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        return body

    # -- associations ------------------------------------------------------------

    async def _batch_associate(self, request: web.Request, call: _Call) -> web.StreamResponse:
        # The common case runs in C (regex over joined ids, map, set.update, one
        # %-format per result); per-pair Python only when a rule actually hits.
        started = timestamp()
        types = self._types(request, call)
        if isinstance(types, web.Response):
            return types
        from_type, to_type = types
        try:
            batch = decode_batch_associate(await request.read())
        except msgspec.DecodeError as exc:
            return self._validation_error(call, f"Invalid input JSON: {exc}")
        inputs = batch.inputs
        size = len(inputs)
        self._batch_sizes[size] += 1
        self._pairs_received += size
        limit = self._config.max_batch_size
        if limit is not None and size > limit:
            return self._validation_error(
                call, f"Batch input size of {size} exceeds the maximum of {limit} inputs."
            )
        from_texts = canonical_ids([item.from_.id for item in inputs])
        if isinstance(from_texts, int):
            return self._bad_id(call, inputs[from_texts].from_.id, f"inputs[{from_texts}].from.id")
        to_texts = canonical_ids([item.to.id for item in inputs])
        if isinstance(to_texts, int):
            return self._bad_id(call, inputs[to_texts].to.id, f"inputs[{to_texts}].to.id")
        from_ids = list(map(int, from_texts))
        to_ids = list(map(int, to_texts))
        poison = self._poison
        if poison and (poison.hits(from_type, from_ids) or poison.hits(to_type, to_ids)):
            self._batches_poisoned += 1
            return self._error(call, 400, "VALIDATION_ERROR", _POISON_MESSAGE)
        keys = [f << 64 | t for f, t in zip(from_ids, to_ids, strict=True)]
        sends = self.store.sends
        if sends is not None:
            sends.update([(from_type, to_type, key) for key in keys])
        failed: list[tuple[str | None, str | None]] = []
        not_found = self._not_found
        if not_found and (not_found.hits(from_type, from_ids) or not_found.hits(to_type, to_ids)):
            missing_from = not_found.ids_for(from_type)
            missing_to = not_found.ids_for(to_type)
            keep: list[int] = []
            for index, (f, t) in enumerate(zip(from_ids, to_ids, strict=True)):
                f_missing = f in missing_from
                t_missing = t in missing_to
                if f_missing or t_missing:
                    failed.append(
                        (
                            from_texts[index] if f_missing else None,
                            to_texts[index] if t_missing else None,
                        )
                    )
                else:
                    keep.append(index)
            from_texts = [from_texts[i] for i in keep]
            to_texts = [to_texts[i] for i in keep]
            keys = [keys[i] for i in keep]
            self._pairs_not_found += len(failed)
        pairs = self.store.bucket(from_type, to_type)
        before = len(pairs)
        pairs.update(keys)
        created = len(pairs) - before
        self._pairs_created += created
        self._pairs_duplicate += len(keys) - created
        rows = list(zip(from_texts, to_texts, strict=True))
        if self._config.shuffle_results:
            self._rng.shuffle(rows)
        body = self._batch_envelope(call, [], started)
        type_id = default_type_id(from_type, to_type)
        if self._config.extra_fields:
            spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
            body["results"] = [
                {"from": {"id": f}, "to": {"id": t}, "associationSpec": spec} for f, t in rows
            ]
        else:
            # Ids are canonical digit strings, so they need no JSON escaping.
            template = _RESULT_TEMPLATE.replace("TYPE_ID", str(type_id))
            body["results"] = msgspec.Raw(
                ("[" + ",".join([template % row for row in rows]) + "]").encode()
            )
        if failed:
            self._with_errors(body, self._not_found_errors(from_type, to_type, failed))
        return self._json(body)

    def _bad_id(self, call: _Call, text: str, where: str) -> web.Response:
        return self._validation_error(
            call,
            f"Invalid input: {where} must be a record id (a decimal int64 string), got {text!r}",
            where,
        )

    def _not_found_errors(
        self, from_type: str, to_type: str, failed: list[tuple[str | None, str | None]]
    ) -> list[Any]:
        as_object = self._config.subcategory_object
        style = self._config.error_style

        def error(message: str, context: dict[str, list[str]]) -> dict[str, Any]:
            return standard_error(
                "OBJECT_NOT_FOUND",
                message,
                context,
                sub_category=_NOT_FOUND_SUB,
                subcategory_object=as_object,
            )

        if style == "none":
            return [error("One or more associations could not be created.", {})]
        missing_from = list(dict.fromkeys(f for f, _ in failed if f is not None))
        missing_to = list(dict.fromkeys(t for _, t in failed if t is not None))
        if style == "ids":
            ids = list(dict.fromkeys(missing_from + missing_to))
            return [error(f"{len(ids)} object(s) could not be found.", {"ids": ids})]
        errors = [
            error(f"No {type_label(from_type)} with ID {i} exists.", {"fromObjectId": [i]})
            for i in missing_from
        ]
        errors += [
            error(f"No {type_label(to_type)} with ID {i} exists.", {"toObjectId": [i]})
            for i in missing_to
        ]
        return errors

    async def _single_associate(self, request: web.Request, call: _Call) -> web.StreamResponse:
        started = timestamp()
        types = self._types(request, call)
        if isinstance(types, web.Response):
            return types
        from_type, to_type = types
        from_text = request.match_info["fromId"]
        to_text = request.match_info["toId"]
        from_id = parse_record_id(from_text)
        if from_id is None:
            return self._bad_id(call, from_text, "fromObjectId")
        to_id = parse_record_id(to_text)
        if to_id is None:
            return self._bad_id(call, to_text, "toObjectId")
        from_text, to_text = str(from_id), str(to_id)
        self._pairs_received += 1
        if self._poison.matches(from_type, from_id) or self._poison.matches(to_type, to_id):
            self._batches_poisoned += 1
            return self._error(call, 400, "VALIDATION_ERROR", _POISON_MESSAGE)
        key = pack_pair(from_id, to_id)
        if self.store.sends is not None:
            self.store.sends[(from_type, to_type, key)] += 1
        for side, object_type, record_id, text in (
            ("fromObjectId", from_type, from_id, from_text),
            ("toObjectId", to_type, to_id, to_text),
        ):
            if self._not_found.matches(object_type, record_id):
                self._pairs_not_found += 1
                return self._error(
                    call,
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {type_label(object_type)} with ID {text} exists.",
                    sub_category=_NOT_FOUND_SUB,
                    context={side: [text]},
                )
        pairs = self.store.bucket(from_type, to_type)
        if key in pairs:
            self._pairs_duplicate += 1
        else:
            pairs.add(key)
            self._pairs_created += 1
        spec = {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": default_type_id(from_type, to_type),
        }
        result = {"from": {"id": from_text}, "to": {"id": to_text}, "associationSpec": spec}
        return self._json(self._batch_envelope(call, [result], started))

    async def _unknown_route(self, request: web.Request, call: _Call) -> web.StreamResponse:
        return self._error(
            call, 404, "OBJECT_NOT_FOUND", f"No route for {request.method} {request.path}"
        )

    # -- limit configurations ----------------------------------------------------

    async def _config_list(self, request: web.Request, call: _Call) -> web.StreamResponse:
        if "from" not in request.match_info:
            return self._json({"results": self.configurations.results()})
        types = self._types(request, call)
        if isinstance(types, web.Response):
            return types
        return self._json({"results": self.configurations.results(*types)})

    async def _config_create(self, request: web.Request, call: _Call) -> web.StreamResponse:
        return await self._config_write(request, call, create=True)

    async def _config_update(self, request: web.Request, call: _Call) -> web.StreamResponse:
        return await self._config_write(request, call, create=False)

    async def _config_write(
        self, request: web.Request, call: _Call, *, create: bool
    ) -> web.StreamResponse:
        started = timestamp()
        types = self._types(request, call)
        if isinstance(types, web.Response):
            return types
        try:
            inputs = decode_config_inputs(await request.read())
        except msgspec.DecodeError as exc:
            return self._validation_error(call, f"Invalid input JSON: {exc}")
        configs = self.configurations.for_pair(*types)
        results: list[Any] = []
        errors: list[Any] = []
        for item in inputs:
            key = (item.category, item.type_id)
            context: dict[str, list[str]] = {
                "category": [item.category],
                "typeId": [str(item.type_id)],
            }
            if create and key in configs:
                errors.append(
                    self._config_error(
                        "VALIDATION_ERROR",
                        f"A limit configuration for {item.category} type {item.type_id} "
                        "already exists.",
                        context,
                        "crm.associations.CONFIGURATION_ALREADY_EXISTS",
                    )
                )
                continue
            if not create and key not in configs:
                errors.append(self._config_missing(item.category, item.type_id, context))
                continue
            configs[key] = item.max_to_object_ids
            results.append(
                {
                    "category": item.category,
                    "typeId": item.type_id,
                    "userEnforcedMaxToObjectIds": item.max_to_object_ids,
                }
            )
        profile = _version_profile(request.match_info.get("version", "v4"))
        body = self._with_errors(self._batch_envelope(call, results, started), errors)
        if profile == "2026-09":
            return self._json(body, 200)
        if errors:
            return self._json(body, 207)
        return self._json(body, 201 if create else 200)

    def _config_error(
        self, category: str, message: str, context: dict[str, list[str]], sub_category: str
    ) -> dict[str, Any]:
        return standard_error(
            category,
            message,
            context,
            sub_category=sub_category,
            subcategory_object=self._config.subcategory_object,
        )

    def _config_missing(
        self, category: str, type_id: int, context: dict[str, list[str]]
    ) -> dict[str, Any]:
        return self._config_error(
            "OBJECT_NOT_FOUND",
            f"No limit configuration for {category} type {type_id} exists.",
            context,
            "crm.associations.CONFIGURATION_NOT_FOUND",
        )

    async def _config_purge(self, request: web.Request, call: _Call) -> web.StreamResponse:
        started = timestamp()
        types = self._types(request, call)
        if isinstance(types, web.Response):
            return types
        try:
            inputs = decode_spec_inputs(await request.read())
        except msgspec.DecodeError as exc:
            return self._validation_error(call, f"Invalid input JSON: {exc}")
        configs = self.configurations.for_pair(*types)
        purged: list[Any] = []
        errors: list[Any] = []
        for item in inputs:
            key = (item.category, item.type_id)
            if configs.pop(key, None) is None:
                context = {"category": [item.category], "typeId": [str(item.type_id)]}
                errors.append(self._config_missing(item.category, item.type_id, context))
            else:
                purged.append({"category": item.category, "typeId": item.type_id})
        profile = _version_profile(request.match_info.get("version", "v4"))
        if profile == "v4":
            return web.Response(status=204)
        # BatchResponse (2026-03) lists untyped objects: the purged specs. BatchResponseVoid
        # (2026-09) has nothing to list.
        results = purged if profile == "2026-03" else []
        body = self._with_errors(self._batch_envelope(call, results, started), errors)
        return self._json(body, 200)

    # -- /_sandbox/ introspection ------------------------------------------------

    @staticmethod
    def _plain(body: Any, status: int = 200) -> web.Response:
        response = web.Response(body=encode(body), status=status, content_type=_JSON)
        response.headers[CORRELATION_HEADER] = new_correlation_id()
        return response

    async def _h_unknown(self, request: web.Request) -> web.Response:
        return self._plain({"message": f"no sandbox endpoint {request.method} {request.path}"}, 404)

    async def _h_stats(self, request: web.Request) -> web.Response:
        return self._plain(self.stats().as_dict())

    async def _h_store(self, request: web.Request) -> web.Response:
        query = request.query
        if "from" not in query or "to" not in query:
            return self._plain({"message": "give ?from=TYPE&to=TYPE"}, 400)
        try:
            pairs = self.store_pairs(query["from"], query["to"])
        except ValueError as exc:
            return self._plain({"message": str(exc)}, 400)
        return self._plain(
            {
                "fromObjectType": canonical_type(query["from"]),
                "toObjectType": canonical_type(query["to"]),
                "count": len(pairs),
                "pairs": pairs,
            }
        )

    async def _h_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._plain({"status": "reset"})

    async def _h_get_config(self, request: web.Request) -> web.Response:
        return self._plain(config_to_json(self._config))

    async def _h_set_config(self, request: web.Request) -> web.Response:
        try:
            changes = msgspec.json.decode(await request.read())
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of options")
            self.configure(config_from_json(self._config, changes))
        except (ValueError, msgspec.DecodeError) as exc:
            return self._plain({"message": str(exc)}, 400)
        return self._plain(config_to_json(self._config))

    async def _h_get_script(self, request: web.Request) -> web.Response:
        return self._plain({"pending": self.pending_script})

    async def _h_add_script(self, request: web.Request) -> web.Response:
        try:
            entries = msgspec.json.decode(await request.read())
            if not isinstance(entries, list):
                raise ValueError("the body must be a JSON list of script entries")
            pending = self.script(entries)
        except (ValueError, msgspec.DecodeError) as exc:
            return self._plain({"message": str(exc)}, 400)
        return self._plain({"pending": pending})

    async def _h_clear_script(self, request: web.Request) -> web.Response:
        self.clear_script()
        return self._plain({"pending": 0})

    async def _h_arrivals(self, request: web.Request) -> web.Response:
        return self._plain(
            {"windowSeconds": self._arrivals.window, "arrivals": self._arrivals.times()}
        )


def _types_or_raise(from_type: str, to_type: str) -> tuple[str, str]:
    from_key = canonical_type(from_type)
    to_key = canonical_type(to_type)
    if from_key is None or to_key is None:
        raise ValueError(f"not an object type: {from_type if from_key is None else to_type!r}")
    return from_key, to_key


def _reset_connection(request: web.Request) -> web.StreamResponse:
    """Drop the client's connection with a TCP reset and no answer."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0: close() sends RST instead of FIN, as a crashed proxy would.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # aiohttp cannot write this to the closed transport and drops it quietly.
    return web.Response(status=503)

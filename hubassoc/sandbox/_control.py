"""The ``/_sandbox/`` endpoints: the sandbox's Python control API over HTTP.

Each endpoint mirrors a `SandboxApp` method, working on the same
`SandboxState` (through the functions of ``_inspect`` where there is more to
it than one call), and bypasses the request pipeline: no limits, no faults,
no latency, not counted. Every one requires ``Authorization: Bearer <control
token>`` (the ``control_token`` option, by default the API ``token``; open
only when neither is set), else 401. A POST or DELETE must say
``Content-Type: application/json``, else 415: a web page can send a
cross-site "simple" POST (a form, ``text/plain``, no body) without asking,
but not a JSON one, so it cannot reset or reconfigure a sandbox running on
the developer's machine.

Answers are JSON; a failure is ``{"message": ...}`` with 400 (bad input), 401
(no or wrong control token), 404 (no such endpoint), 409 (the state does not
allow it, e.g. send counts without ``track_sends``) or 415 (not JSON).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
from aiohttp import web

from ._config import config_from_json, config_to_json
from ._fixtures import (
    associations_of,
    check_ranges,
    define_label,
    mapping_rows,
    seed,
    seed_ranges,
)
from ._inspect import send_counts, snapshot, store_pairs
from ._responses import CORRELATION_HEADER, JSON
from ._state import StateBound
from ._types import canonical_type
from ._wire import encode, new_correlation_id

__all__ = ["ControlEndpoints"]

ControlHandler = Callable[[web.Request], Awaitable[web.Response]]

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_NEED_TOKEN: Final = "the /_sandbox/ endpoints need Authorization: Bearer <control token>"
_NOT_TRACKED: Final = (
    "send counts are not tracked: turn on the track_sends option, "
    'e.g. POST /_sandbox/config {"track_sends": true}'
)


def _plain(body: Any, status: int = 200) -> web.Response:
    response = web.Response(body=encode(body), status=status, content_type=JSON)
    response.headers[CORRELATION_HEADER] = new_correlation_id()
    return response


def _failure(message: str, status: int = 400) -> web.Response:
    return _plain({"message": message}, status)


async def _json_body(request: web.Request, kind: type, what: str) -> Any:
    """The request's JSON body if it is a `kind`; `ValueError` naming `what` otherwise."""
    raw = await request.read()
    if not raw and kind is dict:
        raw = b"{}"  # nothing to say, e.g. revoke every refresh token
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(body, kind):
        raise ValueError(f"the body must be {what}")
    return body


class ControlEndpoints(StateBound):
    """Plain aiohttp handlers for ``/_sandbox/...`` over the sandbox's `SandboxState`."""

    __slots__ = ()

    def guarded(self, handler: ControlHandler) -> ControlHandler:
        """`handler` behind the control token and the JSON-only rule (see the module)."""

        async def guard(request: web.Request) -> web.Response:
            refusal = self._refusal(request)
            return refusal if refusal is not None else await handler(request)

        return guard

    def _refusal(self, request: web.Request) -> web.Response | None:
        expected = self._state.config.control_bearer
        if expected is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                given.strip().encode(), expected.encode()
            ):
                response = _failure(_NEED_TOKEN, 401)
                response.headers["WWW-Authenticate"] = 'Bearer realm="hubassoc-sandbox"'
                return response
        if request.method not in _SAFE_METHODS and request.content_type != JSON:
            message = (
                f"the body must be {JSON} (with that Content-Type), not {request.content_type}"
            )
            return _failure(message, 415)
        return None

    async def unknown(self, request: web.Request) -> web.Response:
        """Any other ``/_sandbox/`` path or method: 404."""
        return _failure(f"no sandbox endpoint {request.method} {request.path}", 404)

    async def stats(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/stats``: `SandboxApp.stats` as JSON."""
        return _plain(snapshot(self._state).as_dict())

    async def store(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/store?from=..&to=..``: `SandboxApp.store_pairs`, with a count."""

        def answer(from_type: str, to_type: str) -> dict[str, Any]:
            pairs = store_pairs(self._state, from_type, to_type)
            return {"count": len(pairs), "pairs": pairs}

        return self._per_type_pair(request, answer)

    async def sends(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/sends?from=..&to=..``: `SandboxApp.send_counts` (409 if not tracked).

        ``count`` is the number of distinct pairs, ``total`` the number of sends.
        """

        def answer(from_type: str, to_type: str) -> dict[str, Any]:
            counts = send_counts(self._state, from_type, to_type)
            sends = sorted(counts.items(), key=lambda item: (int(item[0][0]), int(item[0][1])))
            return {
                "count": len(sends),
                "total": sum(counts.values()),
                "sends": [[f, t, times] for (f, t), times in sends],
            }

        return self._per_type_pair(request, answer)

    def _per_type_pair(
        self, request: web.Request, answer: Callable[[str, str], dict[str, Any]]
    ) -> web.Response:
        """``?from=..&to=..`` answered by `answer`, with the canonical types added."""
        query = request.query
        if "from" not in query or "to" not in query:
            return _failure("give ?from=TYPE&to=TYPE")
        from_type, to_type = query["from"], query["to"]
        try:
            body = answer(from_type, to_type)
        except RuntimeError:
            return _failure(_NOT_TRACKED, 409)
        except ValueError as exc:
            return _failure(str(exc))
        types = {
            "fromObjectType": canonical_type(from_type),
            "toObjectType": canonical_type(to_type),
        }
        return _plain({**types, **body})

    async def associations(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/associations?from=..&to=..&id=..``: `SandboxApp.associations`,
        ``{"fromObjectType", "toObjectType", "fromId", "count", "associations":
        {toId: [[category, typeId], ...]}}``."""
        record = request.query.get("id")
        if record is None:
            return _failure("give ?from=TYPE&to=TYPE&id=RECORD_ID")

        def answer(from_type: str, to_type: str) -> dict[str, Any]:
            found = associations_of(self._state, from_type, to_type, record)
            return {"fromId": record, "count": len(found), "associations": found}

        return self._per_type_pair(request, answer)

    async def seed(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/associations``: `SandboxApp.seed_associations`.

        Body: ``{"from": TYPE, "to": TYPE}`` with any of ``"rows": [[fromId, toId],
        [fromId, toId, [[category, typeId], ...]], ...]``, ``"associations":
        {fromId: [toId, ...]}`` and ``"ranges": [[fromId, firstToId, count], ...]``
        (`seed_ranges`); everything is checked before anything is stored. Answers
        ``{"seeded": n}``: how many pairs were new.
        """
        try:
            body = await _json_body(request, dict, '{"from", "to", "rows"}')
            from_type, to_type = body.get("from"), body.get("to")
            rows, ranges = body.get("rows", []), body.get("ranges", [])
            mapping = body.get("associations", {})
            if not (isinstance(from_type, str) and isinstance(to_type, str)):
                raise ValueError('"from" and "to" must be object types')
            if not (isinstance(rows, list) and isinstance(ranges, list)):
                raise ValueError('"rows" and "ranges" must be lists')
            if not isinstance(mapping, dict):
                raise ValueError('"associations" must map from ids to lists of to ids')
            checked = check_ranges(ranges)
            state = self._state
            seeded = seed(state, from_type, to_type, [*rows, *mapping_rows(mapping)])
            seeded += seed_ranges(state, from_type, to_type, checked)
        except (ValueError, TypeError) as exc:
            return _failure(str(exc))
        return _plain({"seeded": seeded})

    async def labels(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/labels``: `SandboxApp.define_label`.

        Body: ``{"from", "to", "label", "name"?, "inverseLabel"?}``; answers
        ``{"results": [{"category", "typeId", "label"}, ...]}``.
        """
        try:
            body = await _json_body(request, dict, '{"from", "to", "label", ...}')
            texts = [body.get(key) for key in ("from", "to", "label")]
            options = [body.get(key) for key in ("name", "inverseLabel")]
            if not all(isinstance(text, str) for text in texts) or not all(
                isinstance(option, str | None) for option in options
            ):
                raise ValueError('"from", "to", "label" (and "name", "inverseLabel") are strings')
            from_type, to_type, label = texts
            name, inverse = options
            results = define_label(
                self._state, from_type, to_type, label, name=name, inverse_label=inverse
            )
        except ValueError as exc:
            return _failure(str(exc))
        return _plain({"results": results})

    async def reset(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/reset``: `SandboxApp.reset`."""
        self._state.reset()
        return _plain({"status": "reset"})

    async def get_config(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/config``: the options in force."""
        return _plain(config_to_json(self._state.config))

    async def set_config(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/config``: change the options named in a JSON object."""
        state = self._state
        try:
            changes = await _json_body(request, dict, "a JSON object of options")
            state.apply(config_from_json(state.config, changes))
        except ValueError as exc:
            return _failure(str(exc))
        return _plain(config_to_json(state.config))

    async def get_script(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/script``: how many script entries are pending."""
        return _plain({"pending": self._state.faults.pending})

    async def add_script(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/script``: queue a JSON list of script entries."""
        try:
            entries = await _json_body(request, list, "a JSON list of script entries")
            pending = self._state.faults.extend(entries)
        except ValueError as exc:
            return _failure(str(exc))
        return _plain({"pending": pending})

    async def clear_script(self, request: web.Request) -> web.Response:
        """``DELETE /_sandbox/script``: drop every pending entry."""
        self._state.faults.clear()
        return _plain({"pending": 0})

    async def arrivals(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/arrivals``: loop times of API arrivals and the window."""
        state = self._state
        return _plain(
            {"windowSeconds": state.config.window_seconds, "arrivals": state.arrivals.times()}
        )

    async def oauth(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/oauth``: `SandboxApp.oauth_credentials` and whether OAuth is on."""
        state = self._state
        return _plain({"enabled": state.config.oauth, **state.oauth.credentials.as_dict()})

    async def revoke(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/oauth/revoke``: `SandboxApp.revoke_refresh_token`.

        Body: ``{}`` (every refresh token) or ``{"refresh_token": "..."}``.
        """
        what = '{} or {"refresh_token": "..."}'
        try:
            body = await _json_body(request, dict, what)
            refresh_token = body.get("refresh_token")
            if not isinstance(refresh_token, str | None):
                raise ValueError(f"the body must be {what}")
        except ValueError as exc:
            return _failure(str(exc))
        return _plain({"revoked": self._state.oauth.revoke(refresh_token)})

    async def expire(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/oauth/expire``: `SandboxApp.expire_access_tokens`."""
        now = asyncio.get_running_loop().time()
        return _plain({"expired": self._state.oauth.expire_access_tokens(now)})

"""The ``/_sandbox/`` endpoints: the sandbox's Python control API over HTTP.

Each endpoint mirrors a `SandboxApp` method and bypasses the request pipeline:
no limits, no faults, no latency, not counted. Every one requires
``Authorization: Bearer <control token>`` (the ``control_token`` option, by
default the API ``token``; open only when neither is set), else 401. A POST or
DELETE must say ``Content-Type: application/json``, else 415: a web page can
send a cross-site "simple" POST (a form, ``text/plain``, no body) without
asking, but not a JSON one, so it cannot reset or reconfigure a sandbox
running on the developer's machine.

Answers are JSON; a failure is ``{"message": ...}`` with 400 (bad input), 401
(no or wrong control token), 404 (no such endpoint), 409 (the state does not
allow it, e.g. send counts without ``track_sends``) or 415 (not JSON).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web

from ._config import config_from_json, config_to_json
from ._responses import CORRELATION_HEADER, JSON
from ._types import canonical_type
from ._wire import encode, new_correlation_id

if TYPE_CHECKING:
    from ._app import SandboxApp

__all__ = ["ControlEndpoints"]

ControlHandler = Callable[[web.Request], Awaitable[web.Response]]

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_NEED_TOKEN: Final = "the /_sandbox/ endpoints need Authorization: Bearer <control token>"


def _plain(body: Any, status: int = 200) -> web.Response:
    response = web.Response(body=encode(body), status=status, content_type=JSON)
    response.headers[CORRELATION_HEADER] = new_correlation_id()
    return response


def _type_pair(request: web.Request) -> tuple[str, str] | web.Response:
    query = request.query
    if "from" not in query or "to" not in query:
        return _plain({"message": "give ?from=TYPE&to=TYPE"}, 400)
    return query["from"], query["to"]


class ControlEndpoints:
    """Plain aiohttp handlers for ``/_sandbox/...``, each a thin layer over `SandboxApp`."""

    __slots__ = ("_app",)

    def __init__(self, app: SandboxApp) -> None:
        self._app = app

    def __repr__(self) -> str:
        return f"<ControlEndpoints of {self._app!r}>"

    def guarded(self, handler: ControlHandler) -> ControlHandler:
        """`handler` behind the control token and the JSON-only rule (see the module)."""

        async def guard(request: web.Request) -> web.Response:
            refusal = self._refusal(request)
            return refusal if refusal is not None else await handler(request)

        return guard

    def _refusal(self, request: web.Request) -> web.Response | None:
        expected = self._app.config.control_bearer
        if expected is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                given.strip().encode(), expected.encode()
            ):
                response = _plain({"message": _NEED_TOKEN}, 401)
                response.headers["WWW-Authenticate"] = 'Bearer realm="hubassoc-sandbox"'
                return response
        if request.method not in _SAFE_METHODS and request.content_type != JSON:
            message = (
                f"the body must be {JSON} (with that Content-Type), not {request.content_type}"
            )
            return _plain({"message": message}, 415)
        return None

    async def unknown(self, request: web.Request) -> web.Response:
        """Any other ``/_sandbox/`` path or method: 404."""
        return _plain({"message": f"no sandbox endpoint {request.method} {request.path}"}, 404)

    async def stats(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/stats``: `SandboxApp.stats` as JSON."""
        return _plain(self._app.stats().as_dict())

    async def store(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/store?from=..&to=..``: `SandboxApp.store_pairs`, with a count."""
        types = _type_pair(request)
        if isinstance(types, web.Response):
            return types
        from_type, to_type = types
        try:
            pairs = self._app.store_pairs(from_type, to_type)
        except ValueError as exc:
            return _plain({"message": str(exc)}, 400)
        return _plain(
            {
                "fromObjectType": canonical_type(from_type),
                "toObjectType": canonical_type(to_type),
                "count": len(pairs),
                "pairs": pairs,
            }
        )

    async def sends(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/sends?from=..&to=..``: `SandboxApp.send_counts` (409 if not tracked)."""
        types = _type_pair(request)
        if isinstance(types, web.Response):
            return types
        from_type, to_type = types
        try:
            counts = self._app.send_counts(from_type, to_type)
        except RuntimeError:
            return _plain(
                {
                    "message": "send counts are not tracked: turn on the track_sends option, "
                    'e.g. POST /_sandbox/config {"track_sends": true}'
                },
                409,
            )
        except ValueError as exc:
            return _plain({"message": str(exc)}, 400)
        sends = sorted(counts.items(), key=lambda item: (int(item[0][0]), int(item[0][1])))
        return _plain(
            {
                "fromObjectType": canonical_type(from_type),
                "toObjectType": canonical_type(to_type),
                "count": len(sends),
                "total": sum(counts.values()),
                "sends": [[f, t, times] for (f, t), times in sends],
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/reset``: `SandboxApp.reset`."""
        self._app.reset()
        return _plain({"status": "reset"})

    async def get_config(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/config``: the options in force."""
        return _plain(config_to_json(self._app.config))

    async def set_config(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/config``: change the options named in a JSON object."""
        app = self._app
        try:
            changes = msgspec.json.decode(await request.read())
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of options")
            app.configure(config_from_json(app.config, changes))
        except (ValueError, msgspec.DecodeError) as exc:
            return _plain({"message": str(exc)}, 400)
        return _plain(config_to_json(app.config))

    async def get_script(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/script``: how many script entries are pending."""
        return _plain({"pending": self._app.pending_script})

    async def add_script(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/script``: queue a JSON list of script entries."""
        try:
            entries = msgspec.json.decode(await request.read())
            if not isinstance(entries, list):
                raise ValueError("the body must be a JSON list of script entries")
            pending = self._app.script(entries)
        except (ValueError, msgspec.DecodeError) as exc:
            return _plain({"message": str(exc)}, 400)
        return _plain({"pending": pending})

    async def clear_script(self, request: web.Request) -> web.Response:
        """``DELETE /_sandbox/script``: drop every pending entry."""
        self._app.clear_script()
        return _plain({"pending": 0})

    async def arrivals(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/arrivals``: loop times of API arrivals and the window."""
        app = self._app
        return _plain({"windowSeconds": app.config.window_seconds, "arrivals": app.arrival_times()})

    async def oauth(self, request: web.Request) -> web.Response:
        """``GET /_sandbox/oauth``: `SandboxApp.oauth_credentials` and whether OAuth is on."""
        app = self._app
        return _plain({"enabled": app.config.oauth, **app.oauth_credentials().as_dict()})

    async def revoke(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/oauth/revoke``: `SandboxApp.revoke_refresh_token`.

        Body: ``{}`` (every refresh token) or ``{"refresh_token": "..."}``.
        """
        try:
            body = msgspec.json.decode(await request.read() or b"{}")
            if not isinstance(body, dict) or not isinstance(body.get("refresh_token", ""), str):
                raise ValueError('the body must be {} or {"refresh_token": "..."}')
        except (ValueError, msgspec.DecodeError) as exc:
            return _plain({"message": str(exc)}, 400)
        return _plain({"revoked": self._app.revoke_refresh_token(body.get("refresh_token"))})

    async def expire(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/oauth/expire``: `SandboxApp.expire_access_tokens`."""
        return _plain({"expired": self._app.expire_access_tokens()})

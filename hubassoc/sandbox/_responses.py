"""HubSpot-shaped answers shared by the endpoint handlers.

JSON answers (with the ``extra_fields`` quirk applied), the ``Error`` body of a
whole-call failure, the batch envelope with its timestamps, and the object
types of a path and the decoded body (or the 400 HubSpot answers for a type
it cannot infer or a body it cannot read).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec
from aiohttp import web

from ._call import Call
from ._config import SandboxConfig
from ._types import canonical_type
from ._wire import add_extra_fields, encode, error_body, timestamp

__all__ = [
    "CORRELATION_HEADER",
    "JSON",
    "batch_envelope",
    "batch_inputs",
    "batch_too_big",
    "error_response",
    "json_response",
    "path_and_body",
    "path_types",
    "validation_error",
    "with_errors",
]

T = TypeVar("T")

CORRELATION_HEADER: Final = "X-HubSpot-Correlation-Id"
JSON: Final = "application/json"

# The unknown field `extra_fields` adds everywhere (never mutated by add_extra_fields).
_TRACE: Final[dict[str, Any]] = {"server": "hubassoc-sandbox", "note": "unknown field, ignore me"}


def json_response(config: SandboxConfig, body: Any, status: int = 200) -> web.Response:
    """`body` as a JSON answer, with unknown fields added when the config asks for them."""
    if config.extra_fields:
        add_extra_fields(body, _TRACE)
    return web.Response(body=encode(body), status=status, content_type=JSON)


def error_response(
    config: SandboxConfig,
    call: Call,
    status: int,
    category: str,
    message: str,
    *,
    sub_category: str | None = None,
    context: dict[str, list[str]] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> web.Response:
    """A whole-call failure in HubSpot's ``Error`` shape, carrying the call's correlation id."""
    body = error_body(
        call.correlation_id,
        category,
        message,
        sub_category=sub_category,
        context=context,
        errors=errors,
        subcategory_object=config.subcategory_object,
    )
    return json_response(config, body, status)


def validation_error(
    config: SandboxConfig, call: Call, message: str, where: str | None = None
) -> web.Response:
    """A 400 ``VALIDATION_ERROR``; `where` adds an ``ErrorDetail`` naming the input."""
    errors = None if where is None else [{"message": message, "in": where, "code": "INVALID"}]
    return error_response(config, call, 400, "VALIDATION_ERROR", message, errors=errors)


def path_types(
    config: SandboxConfig, request: web.Request, call: Call
) -> tuple[str, str] | web.Response:
    """The canonical ``{from}`` and ``{to}`` types of the path, or HubSpot's 400 for a bad one."""
    match = request.match_info
    from_type = canonical_type(match["from"])
    to_type = canonical_type(match["to"])
    if from_type is None or to_type is None:
        raw = match["from"] if from_type is None else match["to"]
        return validation_error(config, call, f"Unable to infer object type from: {raw}")
    return from_type, to_type


async def path_and_body(
    config: SandboxConfig, request: web.Request, call: Call, decode: Callable[[bytes], T]
) -> tuple[tuple[str, str], T] | web.Response:
    """The path's canonical object types and the decoded body, or HubSpot's 400 for either.

    `decode` raises `msgspec.DecodeError` (a ``ValidationError`` names the JSON path).
    """
    types = path_types(config, request, call)
    if isinstance(types, web.Response):
        return types
    try:
        return types, decode(await request.read())
    except msgspec.DecodeError as exc:
        return validation_error(config, call, f"Invalid input JSON: {exc}")


def batch_too_big(
    config: SandboxConfig, call: Call, size: int, limit: int | None
) -> web.Response | None:
    """HubSpot's 400 for a batch of `size` inputs over `limit` (``None``: none), else ``None``."""
    if limit is None or size <= limit:
        return None
    message = f"Batch input size of {size} exceeds the maximum of {limit} inputs."
    return validation_error(config, call, message)


async def batch_inputs(
    config: SandboxConfig,
    request: web.Request,
    call: Call,
    decode: Callable[[bytes], list[T]],
    limit: int | None,
) -> tuple[tuple[str, str], list[T]] | web.Response:
    """`path_and_body` of a batch, and HubSpot's 400 when it has more than `limit` inputs."""
    read = await path_and_body(config, request, call, decode)
    if isinstance(read, web.Response):
        return read
    too_big = batch_too_big(config, call, len(read[1]), limit)
    return read if too_big is None else too_big


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def batch_envelope(call: Call, results: Any, started: str) -> dict[str, Any]:
    """A ``COMPLETE`` batch answer: `results`, ``requestedAt``, ``startedAt``, ``completedAt``."""
    return {
        "status": "COMPLETE",
        "results": results,
        "requestedAt": _iso(call.requested_at),
        "startedAt": started,
        "completedAt": timestamp(),
    }


def with_errors(body: dict[str, Any], errors: list[Any]) -> dict[str, Any]:
    """Add ``numErrors`` and ``errors`` to a batch answer when there are any; returns it."""
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body

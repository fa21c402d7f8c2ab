"""The ``echo_authorization`` mode: errors that repeat the caller's credentials everywhere.

A hostile server for the client's redaction tests. Every error the sandbox
answers (whole-call errors of any status, the 429 bodies, injected faults, an
HTML 502, per-input errors inside 200 and 207 answers, OAuth token errors)
gets the request's ``Authorization`` value (``Bearer <token>``) and the bare
token appended to every string in it (``context`` and ``links`` keys too), as
``" [Authorization: Bearer t] [token: t]"``; the HubSpot ``Error`` fields it
lacks (``subCategory``, ``context``, ``links``, ``id``, ``errors[]`` with
``message``/``code``/``in``/``subCategory``/``context``) are added carrying
them, and so is the ``X-HubSpot-Correlation-Id`` header. A client that puts
any of these strings into an exception, log line or event without redaction
leaks the token.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any, Final

import msgspec
from aiohttp import web

from ._responses import CORRELATION_HEADER
from ._wire import encode

__all__ = ["echo_secrets", "secrets_of_request"]

# Maps of string -> strings in HubSpot's shapes: their keys carry the echo too.
_MAPS: Final = frozenset({"context", "links"})


def secrets_of_request(request: web.Request) -> list[tuple[str, str]]:
    """``(label, value)`` pairs to echo: the Authorization header and its bare token."""
    header = request.headers.get("Authorization")
    if not header:
        return []
    bare = header.partition(" ")[2].strip()
    return [("Authorization", header), ("token", bare or header)]


def echo_secrets(response: web.Response, secrets: Iterable[tuple[str, str]]) -> web.Response:
    """Put `secrets` into every string of `response`'s error(s), in place; returns it.

    Touches answers of status 400 and above (the whole body) and JSON answers
    below 400 that list ``errors`` (those entries only).
    """
    suffix = "".join(f" [{label}: {value}]" for label, value in secrets)
    if not suffix or not isinstance(response.body, bytes):
        return response
    body = response.body
    if response.status < 400:
        answer = _json(body)
        if not isinstance(answer, dict) or not answer.get("errors"):
            return response
        answer["errors"] = [_error(error, suffix) for error in answer["errors"]]
        new_body = encode(answer)
    elif response.content_type == "text/html":
        text = body.decode(errors="replace")
        echo = f"<p>{html.escape(suffix.strip())}</p>"
        new_body = text.replace("</body>", echo + "</body>", 1).encode()
    else:
        answer = _json(body)
        new_body = body + suffix.encode() if answer is None else encode(_error(answer, suffix))
    response.body = new_body
    correlation_id = response.headers.get(CORRELATION_HEADER)
    if correlation_id is not None:
        response.headers[CORRELATION_HEADER] = correlation_id + suffix
    return response


def _json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None


def _error(error: Any, suffix: str) -> Any:
    """One error object with the echo in every string and every HubSpot field it lacks."""
    echoed = _strings(error, suffix)
    if isinstance(echoed, dict) and "category" in echoed:
        echo = suffix.strip()
        echoed.setdefault("subCategory", echo)
        echoed.setdefault("id", echo)
        echoed.setdefault("context", {echo: [echo]})
        echoed.setdefault("links", {echo: echo})
        details = echoed.get("errors")
        if not isinstance(details, list):
            details = echoed["errors"] = []
        details.append({})
        for detail in details:
            if isinstance(detail, dict):
                for name in ("message", "code", "in", "subCategory"):
                    detail.setdefault(name, echo)
                detail.setdefault("context", {echo: [echo]})
    return echoed


def _strings(value: Any, suffix: str, key: str | None = None) -> Any:
    if isinstance(value, str):
        return value + suffix
    if isinstance(value, list):
        return [_strings(item, suffix) for item in value]
    if isinstance(value, dict):
        if key not in _MAPS:
            return {name: _strings(item, suffix, name) for name, item in value.items()}
        # A map's keys are data too (``context: {"fromObjectId": [...]}``).
        out = {name + suffix: _strings(item, suffix) for name, item in value.items()}
        if not out:
            echo = suffix.strip()
            out[echo] = [echo] if key == "context" else echo
        return out
    return value

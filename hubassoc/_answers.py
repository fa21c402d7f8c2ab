"""What a non-2xx answer means: the error it becomes, and the failure the retry policy sees.

The one table from HTTP status to error class lives here (:func:`error_type`);
the API's answers (:func:`error_from`) and the OAuth token endpoint's (in
:mod:`hubassoc._oauth`, whose bodies have another shape) both go through it.
Error bodies are read leniently: an error page is often not JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hubassoc._errors import (
    AuthenticationError,
    DailyLimitError,
    HubSpotError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
)
from hubassoc._models import ERROR_DECODER, RATE_LIMIT_DECODER, Error, RateLimitErrorBody
from hubassoc._retry import Failure, parse_retry_after

__all__ = ["error_from", "error_type", "failure_from", "lenient"]

_MAX_CORRELATION_ID = 128
_DAILY_RESET = " (the daily limit resets at midnight in the account's time zone)"


def error_type(status: int) -> type[HubSpotError]:
    """The error class of a non-2xx status (a 429 ``DAILY`` is told apart by its body)."""
    if status in (401, 403):
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return InvalidRequestError
    return HubSpotError


def error_from(status: int, headers: Mapping[str, str], payload: bytes) -> HubSpotError:
    """The error a non-2xx answer of the API becomes (never raises itself; not yet redacted)."""
    correlation_id = headers.get("X-HubSpot-Correlation-Id")
    if correlation_id is not None:
        correlation_id = correlation_id[:_MAX_CORRELATION_ID]
    if status == 429:
        limit = lenient(RATE_LIMIT_DECODER.decode, payload, RateLimitErrorBody())
        daily = limit.policy_name == "DAILY"
        return (DailyLimitError if daily else RateLimitError)(
            (limit.message or "rate limit reached") + (_DAILY_RESET if daily else ""),
            status=429,
            correlation_id=limit.correlation_id or correlation_id,
            category=limit.error_type,
            policy_name=limit.policy_name,
            retry_after=parse_retry_after(headers),
        )
    body = lenient(ERROR_DECODER.decode, payload, None)
    if body is None:
        html = payload[:64].lstrip()[:1] == b"<"
        body = Error(message=f"HTTP {status}" + (" (an HTML error page)" if html else ""))
    known: dict[str, Any] = {
        "correlation_id": body.correlation_id or correlation_id,
        "category": body.category or None,
        "sub_category": body.sub_category,
        "context": body.context,
    }
    message = body.message or f"HTTP {status}"
    cls = error_type(status)
    if cls is ServerError:
        known["retry_after"] = parse_retry_after(headers)
    elif cls is HubSpotError:
        message = f"unexpected answer: {message}"
    return cls(message, status=status, **known)


def failure_from(status: int, headers: Mapping[str, str], error: HubSpotError) -> Failure:
    """What the retry policy sees of a non-2xx answer."""
    return Failure(
        status,
        retry_after=parse_retry_after(headers),
        interval=_interval(headers),
        policy_name=error.policy_name if isinstance(error, RateLimitError) else None,
    )


def lenient(decode: Callable[[bytes], Any], payload: bytes, default: Any) -> Any:
    """Decode an error body if it is one we know; error pages are often not JSON."""
    try:
        return decode(payload)
    except Exception:
        return default


def _interval(headers: Mapping[str, str]) -> float | None:
    text = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if text is None:
        return None
    try:
        return max(0.0, int(text) / 1000)
    except ValueError:
        return None

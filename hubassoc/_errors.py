"""The errors hubassoc raises.

Every failure that comes from HubSpot, from the network or from a response
that cannot be read, and work refused because the client closed, is an
instance of :class:`HubSpotError`::

    HubSpotError
    ├── AuthenticationError    401 / 403: the token is missing, wrong or lacks a scope
    ├── InvalidRequestError    any other 4xx: the request itself is wrong
    ├── RateLimitError         429 once the retry budget is spent
    │   └── DailyLimitError    429 with policyName DAILY: never retried
    ├── ServerError            5xx once the retry budget is spent
    ├── TransportError         connection failure or timeout once retries are spent
    ├── DecodingError          a response that does not match the wire model
    │   └── ResponseTooLargeError  a body over max_response_bytes, refused unread
    ├── BatchItemError         one input failed inside an otherwise answered batch
    └── ClientClosedError      the client was closed (also a RuntimeError): the work never left

Misuse of the library (bad arguments) raises the standard
``ValueError``/``TypeError``, never a :class:`HubSpotError`.

Errors carry their evidence (HTTP status, HubSpot's correlation id, category,
context) as attributes, and ``str()`` puts the correlation id first so that a
log line can be handed to HubSpot support as it is. No error ever holds the
access token: texts that come from the server pass through the transport's
redaction before they reach an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "AuthenticationError",
    "BatchItemError",
    "ClientClosedError",
    "DailyLimitError",
    "DecodingError",
    "HubSpotError",
    "InvalidRequestError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "TransportError",
    "fresh_copy",
]

_EMPTY_CONTEXT: Mapping[str, Sequence[str]] = {}


class HubSpotError(Exception):
    """Base of every error that comes from HubSpot, the network or a response.

    Attributes:
        message: the human-readable explanation (HubSpot's own where it sent one).
        status: the HTTP status, or ``None`` where no response arrived.
        correlation_id: HubSpot's correlation id, to quote to HubSpot support.
        category: HubSpot's error category (``VALIDATION_ERROR``, ...), if any.
        sub_category: HubSpot's sub-category: a string, or an object where the
            server sent one.
        context: HubSpot's context lists (``{"ids": ["1"]}``), possibly empty.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        correlation_id: str | None = None,
        category: str | None = None,
        sub_category: str | Mapping[str, Any] | None = None,
        context: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.correlation_id = correlation_id
        self.category = category
        self.sub_category = sub_category
        self.context: Mapping[str, Sequence[str]] = (
            context if context is not None else _EMPTY_CONTEXT
        )

    def __str__(self) -> str:
        parts = []
        if self.correlation_id:
            parts.append(f"[{self.correlation_id}]")
        parts.append(self.message)
        detail = ", ".join(
            item
            for item in (
                f"HTTP {self.status}" if self.status is not None else "",
                self.category or "",
            )
            if item
        )
        if detail:
            parts.append(f"({detail})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, "
            f"correlation_id={self.correlation_id!r}, category={self.category!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default pickling of
        # exceptions; keep errors picklable for multiprocessing users.
        return (_rebuild_error, (type(self), self.message, self.__dict__))


E = TypeVar("E", bound=HubSpotError)


def fresh_copy(error: E) -> E:
    """A new instance of ``error`` with the same evidence and cause, and no traceback.

    Each caller of a failed batch (and each caller after a daily stop) gets
    its own copy: raising one instance into many callers would grow its
    traceback with every raise and let callers mutate each other's error.
    """
    copy: E = _rebuild_error(type(error), error.message, dict(error.__dict__))  # type: ignore[assignment]
    copy.__cause__ = error.__cause__
    copy.__suppress_context__ = error.__suppress_context__
    return copy


def _rebuild_error(cls: type[HubSpotError], message: str, state: dict[str, Any]) -> HubSpotError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class AuthenticationError(HubSpotError):
    """HubSpot refused the credentials (401) or the token lacks a scope (403)."""


class InvalidRequestError(HubSpotError):
    """HubSpot rejected the request as wrong (a 4xx other than 401, 403 and 429)."""


class RateLimitError(HubSpotError):
    """HubSpot answered 429 and the retry budget is spent.

    Attributes:
        policy_name: HubSpot's ``policyName`` (``TEN_SECONDLY_ROLLING``, ``DAILY``).
        retry_after: seconds HubSpot asked to wait, where it said.
    """

    def __init__(
        self,
        message: str,
        *,
        policy_name: str | None = None,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.policy_name = policy_name
        self.retry_after = retry_after


class DailyLimitError(RateLimitError):
    """The account's daily request limit is spent (429, ``policyName: DAILY``).

    It resets at midnight in the HubSpot account's time zone; retrying before
    then only burns requests, so hubassoc never retries it.
    """


class ServerError(HubSpotError):
    """HubSpot answered 5xx and the retry budget is spent, or it asked for a wait
    longer than the client's ``max_retry_wait``.

    Attributes:
        retry_after: seconds HubSpot asked to wait (``Retry-After``), where it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TransportError(HubSpotError):
    """No answer arrived (connection refused or reset, timeout) and retries are spent."""


class DecodingError(HubSpotError):
    """A response did not match the wire model: wrong type, missing field, not JSON.

    Attributes:
        path: the JSON path of the offending value (``$.results[3].to.id``), where known.
    """

    def __init__(self, message: str, *, path: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.path = path


class ResponseTooLargeError(DecodingError):
    """A response body was larger than the client's ``max_response_bytes``.

    It was refused as it arrived, never held whole.

    Attributes:
        size: bytes announced (``Content-Length``) or received when it was refused.
    """

    def __init__(self, message: str, *, size: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.size = size


class BatchItemError(HubSpotError):
    """One input of a batch failed while the batch itself was answered.

    Attributes:
        input: the input this error belongs to (for default associations, the
            ``(from_id, to_id)`` pair as strings).
        request_error: where HubSpot refused a whole request without naming
            inputs (a 400 that bisection narrowed down to this input), that
            request's error; ``None`` where HubSpot named this input itself
            (a record not found, say).
    """

    def __init__(
        self,
        message: str,
        *,
        input: object = None,
        request_error: HubSpotError | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.input = input
        self.request_error = request_error


class ClientClosedError(HubSpotError, RuntimeError):
    """The client was used after :meth:`AssociationsClient.aclose`, or closed before
    this work left (it was never sent).

    It is a :class:`HubSpotError`, so a caller that handles those handles it,
    and a ``RuntimeError``, as misuse of a closed object is in the standard library.
    """

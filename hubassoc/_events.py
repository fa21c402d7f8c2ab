"""What the client is doing, as it happens: small typed events for ``on_event``.

``AssociationsClient(..., on_event=callback)`` calls ``callback(event)`` with
one of the structs below each time something worth watching happens: a
request leaves or is answered, the pacer holds a request, HubSpot answers
429, a request is retried, inputs of a batch fail, the daily limit stops the
client, a token is refreshed. Callbacks run synchronously on the event loop,
so they must be quick; an exception from one is logged and swallowed, never
raised into a caller.

Events carry no secret (no token, no header) and no record id: only object
types, route templates (``/crm/associations/2026-03/{fromObjectType}/...``:
the API version stays, object types and ids do not), counts, statuses,
seconds and HubSpot's correlation id. They are safe to put into logs,
metrics and traces as they are.

Without a callback nothing is built, so the hot path pays nothing for this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Literal, TypeAlias

import msgspec

__all__ = [
    "BatchSettled",
    "DailyLimitReached",
    "DailyLimitReset",
    "Emitter",
    "Event",
    "EventCallback",
    "ItemsFailed",
    "LimitChanged",
    "PacerWaited",
    "RateLimitHeadersMissing",
    "RateLimited",
    "RequestAnswered",
    "RequestSent",
    "RetryScheduled",
    "TokenRefreshFailed",
    "TokenRefreshed",
    "combine",
]

logger = logging.getLogger("hubassoc")


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, tag_field="event"):
    """Base of every event: frozen, keyword-only, tagged with its class name.

    ``msgspec.json.encode(event)`` gives ``{"event": "RequestAnswered", ...}``,
    ready for a structured log line.
    """


class RequestSent(_Event, frozen=True):
    """A request left for HubSpot (retries included).

    Attributes:
        method: ``GET``, ``POST``, ``PUT``.
        route: the path template, without ids (``.../{fromObjectType}/{toObjectType}/...``).
        attempt: 1 for the first attempt, 2 for the first retry, ...
        batch_size: inputs in the body (1 for a single PUT, 0 without inputs).
        in_window: requests this client (or the shared budget) counts in the
            current rolling window, this one included; ``None`` when not pacing.
        limit: the requests the rolling window allows; ``None`` when not pacing.
    """

    method: str
    route: str
    attempt: int
    batch_size: int
    in_window: int | None = None
    limit: int | None = None


class RequestAnswered(_Event, frozen=True):
    """A request came back, or failed without an answer.

    Attributes:
        status: the HTTP status, or ``None`` where no answer arrived.
        seconds: from leaving to the answer (or the failure).
        error: the class name of the error the attempt became (``"ServerError"``,
            ``"TransportError"``), or ``None`` for a 2xx.
        correlation_id: HubSpot's correlation id, if it sent one.
    """

    method: str
    route: str
    attempt: int
    batch_size: int
    status: int | None
    seconds: float
    error: str | None = None
    correlation_id: str | None = None


class PacerWaited(_Event, frozen=True):
    """The pacer held a request before letting it leave.

    Attributes:
        seconds: how long it was held.
        reason: ``"window"`` (the rolling window was full), ``"pause"`` (after
            a 429), ``"shared"`` (the shared budget reserved a later slot),
            ``"probe"`` (an adaptive client waiting for HubSpot's first headers).
    """

    seconds: float
    reason: Literal["window", "pause", "shared", "probe"]


class RateLimited(_Event, frozen=True):
    """HubSpot answered 429.

    Attributes:
        policy: HubSpot's ``policyName`` (``TEN_SECONDLY_ROLLING``, ``DAILY``, ...),
            or ``None`` where the body named none.
        pause: seconds every request is now held for (0 for ``DAILY``).
    """

    policy: str | None
    pause: float


class RetryScheduled(_Event, frozen=True):
    """A failed attempt will be retried.

    Attributes:
        reason: the HTTP status as text (``"503"``), ``"timeout"`` or ``"connection"``.
        attempt: the attempt that failed (1 for the first).
        delay: seconds before the retry (after a 429, the pacer's pause).
    """

    method: str
    route: str
    reason: str
    attempt: int
    delay: float


class ItemsFailed(_Event, frozen=True):
    """Inputs of an answered batch failed (HubSpot named them, or bisection found them).

    Attributes:
        route: the batch path template.
        category: HubSpot's error category (``OBJECT_NOT_FOUND``, ...), or
            ``"UNKNOWN"`` where it sent none.
        count: how many inputs failed with that category.
        operation: the batch operation (``"associate_default"``, ``"associate"``,
            ``"archive"``, ``"archive_labels"``, ``"read"``).
    """

    route: str
    category: str
    count: int
    operation: str = "associate_default"


class BatchSettled(_Event, frozen=True):
    """A batch (coalesced or explicit) has an answer for every input.

    Attributes:
        from_type, to_type: the object types (never record ids).
        pairs: distinct inputs in the batch (pairs, or records for reads).
        succeeded: inputs that succeeded.
        failed: inputs that failed (per input or with the whole request).
        pending: coalesced calls still waiting for an answer after this one.
        operation: the batch operation (``"associate_default"``, ``"associate"``,
            ``"archive"``, ``"archive_labels"``, ``"read"``).
    """

    from_type: str
    to_type: str
    pairs: int
    succeeded: int
    failed: int
    pending: int = 0
    operation: str = "associate_default"


class DailyLimitReached(_Event, frozen=True):
    """The daily limit stopped the client: every call now fails fast.

    Attributes:
        source: ``"429"`` (HubSpot answered 429 ``DAILY``), ``"header"``
            (``X-HubSpot-RateLimit-Daily-Remaining: 0``) or ``"shared"``
            (another client on the shared budget hit it).
    """

    source: Literal["429", "header", "shared"]


class DailyLimitReset(_Event, frozen=True):
    """The daily stop ended (HubSpot's daily reset came): calls go through again."""


class RateLimitHeadersMissing(_Event, frozen=True):
    """An adaptive client got an answer without ``X-HubSpot-RateLimit-*`` headers
    (once per client): it keeps pacing at ``requests`` per ``per`` seconds.

    Pass ``rate_limit=RateLimit(...)`` to choose the limit, or
    ``rate_limit=False`` for a server without limits.

    Attributes:
        requests: requests per window it keeps pacing to.
        per: the window, in seconds.
    """

    requests: int
    per: float


class LimitChanged(_Event, frozen=True):
    """The rolling-window limit in force changed (set, learned from HubSpot, shared).

    Attributes:
        requests: requests allowed per window.
        per: the window in seconds.
        share: requests this client lets out per window (less than ``requests``
            when other processes use the same window).
    """

    requests: int
    per: float
    share: int


class TokenRefreshed(_Event, frozen=True):
    """An OAuth access token was refreshed.

    Attributes:
        seconds: how long the refresh took.
        expires_in: the new token's lifetime in seconds, as HubSpot said.
        hub_id: the HubSpot account the token belongs to, if HubSpot said.
        reason: ``"expiry"`` (ahead of it) or ``"rejected"`` (after a 401).
    """

    seconds: float
    expires_in: float
    hub_id: int | None = None
    reason: Literal["expiry", "rejected", "first"] = "expiry"


class TokenRefreshFailed(_Event, frozen=True):
    """HubSpot refused a refresh, or it could not be done.

    Attributes:
        status: the HTTP status, or ``None`` where no answer arrived.
        category: HubSpot's category (``BAD_REFRESH_TOKEN``, ...), if any.
    """

    status: int | None
    category: str | None = None


#: Every event type.
Event: TypeAlias = (
    RequestSent
    | RequestAnswered
    | PacerWaited
    | RateLimited
    | RetryScheduled
    | ItemsFailed
    | BatchSettled
    | DailyLimitReached
    | DailyLimitReset
    | RateLimitHeadersMissing
    | LimitChanged
    | TokenRefreshed
    | TokenRefreshFailed
)
#: What ``on_event`` takes: a plain callable of one event.
EventCallback: TypeAlias = Callable[[Event], object]


def combine(*callbacks: EventCallback | None) -> EventCallback | None:
    """One callback that calls each of ``callbacks`` in turn (``None`` ones are skipped).

    An exception from one callback is logged and does not stop the others.
    Returns ``None`` when no callback is left, so the client pays nothing.

    Raises:
        TypeError: an argument is not callable.
    """
    chosen = [c for c in callbacks if c is not None]
    for callback in chosen:
        if not callable(callback):
            raise TypeError(f"an event callback must be callable, not {callback!r}")
    if not chosen:
        return None
    if len(chosen) == 1:
        return chosen[0]
    return _Combined(chosen)


class _Combined:
    __slots__ = ("_callbacks",)

    def __init__(self, callbacks: Iterable[EventCallback]) -> None:
        self._callbacks = tuple(callbacks)

    def __repr__(self) -> str:
        return f"<combined event callbacks {list(self._callbacks)!r}>"

    def __call__(self, event: Event) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:
                logger.exception("an on_event callback raised; the event was %r", event)


class Emitter:
    """Delivers events to the user's callback; guards the client against it.

    The client holds one; modules that emit receive it (or ``None`` when no
    callback was given, so that ``if emit is not None`` is the whole cost).
    """

    __slots__ = ("_callback",)

    def __init__(self, callback: EventCallback) -> None:
        self._callback = callback

    def __call__(self, event: Event) -> None:
        try:
            self._callback(event)
        except Exception:
            logger.exception("the on_event callback raised; the event was %r", event)

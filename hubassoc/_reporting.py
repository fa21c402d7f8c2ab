"""What the transport tells of each attempt: counters, events, spans and log lines.

:meth:`Reporter.sent` counts an attempt of a :class:`Call`, emits
:class:`~hubassoc.events.RequestSent` and opens its span; :meth:`Reporter.answered`
(or :meth:`Reporter.abandoned`) closes it. With no listener (no ``on_event``,
no tracer, no debug logging) an answer costs nothing but the counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import msgspec
from yarl import URL

from hubassoc._errors import HubSpotError
from hubassoc._events import Emitter, RequestAnswered, RequestSent, RetryScheduled
from hubassoc._pacing import Pacer
from hubassoc._redaction import Redactor
from hubassoc._retry import OnRetry

__all__ = ["Call", "Reporter", "TransportStats"]

logger = logging.getLogger("hubassoc")

_MAX_CORRELATION_ID = 128


@dataclass(frozen=True, slots=True)
class TransportStats:
    """What went over the wire, as it stood when read (``client.stats`` again for newer).

    Attributes:
        requests: attempts sent (retries included).
        retries: attempts that were retries.
        rate_limited: 429 answers seen.
        by_status: answers per HTTP status.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_status: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(slots=True, eq=False)
class Call:
    """One request across its attempts (one at a time): what is sent, and the attempt
    under way (its number, 0 for the first; its token, span and start)."""

    method: str
    url: URL
    route: str
    batch_size: int
    body: bytes | None
    number: int = 0
    token: str = ""
    span: Any = None
    started: float = 0.0


class Reporter:
    """Counts, emits, traces and logs the attempts of one transport."""

    __slots__ = (
        "_emit",
        "_pacer",
        "_redactor",
        "by_status",
        "rate_limited",
        "requests",
        "retries",
        "tracer",
    )

    def __init__(self, pacer: Pacer, redactor: Redactor, emit: Emitter | None, tracer: Any) -> None:
        self._pacer = pacer
        self._redactor = redactor
        self._emit = emit
        self.tracer = tracer
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.by_status: dict[int, int] = {}

    def stats(self) -> TransportStats:
        """The counters as they stand, read-only."""
        by_status = MappingProxyType(dict(self.by_status))
        return TransportStats(self.requests, self.retries, self.rate_limited, by_status)

    def sent(self, call: Call) -> None:
        """Attempt ``call.number`` leaves now: count it, tell of it, open its span."""
        self.requests += 1
        if call.number:
            self.retries += 1
        if self._emit is not None:
            limit = self._pacer.limit
            self._emit(
                RequestSent(
                    method=call.method,
                    route=call.route,
                    attempt=call.number + 1,
                    batch_size=call.batch_size,
                    in_window=self._pacer.in_window() if limit is not None else None,
                    limit=limit.requests if limit is not None else None,
                )
            )
        if self.tracer is not None:
            call.span = self.tracer.start(call.method, call.route, call.batch_size, call.number + 1)
        call.started = time.perf_counter()

    def abandoned(self, call: Call, exc: BaseException) -> None:
        """The attempt ended by an exception that is no answer (a cancellation, a bug):
        its span, current in the caller's context, must not outlive it."""
        if call.span is not None:
            self.tracer.end(call.span, None, None, type(exc).__name__)

    def answered(
        self,
        call: Call,
        status: int | None,
        error: HubSpotError | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        """The attempt has its answer (``status``), or failed without one (``None``)."""
        debug = logger.isEnabledFor(logging.DEBUG)
        if self._emit is None and call.span is None and not debug:
            return  # nobody listens: the common case pays for nothing
        seconds = time.perf_counter() - call.started
        correlation_id = None
        if error is not None:
            correlation_id = error.correlation_id
        elif headers is not None:
            correlation_id = headers.get("X-HubSpot-Correlation-Id")
            if correlation_id is not None:
                correlation_id = self._redactor.text(correlation_id)[:_MAX_CORRELATION_ID]
        error_name = type(error).__name__ if error is not None else None
        if call.span is not None:
            self.tracer.end(call.span, status, correlation_id, error_name)
        event = RequestAnswered(
            method=call.method,
            route=call.route,
            attempt=call.number + 1,
            batch_size=call.batch_size,
            status=status,
            seconds=seconds,
            error=error_name,
            correlation_id=correlation_id,
        )
        if self._emit is not None:
            self._emit(event)
        if debug:
            what = status if status is not None else error_name
            # The event's fields as the record's extra=, for JSON formatters.
            fields = {f"hubassoc_{k}": v for k, v in msgspec.structs.asdict(event).items()}
            extra = {"hubassoc_event": "RequestAnswered", **fields}
            message = "%s %s -> %s in %.3fs (attempt %d)"
            logger.debug(
                message, call.method, call.route, what, seconds, event.attempt, extra=extra
            )

    def on_retry(self, method: str, route: str) -> OnRetry | None:
        """What tells of the retries of ``method route`` (``None`` without a listener)."""
        emit = self._emit
        if emit is None:
            return None
        return lambda number, reason, delay: emit(
            RetryScheduled(
                method=method, route=route, reason=reason, attempt=number + 1, delay=delay
            )
        )

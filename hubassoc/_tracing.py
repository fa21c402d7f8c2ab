"""An OpenTelemetry span per HubSpot request attempt, when ``opentelemetry-api`` is there.

Without ``opentelemetry-api`` (the ``otel`` extra), :func:`make_tracer`
returns ``None`` and the transport's whole cost is one ``is None`` check per
attempt. With it, each attempt gets a CLIENT span named
``HubSpot POST /crm/associations/2026-03/{fromObjectType}/...`` from the
global tracer provider (a no-op until an SDK installs one), made the current
span while the request runs, so that a span from
``opentelemetry-instrumentation-aiohttp-client`` nests inside it.

Attributes follow the HTTP client semantic conventions where they fit
(``http.request.method``, ``url.template``, ``server.address``,
``server.port``, ``http.response.status_code``, ``http.request.resend_count``,
``error.type``) plus HubSpot's own: ``hubspot.correlation_id``,
``hubassoc.batch_size``, ``hubassoc.attempt``.
No span carries a URL with ids, a header, or the token.

The transport uses it as::

    span = tracer.start("POST", route, batch_size, attempt) if tracer is not None else None
    try:
        ...  # send, read the answer
    finally:  # every way out, cancellation included: the span is current until it ends
        if span is not None:
            tracer.end(span, status, correlation_id, error_name)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel_trace
except ImportError:  # pragma: no cover - exercised only without the extra
    otel_trace = None  # type: ignore[assignment]
    otel_context = None  # type: ignore[assignment]

__all__ = ["AttemptSpan", "RequestTracer", "make_tracer", "start_request_span"]

_INSTRUMENTATION = "hubassoc"


def make_tracer(
    tracing: bool | TracerProvider = True,
    *,
    server_address: str | None = None,
    server_port: int | None = None,
) -> RequestTracer | None:
    """The tracer the transport starts attempt spans with, or ``None``.

    Args:
        tracing: ``True`` for the global tracer provider (a provider an SDK
            installs later is used all the same), a ``TracerProvider`` to use
            that one, ``False`` for no spans.
        server_address, server_port: HubSpot's host and port, for ``server.*``.

    Returns:
        ``None`` when ``tracing`` is false or ``opentelemetry-api`` is not
        importable (a provider object cannot exist without it).

    Raises:
        TypeError: ``tracing`` is neither a bool nor a ``TracerProvider``.
    """
    if tracing is False or otel_trace is None:
        if tracing is False or tracing is True:
            return None
        raise TypeError(f"tracing must be a bool or a TracerProvider, not {tracing!r}")
    if tracing is True:
        provider = None
    elif isinstance(tracing, otel_trace.TracerProvider):
        provider = tracing
    else:
        raise TypeError(f"tracing must be a bool or a TracerProvider, not {tracing!r}")
    return RequestTracer(
        server_address=server_address, server_port=server_port, tracer_provider=provider
    )


class RequestTracer:
    """Starts one span per attempt; holds what every span repeats (the server)."""

    __slots__ = ("_provider", "_server", "_tracer")

    def __init__(
        self,
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._provider = tracer_provider
        server: dict[str, Any] = {}
        if server_address:
            server["server.address"] = server_address
        if server_port is not None:
            server["server.port"] = server_port
        self._server = server
        self._tracer: Tracer | None = None

    def __repr__(self) -> str:
        return f"<RequestTracer {self._server.get('server.address', '')!s}>"

    def _get_tracer(self) -> Tracer:
        tracer = self._tracer
        if tracer is None:
            assert otel_trace is not None
            version = _version()
            # From the global provider: a ProxyTracer until an SDK provider is
            # set, which it follows from then on.
            tracer = self._tracer = otel_trace.get_tracer(
                _INSTRUMENTATION, version, tracer_provider=self._provider
            )
        return tracer

    def start(self, method: str, route: str, batch_size: int, attempt: int) -> AttemptSpan:
        """Start the span of one attempt and make it current.

        Args:
            method: ``GET``, ``POST``, ``PUT``.
            route: the path template, without ids.
            batch_size: inputs in the body.
            attempt: 1 for the first attempt, 2 for the first retry, ...
        """
        assert otel_trace is not None
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.template": route,
            "hubassoc.batch_size": batch_size,
            "hubassoc.attempt": attempt,
            **self._server,
        }
        if attempt > 1:
            attributes["http.request.resend_count"] = attempt - 1
        span = self._get_tracer().start_span(
            f"HubSpot {method} {route}",
            kind=otel_trace.SpanKind.CLIENT,
            attributes=attributes,
        )
        return AttemptSpan(span)

    @staticmethod
    def end(
        span: AttemptSpan,
        status: int | None,
        correlation_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """``span.end(...)``: record the answer and end the span (see :meth:`AttemptSpan.end`)."""
        span.end(status=status, correlation_id=correlation_id, error=error)


def start_request_span(
    tracer: RequestTracer | None, method: str, route: str, *, batch_size: int, attempt: int
) -> AttemptSpan | None:
    """``tracer.start(...)``, or ``None`` without a tracer."""
    if tracer is None:
        return None
    return tracer.start(method, route, batch_size, attempt)


class AttemptSpan:
    """The span of one attempt, current from its start until :meth:`end`.

    Start and end it in the same task (the transport's ``request`` does):
    making it current attaches it to the task's context.
    """

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span) -> None:
        self._span = span
        # A span nobody records (no SDK, or sampled out) need not be current:
        # skipping the attach keeps the no-SDK cost to a span object.
        self._token: Token[Context] | None = None
        if span.is_recording():
            assert otel_context is not None and otel_trace is not None
            self._token = otel_context.attach(otel_trace.set_span_in_context(span))

    def __repr__(self) -> str:
        return f"<AttemptSpan {self._span!r}>"

    @property
    def span(self) -> Span:
        """The OpenTelemetry span."""
        return self._span

    def end(
        self,
        *,
        status: int | None = None,
        correlation_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record the answer and end the span; later calls do nothing.

        Args:
            status: the HTTP status, or ``None`` where no answer arrived.
            correlation_id: HubSpot's correlation id, if it sent one.
            error: the class name of the error the attempt became, or ``None``.
        """
        token, self._token = self._token, None
        span = self._span
        if not span.is_recording():
            if token is not None:  # pragma: no cover - a span stops recording only once ended
                otel_context.detach(token)
            return
        try:
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if correlation_id:
                span.set_attribute("hubspot.correlation_id", correlation_id)
            if error is not None:
                span.set_attribute("error.type", error)
                assert otel_trace is not None
                span.set_status(otel_trace.StatusCode.ERROR, error)
            span.end()
        finally:
            if token is not None:
                otel_context.detach(token)


def _version() -> str | None:
    try:
        from importlib.metadata import version

        return version("hubassoc")
    except Exception:
        return None

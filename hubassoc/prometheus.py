"""Prometheus metrics from the client's events: ``on_event=PrometheusMetrics()``.

Needs the ``prometheus`` extra (``pip install 'hubassoc[prometheus]'``); this
module imports ``prometheus_client`` at once and says so if it is missing.
``import hubassoc`` never imports it.

Example::

    from hubassoc.prometheus import PrometheusMetrics

    metrics = PrometheusMetrics()  # on prometheus_client's default registry
    client = AssociationsClient(on_event=metrics)
    # or with other callbacks: on_event=hubassoc.events.combine(metrics, mine)
    # expose them with prometheus_client.make_asgi_app() / start_http_server()

The metrics (``hubassoc_`` is the namespace, changeable)::

    hubassoc_requests_total{method,route,status}     answered attempts ("error": no answer)
    hubassoc_request_duration_seconds{route}         histogram, leaving to answer
    hubassoc_request_batch_size{route}               histogram, inputs per request
    hubassoc_pairs_total{from_type,to_type,outcome}  settled pairs ("succeeded"/"failed")
    hubassoc_items_failed_total{category}            inputs HubSpot failed, by category
    hubassoc_pacer_wait_seconds{reason}              histogram, time held by the pacer
    hubassoc_rate_limited_total{policy}              429 answers, by HubSpot's policyName
    hubassoc_retries_total{reason}                   retries scheduled ("503", "timeout", ...)
    hubassoc_pending_calls                           coalesced calls waiting for an answer
    hubassoc_rate_limit_requests                     the rolling window's limit in force
    hubassoc_rate_limit_window_seconds               that window's length
    hubassoc_rate_limit_share                        requests per window this client lets out
    hubassoc_rate_limit_window_used_ratio            in-window requests / limit, at each send
    hubassoc_daily_limit_reached                     1 while the daily limit stops a client
    hubassoc_token_refreshes_total{outcome}          OAuth refreshes ("succeeded"/"failed")

Labels are bounded: route templates (never ids), HTTP statuses, and names
HubSpot sends (policy, category), which are untrusted: a value outside the
known set is kept only while fewer than :data:`MAX_LABEL_VALUES` distinct
ones were seen, and must look like a name (``[A-Z][A-Z0-9_]*``, at most 64
characters); anything else becomes ``"OTHER"``. Object types (the caller's)
are capped the same way, at ``4 * MAX_LABEL_VALUES``. No token, no record id,
no correlation id is ever a label.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "hubassoc.prometheus needs prometheus_client: pip install 'hubassoc[prometheus]'"
    ) from exc

from hubassoc._events import (
    BatchSettled,
    DailyLimitReached,
    DailyLimitReset,
    Event,
    ItemsFailed,
    LimitChanged,
    PacerWaited,
    RateLimited,
    RateLimitHeadersMissing,
    RequestAnswered,
    RequestSent,
    RetryScheduled,
    TokenRefreshed,
    TokenRefreshFailed,
)

__all__ = ["MAX_LABEL_VALUES", "OTHER", "PrometheusMetrics"]

#: The label value for anything outside the bounded set of a label.
OTHER: Final = "OTHER"
#: Distinct values outside the known set a server-named label may take before
#: further ones become ``"OTHER"``.
MAX_LABEL_VALUES: Final = 20

_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_OBJECT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: Categories of failed inputs hubassoc knows (HubSpot's, and its own).
_KNOWN_CATEGORIES = frozenset(
    {
        "OBJECT_NOT_FOUND",
        "VALIDATION_ERROR",
        "INVALID_ASSOCIATION",
        "MISSING_RESULT",
        "UNKNOWN",
    }
)
_KNOWN_POLICIES = frozenset({"TEN_SECONDLY_ROLLING", "SECONDLY", "DAILY", "UNKNOWN"})
_KNOWN_OPERATIONS = frozenset(
    {"associate_default", "associate", "archive", "archive_labels", "read"}
)
#: HubSpot answers in tens of milliseconds to a few seconds; a timeout is 30 s.
_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: A pacer hold lasts up to a window (10 s) or a 429 pause.
_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000)


class _BoundedLabel:
    """Maps untrusted names to a bounded set of label values."""

    __slots__ = ("_extra", "_known", "_limit", "_lock", "_pattern")

    def __init__(self, known: Iterable[str], limit: int, pattern: re.Pattern[str] = _NAME) -> None:
        self._known = frozenset(known)
        self._pattern = pattern
        self._extra: set[str] = set()
        self._limit = limit
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if value is None:
            return "UNKNOWN"
        if value in self._known or value in self._extra:
            return value
        if type(value) is not str or not self._pattern.fullmatch(value):
            return OTHER
        with self._lock:
            if len(self._extra) >= self._limit:
                return OTHER
            self._extra.add(value)
        return value


class _Metrics:
    """The collectors of one namespace on one registry, shared by every instance on it."""

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        ns = namespace
        self.requests = Counter(
            "requests",
            "HubSpot requests answered, by method, route template and HTTP status "
            '("error" where no answer came).',
            ("method", "route", "status"),
            namespace=ns,
            registry=registry,
        )
        self.duration = Histogram(
            "request_duration_seconds",
            "Seconds from a request leaving to its answer (or failure), by route template.",
            ("route",),
            namespace=ns,
            registry=registry,
            buckets=_DURATION_BUCKETS,
        )
        self.batch_size = Histogram(
            "request_batch_size",
            "Inputs per request, by route template.",
            ("route",),
            namespace=ns,
            registry=registry,
            buckets=_SIZE_BUCKETS,
        )
        self.pairs = Counter(
            "pairs",
            "Batch inputs settled (pairs, or records read), by object types, outcome "
            '("succeeded", "failed") and operation ("associate_default", "associate", '
            '"archive", "archive_labels", "read").',
            ("from_type", "to_type", "outcome", "operation"),
            namespace=ns,
            registry=registry,
        )
        self.items_failed = Counter(
            "items_failed",
            "Inputs HubSpot failed within answered batches, by error category and operation.",
            ("category", "operation"),
            namespace=ns,
            registry=registry,
        )
        self.pacer_wait = Histogram(
            "pacer_wait_seconds",
            "Seconds the pacer held a request, by reason (window, pause, shared, probe).",
            ("reason",),
            namespace=ns,
            registry=registry,
            buckets=_WAIT_BUCKETS,
        )
        self.rate_limited = Counter(
            "rate_limited",
            "429 answers from HubSpot, by policyName.",
            ("policy",),
            namespace=ns,
            registry=registry,
        )
        self.retries = Counter(
            "retries",
            'Retries scheduled, by reason (an HTTP status, "timeout", "connection").',
            ("reason",),
            namespace=ns,
            registry=registry,
        )
        # A gauge's multiprocess_mode matters only under PROMETHEUS_MULTIPROC_DIR
        # (several worker processes): it says how their values combine.
        self.pending = Gauge(
            "pending_calls",
            "Coalesced calls admitted and still waiting for an answer.",
            namespace=ns,
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.limit_requests = Gauge(
            "rate_limit_requests",
            "Requests the rolling window allows (the limit in force).",
            namespace=ns,
            registry=registry,
            multiprocess_mode="max",
        )
        self.limit_per = Gauge(
            "rate_limit_window_seconds",
            "The rolling window's length in seconds.",
            namespace=ns,
            registry=registry,
            multiprocess_mode="max",
        )
        self.limit_share = Gauge(
            "rate_limit_share",
            "Requests per window this client lets out (its share of the limit).",
            namespace=ns,
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.window_used = Gauge(
            "rate_limit_window_used_ratio",
            "Requests counted in the current rolling window over the limit, at the last send.",
            namespace=ns,
            registry=registry,
            multiprocess_mode="max",
        )
        self.daily_stop = Gauge(
            "daily_limit_reached",
            "1 while HubSpot's daily limit stops a client (0 again after the daily reset).",
            namespace=ns,
            registry=registry,
            multiprocess_mode="max",
        )
        self.token_refreshes = Counter(
            "token_refreshes",
            'OAuth access-token refreshes, by outcome ("succeeded", "failed").',
            ("outcome",),
            namespace=ns,
            registry=registry,
        )
        self.categories = _BoundedLabel(_KNOWN_CATEGORIES, MAX_LABEL_VALUES)
        self.policies = _BoundedLabel(_KNOWN_POLICIES, MAX_LABEL_VALUES)
        self.operations = _BoundedLabel(_KNOWN_OPERATIONS, MAX_LABEL_VALUES)
        # Object types are the caller's, not HubSpot's, but bounded all the same.
        self.object_types = _BoundedLabel((), 4 * MAX_LABEL_VALUES, _OBJECT_TYPE)
        # Labelled children by label values: ``labels()`` costs more than the increment.
        self.children: dict[tuple[Any, ...], Any] = {}


_lock = threading.Lock()
_shared: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = (
    weakref.WeakKeyDictionary()
)


def _metrics_for(registry: CollectorRegistry, namespace: str) -> _Metrics:
    with _lock:
        by_namespace = _shared.setdefault(registry, {})
        metrics = by_namespace.get(namespace)
        if metrics is None:
            metrics = by_namespace[namespace] = _Metrics(registry, namespace)
        return metrics


class PrometheusMetrics:
    """An ``on_event`` callback that turns the client's events into Prometheus metrics.

    Args:
        registry: where the metrics are registered; by default
            ``prometheus_client.REGISTRY``, the one ``make_asgi_app()``,
            ``start_http_server()`` and ``generate_latest()`` expose.
        namespace: the metric name prefix (``hubassoc`` gives ``hubassoc_requests_total``).

    Every instance with the same registry and namespace shares the same
    collectors: two clients in one process (or a client recreated) add to the
    same series instead of failing with "Duplicated timeseries". Give each a
    namespace (or registry) of its own to tell them apart.

    Combine it with other callbacks with :func:`hubassoc._events.combine`.

    Raises:
        ValueError: ``namespace`` is not a valid metric name prefix, or the
            registry already holds other collectors under these names.
    """

    __slots__ = ("_handlers", "_metrics", "namespace", "registry")

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "hubassoc"
    ) -> None:
        if not isinstance(namespace, str) or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", namespace):
            raise ValueError(f"namespace must be a metric name prefix, not {namespace!r}")
        self.registry: CollectorRegistry = REGISTRY if registry is None else registry
        self.namespace = namespace
        self._metrics = _metrics_for(self.registry, namespace)
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            RequestSent: self._request_sent,
            RequestAnswered: self._request_answered,
            PacerWaited: self._pacer_waited,
            RateLimited: self._rate_limited,
            RetryScheduled: self._retry_scheduled,
            ItemsFailed: self._items_failed,
            BatchSettled: self._batch_settled,
            DailyLimitReached: self._daily_limit_reached,
            DailyLimitReset: self._daily_limit_reset,
            RateLimitHeadersMissing: self._headers_missing,
            LimitChanged: self._limit_changed,
            TokenRefreshed: self._token_refreshed,
            TokenRefreshFailed: self._token_refresh_failed,
        }

    def __repr__(self) -> str:
        default = " (default registry)" if self.registry is REGISTRY else ""
        return f"<PrometheusMetrics namespace={self.namespace!r}{default}>"

    def __call__(self, event: Event) -> None:
        """Record one event (events of types it does not know are ignored)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _child(self, metric: Any, *values: str) -> Any:
        children = self._metrics.children
        key = (id(metric), *values)
        child = children.get(key)
        if child is None:
            child = children[key] = metric.labels(*values)
        return child

    # --- one handler per event type -----------------------------------------------------

    def _request_sent(self, event: RequestSent) -> None:
        m = self._metrics
        self._child(m.batch_size, event.route).observe(event.batch_size)
        if event.in_window is not None and event.limit:
            m.window_used.set(event.in_window / event.limit)

    def _request_answered(self, event: RequestAnswered) -> None:
        m = self._metrics
        status = "error" if event.status is None else str(event.status)
        self._child(m.requests, event.method, event.route, status).inc()
        self._child(m.duration, event.route).observe(event.seconds)

    def _pacer_waited(self, event: PacerWaited) -> None:
        self._child(self._metrics.pacer_wait, event.reason).observe(event.seconds)

    def _rate_limited(self, event: RateLimited) -> None:
        m = self._metrics
        self._child(m.rate_limited, m.policies(event.policy)).inc()

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        reason = event.reason
        if not (reason in ("timeout", "connection") or (len(reason) == 3 and reason.isdigit())):
            reason = OTHER
        self._child(self._metrics.retries, reason).inc()

    def _items_failed(self, event: ItemsFailed) -> None:
        m = self._metrics
        category = m.categories(event.category)
        self._child(m.items_failed, category, m.operations(event.operation)).inc(event.count)

    def _batch_settled(self, event: BatchSettled) -> None:
        m = self._metrics
        from_type, to_type = m.object_types(event.from_type), m.object_types(event.to_type)
        operation = m.operations(event.operation)
        if event.succeeded:
            self._child(m.pairs, from_type, to_type, "succeeded", operation).inc(event.succeeded)
        if event.failed:
            self._child(m.pairs, from_type, to_type, "failed", operation).inc(event.failed)
        m.pending.set(event.pending)

    def _daily_limit_reached(self, event: DailyLimitReached) -> None:
        self._metrics.daily_stop.set(1)

    def _daily_limit_reset(self, event: DailyLimitReset) -> None:
        self._metrics.daily_stop.set(0)

    def _headers_missing(self, event: RateLimitHeadersMissing) -> None:
        # The limit stays what it was: the gauges say which one.
        m = self._metrics
        m.limit_requests.set(event.requests)
        m.limit_per.set(event.per)

    def _limit_changed(self, event: LimitChanged) -> None:
        m = self._metrics
        m.limit_requests.set(event.requests)
        m.limit_per.set(event.per)
        m.limit_share.set(event.share)

    def _token_refreshed(self, event: TokenRefreshed) -> None:
        self._child(self._metrics.token_refreshes, "succeeded").inc()

    def _token_refresh_failed(self, event: TokenRefreshFailed) -> None:
        self._child(self._metrics.token_refreshes, "failed").inc()

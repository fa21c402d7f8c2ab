"""PrometheusMetrics: events in, samples out, on a real prometheus_client registry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from hubassoc import AssociationsClient
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
    combine,
)
from hubassoc.prometheus import MAX_LABEL_VALUES, OTHER, PrometheusMetrics

from .scripted_run import SANDBOX_OPTIONS, scripted_run

ROUTE = "/crm/associations/2026-03/{fromObjectType}/{toObjectType}/batch/associate/default"
PUT_ROUTE = (
    "/crm/objects/2026-03/{fromObjectType}/{fromObjectId}"
    "/associations/default/{toObjectType}/{toObjectId}"
)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    if name.endswith(("_pairs_total", "_items_failed_total")):
        labels.setdefault("operation", "associate_default")  # what the events here are about
    return registry.get_sample_value(name, labels)


def test_batch_metrics_are_labelled_by_operation() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics(
        BatchSettled(
            from_type="contacts",
            to_type="companies",
            pairs=4,
            succeeded=3,
            failed=1,
            operation="read",
        )
    )
    metrics(ItemsFailed(route=ROUTE, category="OBJECT_NOT_FOUND", count=1, operation="archive"))
    metrics(ItemsFailed(route=ROUTE, category="OBJECT_NOT_FOUND", count=1, operation="made-up op"))
    types = {"from_type": "contacts", "to_type": "companies"}
    assert (
        sample(registry, "hubassoc_pairs_total", **types, outcome="failed", operation="read") == 1
    )
    failed = "hubassoc_items_failed_total"
    assert sample(registry, failed, category="OBJECT_NOT_FOUND", operation="archive") == 1
    assert sample(registry, failed, category="OBJECT_NOT_FOUND", operation=OTHER) == 1


#: What a batch of 100 pairs meeting one 429, one 503 and two missing records looks like.
RUN: list[Event] = [
    LimitChanged(requests=100, per=10.0, share=100),
    RequestSent(method="POST", route=ROUTE, attempt=1, batch_size=100, in_window=1, limit=100),
    RequestAnswered(
        method="POST", route=ROUTE, attempt=1, batch_size=100, status=429, seconds=0.04,
        error="RateLimitError", correlation_id="c-1",
    ),
    RateLimited(policy="TEN_SECONDLY_ROLLING", pause=2.0),
    RetryScheduled(method="POST", route=ROUTE, reason="429", attempt=1, delay=2.0),
    PacerWaited(seconds=2.0, reason="pause"),
    RequestSent(method="POST", route=ROUTE, attempt=2, batch_size=100, in_window=2, limit=100),
    RequestAnswered(
        method="POST", route=ROUTE, attempt=2, batch_size=100, status=503, seconds=0.2,
        error="ServerError",
    ),
    RetryScheduled(method="POST", route=ROUTE, reason="503", attempt=2, delay=0.5),
    RequestSent(method="POST", route=ROUTE, attempt=3, batch_size=100, in_window=25, limit=100),
    RequestAnswered(
        method="POST", route=ROUTE, attempt=3, batch_size=100, status=207, seconds=0.3,
        correlation_id="c-3",
    ),
    ItemsFailed(route=ROUTE, category="OBJECT_NOT_FOUND", count=2),
    BatchSettled(
        from_type="contacts", to_type="companies", pairs=100, succeeded=98, failed=2, pending=7
    ),
    RequestSent(method="PUT", route=PUT_ROUTE, attempt=1, batch_size=1),
    RequestAnswered(
        method="PUT", route=PUT_ROUTE, attempt=1, batch_size=1, status=None, seconds=30.0,
        error="TransportError",
    ),
    RetryScheduled(method="PUT", route=PUT_ROUTE, reason="timeout", attempt=1, delay=0.1),
    TokenRefreshed(seconds=0.1, expires_in=1800.0, hub_id=42, reason="expiry"),
    TokenRefreshFailed(status=400, category="BAD_REFRESH_TOKEN"),
    RateLimited(policy="DAILY", pause=0.0),
    DailyLimitReached(source="429"),
]  # fmt: skip


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_a_realistic_sequence_leaves_the_expected_samples(registry: CollectorRegistry) -> None:
    metrics = PrometheusMetrics(registry)
    for event in RUN:
        metrics(event)
    s = sample
    assert s(registry, "hubassoc_requests_total", method="POST", route=ROUTE, status="429") == 1
    assert s(registry, "hubassoc_requests_total", method="POST", route=ROUTE, status="503") == 1
    assert s(registry, "hubassoc_requests_total", method="POST", route=ROUTE, status="207") == 1
    assert (
        s(registry, "hubassoc_requests_total", method="PUT", route=PUT_ROUTE, status="error") == 1
    )
    assert s(registry, "hubassoc_request_duration_seconds_count", route=ROUTE) == 3
    assert s(registry, "hubassoc_request_duration_seconds_sum", route=ROUTE) == pytest.approx(0.54)
    assert s(registry, "hubassoc_request_duration_seconds_bucket", route=ROUTE, le="0.05") == 1
    assert s(registry, "hubassoc_request_duration_seconds_bucket", route=PUT_ROUTE, le="30.0") == 1
    assert s(registry, "hubassoc_request_batch_size_count", route=ROUTE) == 3
    assert s(registry, "hubassoc_request_batch_size_sum", route=ROUTE) == 300
    pairs = "hubassoc_pairs_total"
    types = {"from_type": "contacts", "to_type": "companies"}
    assert s(registry, pairs, **types, outcome="succeeded") == 98
    assert s(registry, pairs, **types, outcome="failed") == 2
    assert s(registry, "hubassoc_items_failed_total", category="OBJECT_NOT_FOUND") == 2
    assert s(registry, "hubassoc_pacer_wait_seconds_count", reason="pause") == 1
    assert s(registry, "hubassoc_pacer_wait_seconds_sum", reason="pause") == 2.0
    rate_limited = "hubassoc_rate_limited_total"
    assert s(registry, rate_limited, policy="TEN_SECONDLY_ROLLING") == 1
    assert s(registry, rate_limited, policy="DAILY") == 1
    assert s(registry, "hubassoc_retries_total", reason="429") == 1
    assert s(registry, "hubassoc_retries_total", reason="503") == 1
    assert s(registry, "hubassoc_retries_total", reason="timeout") == 1
    assert s(registry, "hubassoc_pending_calls") == 7
    assert s(registry, "hubassoc_rate_limit_requests") == 100
    assert s(registry, "hubassoc_rate_limit_window_seconds") == 10.0
    assert s(registry, "hubassoc_rate_limit_share") == 100
    # The last send counted 25 of 100; a send without pacing leaves it alone.
    assert s(registry, "hubassoc_rate_limit_window_used_ratio") == 0.25
    assert s(registry, "hubassoc_daily_limit_reached") == 1
    assert s(registry, "hubassoc_token_refreshes_total", outcome="succeeded") == 1
    assert s(registry, "hubassoc_token_refreshes_total", outcome="failed") == 1


def test_the_exposition_carries_no_correlation_id_and_every_metric_has_help(
    registry: CollectorRegistry,
) -> None:
    metrics = PrometheusMetrics(registry)
    for event in RUN:
        metrics(event)
    text = generate_latest(registry).decode()
    assert "c-1" not in text and "c-3" not in text
    assert "BAD_REFRESH_TOKEN" not in text  # refresh failures count by outcome only
    helped = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP")}
    names = {name for name in helped if not name.endswith("_created")}
    assert names == {
        "hubassoc_requests_total",
        "hubassoc_request_duration_seconds",
        "hubassoc_request_batch_size",
        "hubassoc_pairs_total",
        "hubassoc_items_failed_total",
        "hubassoc_pacer_wait_seconds",
        "hubassoc_rate_limited_total",
        "hubassoc_retries_total",
        "hubassoc_pending_calls",
        "hubassoc_rate_limit_requests",
        "hubassoc_rate_limit_window_seconds",
        "hubassoc_rate_limit_share",
        "hubassoc_rate_limit_window_used_ratio",
        "hubassoc_daily_limit_reached",
        "hubassoc_token_refreshes_total",
    }


def test_server_named_labels_are_bounded(registry: CollectorRegistry) -> None:
    metrics = PrometheusMetrics(registry)
    # Untrusted names: not name-shaped, or beyond the cap of distinct unknown ones.
    for category in ["x" * 200, "987654321", "Bearer pat-secret", "lower"]:
        metrics(ItemsFailed(route=ROUTE, category=category, count=1))
    assert sample(registry, "hubassoc_items_failed_total", category=OTHER) == 4
    for n in range(MAX_LABEL_VALUES + 5):
        metrics(ItemsFailed(route=ROUTE, category=f"NEW_CATEGORY_{n}", count=1))
    categories = {
        s.labels["category"]
        for m in registry.collect()
        if m.name == "hubassoc_items_failed"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert len(categories) == MAX_LABEL_VALUES + 1
    assert sample(registry, "hubassoc_items_failed_total", category=OTHER) == 9
    # Known categories stay themselves once the cap is reached.
    metrics(ItemsFailed(route=ROUTE, category="VALIDATION_ERROR", count=3))
    assert sample(registry, "hubassoc_items_failed_total", category="VALIDATION_ERROR") == 3
    metrics(RateLimited(policy=None, pause=1.0))
    metrics(RateLimited(policy="ten secondly; drop table", pause=1.0))
    assert sample(registry, "hubassoc_rate_limited_total", policy="UNKNOWN") == 1
    assert sample(registry, "hubassoc_rate_limited_total", policy=OTHER) == 1
    metrics(RetryScheduled(method="GET", route=ROUTE, reason="weird reason", attempt=1, delay=0))
    assert sample(registry, "hubassoc_retries_total", reason=OTHER) == 1


def test_instances_on_one_registry_share_their_series(registry: CollectorRegistry) -> None:
    first, second = PrometheusMetrics(registry), PrometheusMetrics(registry)
    settled = BatchSettled(from_type="deals", to_type="contacts", pairs=3, succeeded=3, failed=0)
    first(settled)
    second(settled)
    labels = {"from_type": "deals", "to_type": "contacts", "outcome": "succeeded"}
    assert sample(registry, "hubassoc_pairs_total", **labels) == 6
    # A namespace of its own keeps a client's series apart.
    PrometheusMetrics(registry, namespace="backfill")(settled)
    assert sample(registry, "backfill_pairs_total", **labels) == 3
    assert sample(registry, "hubassoc_pairs_total", **labels) == 6


def test_the_default_registry_is_prometheus_clients_default() -> None:
    metrics = PrometheusMetrics()
    assert metrics.registry is REGISTRY
    assert PrometheusMetrics().registry is REGISTRY  # no "Duplicated timeseries"
    assert "default registry" in repr(metrics)


def test_invalid_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="namespace"):
        PrometheusMetrics(CollectorRegistry(), namespace="no-dashes")


def test_a_name_taken_by_another_collector_is_an_error(registry: CollectorRegistry) -> None:
    from prometheus_client import Counter

    Counter("requests", "someone else's", namespace="mine", registry=registry)
    with pytest.raises(ValueError, match="Duplicated"):
        PrometheusMetrics(registry, namespace="mine")


def test_combined_with_another_callback(registry: CollectorRegistry) -> None:
    seen: list[Event] = []
    callback = combine(PrometheusMetrics(registry), seen.append)
    assert callback is not None
    callback(DailyLimitReached(source="header"))
    assert seen == [DailyLimitReached(source="header")]
    assert sample(registry, "hubassoc_daily_limit_reached") == 1


def test_importing_hubassoc_does_not_import_prometheus_client() -> None:
    code = "import sys, hubassoc; assert 'prometheus_client' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_prometheus_client_the_import_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "try:\n"
        "    import hubassoc.prometheus\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert "pip install 'hubassoc[prometheus]'" in out


async def test_a_scripted_run_leaves_the_expected_samples(
    sandbox_factory: Callable[..., Any],
    make_client: Callable[..., AssociationsClient],
    registry: CollectorRegistry,
) -> None:
    sandbox = await sandbox_factory(**SANDBOX_OPTIONS)
    client = await scripted_run(sandbox, make_client, on_event=PrometheusMetrics(registry))
    s = sample
    answered = [
        found
        for m in registry.collect()
        if m.name == "hubassoc_requests"
        for found in m.samples
        if found.name == "hubassoc_requests_total"
    ]
    (route,) = {found.labels["route"] for found in answered if found.labels["method"] == "POST"}
    assert "{fromObjectType}" in route
    requests = "hubassoc_requests_total"
    assert s(registry, requests, method="POST", route=route, status="503") == 1
    assert s(registry, requests, method="POST", route=route, status="429") == 2
    assert s(registry, requests, method="POST", route=route, status="200") == 2
    assert sum(found.value for found in answered) == client.stats.requests == 6
    assert s(registry, "hubassoc_request_duration_seconds_count", route=route) == 5
    types = {"from_type": "contacts", "to_type": "companies"}
    assert s(registry, "hubassoc_pairs_total", **types, outcome="succeeded") == 3
    assert s(registry, "hubassoc_pairs_total", **types, outcome="failed") == 3
    assert s(registry, "hubassoc_items_failed_total", category="OBJECT_NOT_FOUND") == 2
    assert s(registry, "hubassoc_rate_limited_total", policy="TEN_SECONDLY_ROLLING") == 1
    assert s(registry, "hubassoc_rate_limited_total", policy="DAILY") == 1
    assert s(registry, "hubassoc_retries_total", reason="503") == 1
    assert s(registry, "hubassoc_retries_total", reason="429") == 1
    assert s(registry, "hubassoc_daily_limit_reached") == 1
    assert s(registry, "hubassoc_rate_limit_requests") == 50
    assert s(registry, "hubassoc_rate_limit_window_seconds") == 10.0
    assert s(registry, "hubassoc_pending_calls") == 0
    assert 0 < (s(registry, "hubassoc_rate_limit_window_used_ratio") or 0) <= 1
    assert (s(registry, "hubassoc_pacer_wait_seconds_count", reason="pause") or 0) >= 1


def test_the_daily_gauge_returns_to_zero_at_the_reset(registry: CollectorRegistry) -> None:
    metrics = PrometheusMetrics(registry)
    metrics(DailyLimitReached(source="429"))
    assert sample(registry, "hubassoc_daily_limit_reached") == 1
    metrics(DailyLimitReset())
    assert sample(registry, "hubassoc_daily_limit_reached") == 0


def test_missing_headers_leave_the_limit_in_force_on_the_gauges(
    registry: CollectorRegistry,
) -> None:
    PrometheusMetrics(registry)(RateLimitHeadersMissing(requests=100, per=10.0))
    assert sample(registry, "hubassoc_rate_limit_requests") == 100
    assert sample(registry, "hubassoc_rate_limit_window_seconds") == 10.0

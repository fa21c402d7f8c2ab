"""The span of each HubSpot request attempt, with opentelemetry-sdk's in-memory exporter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from hubassoc import AssociationsClient
from hubassoc._tracing import RequestTracer, make_tracer, start_request_span

from .scripted_run import SANDBOX_OPTIONS, scripted_run

ROUTE = "/crm/associations/2026-03/{fromObjectType}/{toObjectType}/batch/associate/default"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> RequestTracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    made = make_tracer(provider, server_address="api.hubapi.com", server_port=443)
    assert made is not None
    return made


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_a_failed_retry_attempt(tracer: RequestTracer, exporter: InMemorySpanExporter) -> None:
    span = start_request_span(tracer, "POST", ROUTE, batch_size=100, attempt=2)
    assert span is not None
    span.end(status=503, correlation_id="c-503", error="ServerError")
    finished = only_span(exporter)
    assert finished.name == f"HubSpot POST {ROUTE}"
    assert finished.kind is SpanKind.CLIENT
    assert dict(finished.attributes or {}) == {
        "http.request.method": "POST",
        "url.template": ROUTE,
        "server.address": "api.hubapi.com",
        "server.port": 443,
        "hubassoc.batch_size": 100,
        "hubassoc.attempt": 2,
        "http.request.resend_count": 1,
        "http.response.status_code": 503,
        "hubspot.correlation_id": "c-503",
        "error.type": "ServerError",
    }
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.status.description == "ServerError"
    assert finished.instrumentation_scope is not None
    assert finished.instrumentation_scope.name == "hubassoc"


def test_a_first_attempt_answered(tracer: RequestTracer, exporter: InMemorySpanExporter) -> None:
    span = tracer.start("PUT", "/crm/objects/2026-03/...", batch_size=1, attempt=1)
    span.end(status=200)
    finished = only_span(exporter)
    attributes = dict(finished.attributes or {})
    assert "http.request.resend_count" not in attributes
    assert "error.type" not in attributes and "hubspot.correlation_id" not in attributes
    assert attributes["http.response.status_code"] == 200
    assert finished.status.status_code is StatusCode.UNSET


def test_a_429_and_an_attempt_without_answer(
    tracer: RequestTracer, exporter: InMemorySpanExporter
) -> None:
    tracer.start("POST", ROUTE, batch_size=10, attempt=1).end(status=429, error="RateLimitError")
    tracer.start("POST", ROUTE, batch_size=10, attempt=2).end(error="TransportError")
    limited, dropped = exporter.get_finished_spans()
    assert (limited.attributes or {})["error.type"] == "RateLimitError"
    assert "http.response.status_code" not in (dropped.attributes or {})
    assert (dropped.attributes or {})["error.type"] == "TransportError"


def test_the_span_is_current_until_it_ends_and_parents_the_http_span(
    tracer: RequestTracer, exporter: InMemorySpanExporter
) -> None:
    before = trace.get_current_span()
    span = tracer.start("POST", ROUTE, batch_size=1, attempt=1)
    assert trace.get_current_span() is span.span
    # What opentelemetry-instrumentation-aiohttp-client does inside the request.
    inner_tracer = trace.get_tracer("aiohttp", tracer_provider=TracerProvider())
    inner = inner_tracer.start_span("POST")
    assert inner.parent is not None
    assert inner.parent.span_id == span.span.get_span_context().span_id
    inner.end()
    span.end(status=200)
    span.end(status=500, error="ServerError")  # a second end changes nothing
    assert trace.get_current_span() is before
    finished = only_span(exporter)
    assert (finished.attributes or {})["http.response.status_code"] == 200


async def test_concurrent_attempts_keep_their_own_context(
    tracer: RequestTracer, exporter: InMemorySpanExporter
) -> None:
    async def attempt(n: int) -> None:
        span = tracer.start("POST", ROUTE, batch_size=n, attempt=1)
        await asyncio.sleep(0)
        assert trace.get_current_span() is span.span
        span.end(status=200)

    await asyncio.gather(*(attempt(n) for n in range(1, 6)))
    spans = exporter.get_finished_spans()
    assert sorted((s.attributes or {})["hubassoc.batch_size"] for s in spans) == [1, 2, 3, 4, 5]
    assert all(s.parent is None for s in spans)


def test_a_sampled_out_span_is_not_made_current(exporter: InMemorySpanExporter) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = make_tracer(provider)
    assert tracer is not None
    before = trace.get_current_span()
    span = tracer.start("POST", ROUTE, batch_size=1, attempt=1)
    assert trace.get_current_span() is before
    span.end(status=200)
    assert exporter.get_finished_spans() == ()


def test_the_global_provider_without_an_sdk_costs_no_error() -> None:
    tracer = make_tracer()
    assert tracer is not None
    span = tracer.start("POST", ROUTE, batch_size=1, attempt=1)
    assert not span.span.is_recording()
    span.end(status=200)


def test_tracing_off() -> None:
    assert make_tracer(False) is None
    assert start_request_span(None, "POST", ROUTE, batch_size=1, attempt=1) is None
    with pytest.raises(TypeError, match="TracerProvider"):
        make_tracer("yes")  # type: ignore[arg-type]


def test_without_opentelemetry_there_is_no_tracer() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from hubassoc._tracing import make_tracer\n"
        "assert make_tracer() is None and make_tracer(False) is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_scripted_run_makes_a_span_per_attempt(
    sandbox_factory: Callable[..., Any],
    make_client: Callable[..., AssociationsClient],
    exporter: InMemorySpanExporter,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sandbox = await sandbox_factory(**SANDBOX_OPTIONS)
    await scripted_run(sandbox, make_client, tracing=provider)
    spans = exporter.get_finished_spans()
    story = [
        (
            s.name.split()[1],
            (s.attributes or {}).get("hubassoc.attempt"),
            (s.attributes or {}).get("http.response.status_code"),
            (s.attributes or {}).get("error.type"),
            s.status.status_code,
        )
        for s in spans
    ]
    error, unset = StatusCode.ERROR, StatusCode.UNSET
    assert story == [
        ("POST", 1, 503, "ServerError", error),
        ("POST", 2, 429, "RateLimitError", error),
        ("POST", 3, 200, None, unset),
        ("POST", 1, 200, None, unset),
        ("PUT", 1, 200, None, unset),
        ("POST", 1, 429, "DailyLimitError", error),
    ]
    for span in spans:
        attributes = span.attributes or {}
        assert span.kind is SpanKind.CLIENT
        assert (
            span.name == f"HubSpot {attributes['http.request.method']} {attributes['url.template']}"
        )
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["server.port"] == sandbox.port
    assert (spans[2].attributes or {})["hubspot.correlation_id"]


async def test_a_cancelled_request_ends_its_span_and_leaves_the_context_as_it_was(
    sandbox_factory: Callable[..., Any],
    make_client: Callable[..., AssociationsClient],
    exporter: InMemorySpanExporter,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sandbox = await sandbox_factory(latency=5.0)
    client = make_client(sandbox, tracing=provider)
    outer = provider.get_tracer("app").start_span("handler")
    with trace.use_span(outer, end_on_exit=True):
        # In this very task, as a web handler's timeout would do it.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.put_default("deals", "1", "contacts", "2")
        assert trace.get_current_span() is outer
    (cancelled, handler) = exporter.get_finished_spans()
    assert handler.name == "handler"
    assert cancelled.parent is not None and cancelled.parent.span_id == handler.context.span_id
    assert (cancelled.attributes or {})["error.type"] == "CancelledError"


def test_the_client_refuses_a_tracing_that_is_no_provider() -> None:
    with pytest.raises(TypeError, match="TracerProvider"):
        AssociationsClient("token", tracing="yes")  # type: ignore[arg-type]


def test_a_global_provider_set_after_the_tracer_is_used() -> None:
    # In a process of its own: the global provider can be set once only.
    code = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from hubassoc._tracing import make_tracer

tracer = make_tracer()
tracer.start("POST", "/r", 1, 1).end(status=200)  # no SDK yet: not recorded
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
tracer.start("POST", "/r", 1, 2).end(status=200)
(span,) = exporter.get_finished_spans()
assert span.attributes["hubassoc.attempt"] == 2, span.attributes
"""
    subprocess.run([sys.executable, "-c", code], check=True)

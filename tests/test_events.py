"""The events a real run delivers to ``on_event``, and that nothing it renders leaks a secret."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from hubassoc import AssociationsClient, AuthenticationError, OAuthTokens, RefreshedTokens
from hubassoc._events import (
    BatchSettled,
    DailyLimitReached,
    Event,
    ItemsFailed,
    LimitChanged,
    PacerWaited,
    RateLimited,
    RequestAnswered,
    RequestSent,
    RetryScheduled,
    TokenRefreshed,
    TokenRefreshFailed,
    combine,
)
from hubassoc.prometheus import PrometheusMetrics
from hubassoc.sandbox import Sandbox

from .scripted_run import (
    COALESCED_FROM,
    COALESCED_TO,
    FROM_IDS,
    SANDBOX_OPTIONS,
    SECRETS,
    TO_IDS,
    TOKEN,
    scripted_run,
)

SandboxFactory = Callable[..., Any]


@pytest.fixture
async def scripted_sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    sandbox: Sandbox = await sandbox_factory(**SANDBOX_OPTIONS)
    return sandbox


def brief(event: Event) -> tuple[Any, ...]:
    """The fields of an event that a run fixes (not timings or window counts)."""
    match event:
        case RequestSent():
            return ("sent", event.method, event.attempt, event.batch_size)
        case RequestAnswered():
            return ("answered", event.method, event.attempt, event.status, event.error)
        case RetryScheduled():
            return ("retry", event.method, event.reason, event.attempt)
        case RateLimited():
            return ("429", event.policy)
        case ItemsFailed():
            return ("items failed", event.category, event.count)
        case BatchSettled():
            return ("settled", event.from_type, event.to_type, event.pairs, event.succeeded,
                    event.failed, event.pending)  # fmt: skip
        case DailyLimitReached():
            return ("daily", event.source)
        case _:
            return (type(event).__name__,)


async def test_a_scripted_run_delivers_its_events_in_order(
    scripted_sandbox: Sandbox, make_client: Callable[..., AssociationsClient]
) -> None:
    events: list[Event] = []
    started = time.perf_counter()
    await scripted_run(scripted_sandbox, make_client, on_event=events.append)
    took = time.perf_counter() - started

    # Pacing events come wherever the pacer holds a request; the rest is fixed.
    story = [brief(e) for e in events if not isinstance(e, PacerWaited | LimitChanged)]
    assert story == [
        # 1. the explicit batch: 503, retry, 429, retry, one input not found
        ("sent", "POST", 1, 3),
        ("answered", "POST", 1, 503, "ServerError"),
        ("retry", "POST", "503", 1),
        ("sent", "POST", 2, 3),
        ("answered", "POST", 2, 429, "RateLimitError"),
        ("429", "TEN_SECONDLY_ROLLING"),
        ("retry", "POST", "429", 2),
        ("sent", "POST", 3, 3),
        ("answered", "POST", 3, 200, None),
        ("items failed", "OBJECT_NOT_FOUND", 1),
        ("settled", "contacts", "companies", 3, 2, 1, 0),
        # 2. the coalesced pair of calls
        ("sent", "POST", 1, 2),
        ("answered", "POST", 1, 200, None),
        ("items failed", "OBJECT_NOT_FOUND", 1),
        ("settled", "contacts", "companies", 2, 1, 1, 0),
        # 3. the single PUT
        ("sent", "PUT", 1, 1),
        ("answered", "PUT", 1, 200, None),
        # 4. the daily limit; the call after it sends nothing
        ("sent", "POST", 1, 1),
        ("answered", "POST", 1, 429, "DailyLimitError"),
        ("429", "DAILY"),
        ("daily", "429"),
        ("settled", "contacts", "companies", 1, 0, 1, 0),
    ]

    sent = [e for e in events if isinstance(e, RequestSent)]
    answered = [e for e in events if isinstance(e, RequestAnswered)]
    batch_route = sent[0].route
    assert batch_route.endswith("/{fromObjectType}/{toObjectType}/batch/associate/default")
    assert {e.route for e in sent if e.method == "POST"} == {batch_route}
    assert "{fromObjectId}" in next(e.route for e in sent if e.method == "PUT")
    assert [(e.method, e.route, e.attempt) for e in answered] == [
        (e.method, e.route, e.attempt) for e in sent
    ]
    # The script's requests go one after another: their durations fit in the run, and
    # in seconds (not milliseconds, not counted from the first attempt).
    assert 0 < sum(e.seconds for e in answered) <= took
    # The sandbox sends a correlation id with every answer but the scripted ones.
    assert all(e.correlation_id for e in answered if e.status == 200)
    # Adaptive pacing: every send is counted in the window, and the limit is learned.
    assert all(e.in_window is not None and e.limit is not None for e in sent)
    assert any(e.requests == 50 and e.per == 10.0 for e in events if isinstance(e, LimitChanged))
    rate_limited = next(e for e in events if isinstance(e, RateLimited))
    assert rate_limited.pause > 0
    assert next(e for e in events if isinstance(e, RateLimited) and e.policy == "DAILY").pause == 0
    waits = [e for e in events if isinstance(e, PacerWaited)]
    assert "pause" in {e.reason for e in waits}
    # Held for the 20 ms the 429 asked for, not for the window (10 s) or the policy's
    # default (10 s); the margin covers the loop's own lateness on a busy machine.
    assert rate_limited.pause == pytest.approx(0.02)
    assert 0 < sum(e.seconds for e in waits if e.reason == "pause") <= rate_limited.pause + 1.0


async def test_a_raising_callback_does_not_break_the_run(
    scripted_sandbox: Sandbox,
    make_client: Callable[..., AssociationsClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a broken dashboard")

    callback = combine(broken, seen.append)
    with caplog.at_level(logging.ERROR, logger="hubassoc"):
        await scripted_run(scripted_sandbox, make_client, on_event=callback)
    assert any(isinstance(e, DailyLimitReached) for e in seen)
    assert "a broken dashboard" in caplog.text


def rendered_log(record: logging.LogRecord) -> str:
    """A record as every handler could render it: message, args, ``extra=`` fields, traceback."""
    formatter = logging.Formatter()
    parts = [formatter.format(record), repr(record.args)]
    parts += [f"{k}={v!r}" for k, v in vars(record).items()]
    return "\n".join(parts)


async def test_nothing_a_run_renders_carries_the_token_or_a_record_id(
    scripted_sandbox: Sandbox,
    make_client: Callable[..., AssociationsClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[Event] = []
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with caplog.at_level(logging.DEBUG, logger="hubassoc"):
        client = await scripted_run(
            scripted_sandbox,
            make_client,
            on_event=combine(events.append, PrometheusMetrics(registry)),
            tracing=provider,
        )

    rendered = {
        "events": "\n".join(f"{e!r}\n{msgspec.json.encode(e).decode()}" for e in events),
        "metrics": generate_latest(registry).decode(),
        "spans": "\n".join(span.to_json() for span in exporter.get_finished_spans()),
        "logs": "\n".join(rendered_log(record) for record in caplog.records),
        "client": f"{client!r}\n{client.pacing!r}\n{client.stats!r}",
    }
    for where, text in rendered.items():
        for secret in SECRETS:
            assert secret not in text, f"{where} carries {secret!r}"
    # The run did render things: the search above looked at something.
    assert len(events) > 20
    assert "hubassoc_requests_total" in rendered["metrics"]
    assert caplog.records, "the run logged nothing at DEBUG"
    assert len(exporter.get_finished_spans()) == 6  # one per attempt
    # The search can find: the run did use these ids and this token.
    assert scripted_sandbox.has_association(
        "contacts", "companies", COALESCED_FROM[0], COALESCED_TO[0]
    )
    assert scripted_sandbox.token == TOKEN


CLIENT_SECRET = "c5ec-0a07h-5ecre7-fa11-0ff"
REFRESH_TOKEN = "na1-refre5h-70ken-dead-beef-0123"


async def test_an_oauth_run_renders_no_credential(
    sandbox_factory: SandboxFactory,
    make_client: Callable[..., AssociationsClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox: Sandbox = await sandbox_factory(
        oauth=True,
        oauth_only=True,
        oauth_client_secret=CLIENT_SECRET,
        oauth_refresh_token=REFRESH_TOKEN,
        oauth_rotate_refresh_tokens=True,
    )
    refreshed: list[RefreshedTokens] = []
    tokens = OAuthTokens(
        client_id=sandbox.oauth_credentials.client_id,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        on_refresh=refreshed.append,
    )
    events: list[Event] = []
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    pairs = list(zip(FROM_IDS, TO_IDS, strict=True))
    with caplog.at_level(logging.DEBUG, logger="hubassoc"):
        client = make_client(
            sandbox,
            access_token=tokens,
            on_event=combine(events.append, PrometheusMetrics(registry)),
            tracing=provider,
        )
        assert (await client.batch_associate_default("contacts", "companies", pairs)).ok
        sandbox.expire_access_tokens()  # a 401 EXPIRED_AUTHENTICATION, one refresh, a resend
        assert (await client.batch_associate_default("contacts", "companies", pairs)).ok
        sandbox.revoke_refresh_token()
        sandbox.expire_access_tokens()
        with pytest.raises(AuthenticationError):
            await client.batch_associate_default("contacts", "companies", pairs)

    assert [e.reason for e in events if isinstance(e, TokenRefreshed)] == ["first", "rejected"]
    assert [e for e in events if isinstance(e, TokenRefreshFailed)] == [
        TokenRefreshFailed(status=400, category="BAD_REFRESH_TOKEN")
    ]
    value = registry.get_sample_value
    assert value("hubassoc_token_refreshes_total", {"outcome": "succeeded"}) == 2
    assert value("hubassoc_token_refreshes_total", {"outcome": "failed"}) == 1
    secrets = {CLIENT_SECRET, REFRESH_TOKEN, *SECRETS[1:]}
    for tokens_made in refreshed:
        secrets |= {tokens_made.access_token, tokens_made.refresh_token}
    assert len(secrets) == len(SECRETS) - 1 + 2 + 2 * 2  # every refresh rotated
    rendered = {
        "events": "\n".join(f"{e!r}\n{msgspec.json.encode(e).decode()}" for e in events),
        "metrics": generate_latest(registry).decode(),
        "spans": "\n".join(span.to_json() for span in exporter.get_finished_spans()),
        "logs": "\n".join(rendered_log(record) for record in caplog.records),
        "client": f"{client!r}\n{tokens!r}\n{client.pacing!r}\n{client.stats!r}",
    }
    for where, text in rendered.items():
        for secret in secrets:
            assert secret not in text, f"{where} carries a secret ({secret[:3]}...)"
    assert any("refresh" in record.getMessage() for record in caplog.records)

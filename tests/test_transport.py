"""The transport's parts on their own: the one retry loop (virtual clock), redaction, stats."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from urllib.parse import quote_plus

import pytest

from hubassoc import AssociationsClient, RateLimitError, ServerError, TransportError
from hubassoc._errors import HubSpotError
from hubassoc._redaction import Redactor
from hubassoc._retry import AttemptFailed, Failure, Retrying, RetryPolicy, retrying
from hubassoc.sandbox import Sandbox

from .conftest import ClientFactory
from .virtual_clock import run_virtual

POLICY = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_cap=8.0, rate_limit_wait=10.0)


class Script:
    """An attempt function that fails as scripted, then answers; records when each ran."""

    def __init__(self, *failures: AttemptFailed) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[int, float]] = []

    async def __call__(self, number: int) -> str:
        self.calls.append((number, asyncio.get_running_loop().time()))
        if self.failures:
            raise self.failures.pop(0)
        return f"answer of attempt {number}"


def failed(
    status: int | None, *, retry_after: float | None = None, held: bool = False
) -> AttemptFailed:
    error: HubSpotError
    if status is None:
        error = TransportError("no answer")
    elif status == 429:
        error = RateLimitError("slow down", status=429)
    else:
        error = ServerError("down", status=status)
    return AttemptFailed(error, Failure(status, retry_after=retry_after), str(status), held=held)


def run(script: Script, *, max_wait: float = 60.0, first: int = 0) -> tuple[str, list[float]]:
    """Run the loop on the virtual clock; the answer and the gaps between attempts."""
    told: list[tuple[int, str, float]] = []
    how = Retrying(
        POLICY, max_wait, "POST /x", rand=lambda: 0.5, on_retry=lambda *a: told.append(a)
    )

    async def main() -> str:
        return await retrying(script, how, first)

    answer = run_virtual(main)
    times = [at for _, at in script.calls]
    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)]
    assert [number for number, _, _ in told] == [number for number, _ in script.calls[:-1]]
    return answer, gaps


def test_backoff_is_slept_between_attempts_and_counts_from_first() -> None:
    script = Script(failed(503), failed(None))
    answer, gaps = run(script, first=1)
    assert answer == "answer of attempt 3"
    # Full jitter pinned at 0.5: half of base * 2**attempt.
    assert gaps == [1.0, 2.0]


def test_a_retry_after_is_waited_and_a_held_wait_is_not_slept_again() -> None:
    script = Script(failed(429, retry_after=3.0), failed(429, held=True))
    answer, gaps = run(script)
    assert answer == "answer of attempt 2"
    assert gaps == [3.0, 0.0]  # the pacer holds the second wait, not the loop


def test_a_wait_over_max_wait_fails_at_once_carrying_it() -> None:
    script = Script(failed(503, retry_after=3600.0))
    with pytest.raises(ServerError) as caught:
        run(script, max_wait=5.0)
    assert caught.value.retry_after == 3600.0
    assert len(script.calls) == 1


def test_the_budget_ends_with_the_last_error_raised_as_it_is() -> None:
    last = failed(None)
    script = Script(failed(502), failed(502), failed(502), last)
    with pytest.raises(TransportError) as caught:
        run(script)
    assert caught.value is last.error
    assert [number for number, _ in script.calls] == [0, 1, 2, 3]


def test_a_kept_secret_outlives_any_number_of_rotating_ones() -> None:
    redactor = Redactor(["client-secret/with+odd=chars"])
    for n in range(100):
        redactor.add(f"access-token-{n:04d}")
    text = redactor.text(
        f"secret={quote_plus('client-secret/with+odd=chars')} old=access-token-0000 "
        "new=access-token-0099"
    )
    assert text == "secret=[redacted] old=access-token-0000 new=[redacted]"
    assert redactor.mentioned_in("x access-token-0099 y")
    assert not redactor.mentioned_in("short")


async def test_stats_are_a_read_only_snapshot(sandbox: Sandbox, make_client: ClientFactory) -> None:
    client: AssociationsClient = make_client(sandbox)
    before = client.stats
    await client.associate_default("contacts", 1, "companies", 2)
    after = client.stats
    assert (before.requests, after.requests) == (0, 1)
    assert dict(after.by_status) == {200: 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.requests = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        after.by_status[200] = 5  # type: ignore[index]

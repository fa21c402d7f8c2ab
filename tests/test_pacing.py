"""The pacer on a virtual clock: the rolling-window guarantee, throughput, pauses, adaptation."""

from __future__ import annotations

import asyncio
import bisect

import pytest
from aiolimiter import AsyncLimiter

from hubassoc import DailyLimitError, Pacer, RateLimit
from hubassoc._pacing import FREE_TIER

from .virtual_clock import run_virtual


def peak_in_window(times: list[float], per: float) -> int:
    """The most send times that fall in any closed span of ``per`` seconds."""
    times = sorted(times)
    return max(
        (bisect.bisect_right(times, t + per) - i for i, t in enumerate(times)),
        default=0,
    )


async def acquire_many(pacer: Pacer, total: int, workers: int) -> list[float]:
    times: list[float] = []
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:
            times.append(await pacer.acquire())

    await asyncio.gather(*(worker() for _ in range(workers)))
    return times


def test_peak_in_window_helper() -> None:
    assert peak_in_window([0.0, 0.5, 1.0, 1.5, 3.0], 1.0) == 3
    assert peak_in_window([], 1.0) == 0


def test_plain_token_bucket_lets_twice_the_limit_into_one_window() -> None:
    """Why the pacer is more than an AsyncLimiter: a full burst doubles up."""

    async def main() -> list[float]:
        limiter = AsyncLimiter(10, 1.0)
        loop = asyncio.get_running_loop()
        times = []
        await asyncio.sleep(5)
        for _ in range(20):
            await limiter.acquire()
            times.append(loop.time())
        return times

    assert peak_in_window(run_virtual(main), 1.0) >= 19


@pytest.mark.parametrize(("requests", "per"), [(10, 1.0), (100, 10.0), (190, 10.0), (3, 0.5)])
def test_no_window_ever_holds_more_than_the_limit(requests: int, per: float) -> None:
    async def main() -> list[float]:
        pacer = Pacer(RateLimit(requests, per))
        return await acquire_many(pacer, requests * 6, workers=25)

    times = run_virtual(main)
    assert peak_in_window(times, per) <= requests
    # ... and the window is used: at least 95 % of the ceiling, once started.
    span = max(times) - min(times)
    windows = len(times) / requests
    assert span <= (windows - 1) * per / 0.95 + per


def test_margin_allows_for_arrival_jitter() -> None:
    async def main() -> list[float]:
        return await acquire_many(Pacer(RateLimit(10, 1.0, margin=0.1)), 60, workers=5)

    times = sorted(run_virtual(main))
    # Requests `requests` apart are a window plus the margin apart.
    assert min(b - a for a, b in zip(times, times[10:], strict=False)) >= 1.1 - 1e-9


def test_requests_leave_in_arrival_order() -> None:
    async def main() -> list[int]:
        pacer = Pacer(RateLimit(2, 1.0))
        order: list[int] = []

        async def one(i: int) -> None:
            await pacer.acquire()
            order.append(i)

        await asyncio.gather(*(one(i) for i in range(10)))
        return order

    assert run_virtual(main) == list(range(10))


def test_unlimited_pacer_never_waits() -> None:
    async def main() -> list[float]:
        return await acquire_many(Pacer(None), 1000, workers=10)

    times = run_virtual(main)
    assert max(times) == min(times)


def test_pause_holds_every_request() -> None:
    async def main() -> tuple[float, float]:
        pacer = Pacer(RateLimit(100, 10.0))
        start = await pacer.acquire()
        pacer.pause(10.0)
        assert pacer.pauses == 1
        pacer.pause(1.0)  # a shorter pause does not shorten the longer one
        assert pacer.pauses == 1
        return start, await pacer.acquire()

    start, after = run_virtual(main)
    assert after - start == pytest.approx(10.0)


def test_daily_stop_fails_at_once() -> None:
    async def main() -> None:
        pacer = Pacer(RateLimit(10, 1.0))
        error = DailyLimitError("daily", status=429, policy_name="DAILY")
        pacer.stop_for_the_day(error)
        loop = asyncio.get_running_loop()
        before = loop.time()
        with pytest.raises(DailyLimitError):
            await pacer.acquire()
        assert loop.time() == before
        assert pacer.daily_error is error
        unlimited = Pacer(None)
        unlimited.stop_for_the_day(error)
        with pytest.raises(DailyLimitError):
            await unlimited.acquire()

    run_virtual(main)


def test_adaptive_starts_at_free_tier_and_adopts_advertised_limits() -> None:
    async def main() -> None:
        pacer = Pacer(None, adaptive=True)
        assert pacer.limit == FREE_TIER
        sent = await pacer.acquire()
        pacer.observe(
            sent,
            {
                "X-HubSpot-RateLimit-Max": "190",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Remaining": "189",
            },
        )
        assert pacer.limit == RateLimit(190, 10.0)
        assert pacer.share == 190
        pacer.observe(sent, {"X-HubSpot-RateLimit-Max": "junk"})
        assert pacer.limit == RateLimit(190, 10.0)
        times = await acquire_many(pacer, 190 * 3, workers=10)
        assert peak_in_window(times, 10.0) <= 190

    run_virtual(main)


def test_fixed_pacer_ignores_headers() -> None:
    async def main() -> None:
        pacer = Pacer(RateLimit(10, 1.0))
        pacer.observe(await pacer.acquire(), {"X-HubSpot-RateLimit-Max": "500"})
        assert pacer.limit == RateLimit(10, 1.0)

    run_virtual(main)


def test_adaptive_backs_off_when_others_use_the_window() -> None:
    """Another process of the same app spends most of the window: our share shrinks."""

    async def main() -> None:
        pacer = Pacer(None, adaptive=True)
        headers = {
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
        sent = [await pacer.acquire() for _ in range(10)]
        # The server has counted our 10 plus 85 of someone else's: 5 remain.
        pacer.observe(sent[-1], {**headers, "X-HubSpot-RateLimit-Remaining": "5"})
        assert pacer.share == 15
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(5):
            await pacer.acquire()
        before_wait = loop.time()
        await pacer.acquire()  # the 16th in this window must wait for the window to roll
        assert loop.time() - before_wait > 5.0
        assert before_wait - start < 5.0
        # When the others stop, the full window comes back.
        pacer.observe(await pacer.acquire(), {**headers, "X-HubSpot-RateLimit-Remaining": "90"})
        assert pacer.share == 100

    run_virtual(main)


def test_rate_limit_validation_and_parsing() -> None:
    assert RateLimit.parse("190/10") == RateLimit(190, 10.0)
    assert RateLimit.parse("20/1.5") == RateLimit(20, 1.5)
    for text in ("190", "a/b", "0/10", "10/0", "10/-1", ""):
        with pytest.raises(ValueError, match="rate limit"):
            RateLimit.parse(text)
    with pytest.raises(ValueError):
        RateLimit(0, 10.0)
    with pytest.raises(TypeError):
        RateLimit(True, 10.0)
    assert RateLimit(100, 10.0).jitter_margin == 0.25
    assert RateLimit(20, 1.0).jitter_margin == pytest.approx(0.025)
    assert RateLimit(20, 1.0, margin=0.0).jitter_margin == 0.0


def test_an_unlimited_pacer_still_honours_a_pause() -> None:
    async def main() -> float:
        pacer = Pacer(None)
        start = await pacer.acquire()
        pacer.pause(3.0)
        return await pacer.acquire() - start

    assert run_virtual(main) == pytest.approx(3.0)


def test_adaptive_says_once_when_the_server_sends_no_headers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        pacer = Pacer(None, adaptive=True)
        for _ in range(3):
            pacer.observe(await pacer.acquire(), {})
        assert pacer.limit == FREE_TIER

    with caplog.at_level("INFO", logger="hubassoc"):
        run_virtual(main)
    assert [r.getMessage() for r in caplog.records].count(
        "the server sends no X-HubSpot-RateLimit-* headers: pacing stays at 100 requests "
        "per 10s; pass rate_limit=RateLimit(...) to set it, or rate_limit=False for a "
        "server without limits"
    ) == 1

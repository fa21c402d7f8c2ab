"""The pacer on a virtual clock: the rolling-window guarantee, throughput, pauses, adaptation."""

from __future__ import annotations

import asyncio

import pytest

from hubassoc import FREE_TIER, DailyLimitError, RateLimit
from hubassoc._events import Emitter
from hubassoc._holds import seconds_to_midnight
from hubassoc._pacing import MIN_MARGIN, Pacer

from .peaks import peak_in_window
from .virtual_clock import run_virtual


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
            200,
            {
                "X-HubSpot-RateLimit-Max": "190",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Remaining": "189",
            },
        )
        assert pacer.limit == RateLimit(190, 10.0)
        assert pacer.share == 190
        pacer.observe(sent, 200, {"X-HubSpot-RateLimit-Max": "junk"})
        assert pacer.limit == RateLimit(190, 10.0)
        times = await acquire_many(pacer, 190 * 3, workers=10)
        assert peak_in_window(times, 10.0) <= 190

    run_virtual(main)


def test_fixed_pacer_ignores_headers() -> None:
    async def main() -> None:
        pacer = Pacer(RateLimit(10, 1.0))
        pacer.observe(await pacer.acquire(), 200, {"X-HubSpot-RateLimit-Max": "500"})
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
        first = await pacer.acquire()  # the adaptive probe: alone until answered
        pacer.observe(first, 200, {**headers, "X-HubSpot-RateLimit-Remaining": "99"})
        sent = [first] + [await pacer.acquire() for _ in range(9)]
        # The server has counted our 10 plus 84 of someone else's: 6 remain,
        # which the other process sees too: we take half of them.
        pacer.observe(sent[-1], 200, {**headers, "X-HubSpot-RateLimit-Remaining": "6"})
        assert pacer.share == 16
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(3):
            await pacer.acquire()
        assert loop.time() == start
        # The next must wait: for an answer, or for the window to roll.
        late = asyncio.ensure_future(pacer.acquire())
        await asyncio.sleep(5.0)
        assert not late.done()
        await late
        assert loop.time() - start >= 10.0
        # When the others stop, the full window comes back.
        pacer.observe(
            await pacer.acquire(), 200, {**headers, "X-HubSpot-RateLimit-Remaining": "90"}
        )
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
    assert RateLimit(100, 10.0).initial_margin == 0.25
    assert RateLimit(20, 1.0).initial_margin == pytest.approx(0.025)
    assert RateLimit(20, 1.0, margin=0.0).initial_margin == 0.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="margin"):
            RateLimit(10, 1.0, margin=bad)


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
            pacer.observe(await pacer.acquire(), 200, {})
        assert pacer.limit == FREE_TIER

    with caplog.at_level("INFO", logger="hubassoc"):
        run_virtual(main)
    assert [r.getMessage() for r in caplog.records].count(
        "the server sends no X-HubSpot-RateLimit-* headers: pacing stays at 100 requests "
        "per 10s; pass rate_limit=RateLimit(...) to set it, or rate_limit=False for a "
        "server without limits"
    ) == 1


# --- burst-friendly pacing: the log of send times is the only gate ------------------------


def test_an_idle_pacer_lets_a_whole_window_go_at_once() -> None:
    """RateLimit(100, 10): 100 requests at t=0, the 101st one window (plus margin) later."""

    async def main() -> tuple[list[float], float]:
        pacer = Pacer(RateLimit(100, 10.0))
        loop = asyncio.get_running_loop()
        start = loop.time()
        times = await acquire_many(pacer, 101, workers=101)
        return [t - start for t in sorted(times)], pacer.margin

    times, margin = run_virtual(main)
    assert max(times[:100]) < 0.001
    assert times[100] == pytest.approx(10.0 + margin, abs=0.001)
    assert peak_in_window(times, 10.0) <= 100


def test_a_burst_spreads_the_traffic_through_the_token_bucket() -> None:
    """RateLimit(100, 1.0, burst=10): 10 at once, then one every 10 ms."""

    async def main() -> list[float]:
        pacer = Pacer(RateLimit(100, 1.0, burst=10))
        return await acquire_many(pacer, 50, workers=50)

    times = sorted(run_virtual(main))
    start = times[0]
    assert sum(1 for t in times if t - start < 1e-6) == 10  # never more than 10 at once
    assert peak_in_window(times, 0.05) <= 10 + 5
    assert times[-1] - start == pytest.approx(0.4, abs=0.01)  # 40 more at 100/s
    # An idle pacer without a burst sends all 50 at once.
    unspread = run_virtual(lambda: acquire_many(Pacer(RateLimit(100, 1.0)), 50, 50))
    assert max(unspread) - min(unspread) < 1e-6


def test_the_log_bounds_the_window_where_the_bucket_would_allow_more() -> None:
    """A bucket of 5 refilling at 10/s alone lets 15 into the first second: the log, 10."""

    async def main() -> list[float]:
        pacer = Pacer(RateLimit(10, 1.0, margin=0.01, burst=5))
        return await acquire_many(pacer, 40, workers=40)

    times = sorted(run_virtual(main))
    assert peak_in_window(times, 1.0) <= 10
    assert sum(1 for t in times if t - times[0] < 1e-6) == 5  # the bucket's burst
    # One window's worth leaves as the bucket refills, then the log holds the 11th.
    assert times[10] - times[0] == pytest.approx(1.01, abs=1e-3)


def test_burst_validation() -> None:
    with pytest.raises(ValueError, match="burst"):
        RateLimit(10, 1.0, burst=11)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(10, 1.0, burst=0)
    with pytest.raises(TypeError, match="burst"):
        RateLimit(10, 1.0, burst=2.5)  # type: ignore[arg-type]


def _answer(pacer: Pacer, sent_at: float, rtt: float) -> None:
    loop = asyncio.get_running_loop()
    loop.call_at(sent_at + rtt, pacer.observe, sent_at, 200, {})


def test_the_margin_follows_the_spread_of_round_trips() -> None:
    async def main() -> tuple[float, float, float]:
        pacer = Pacer(RateLimit(10, 10.0))
        before = pacer.margin
        for rtt in (0.150, 0.170, 0.160, 0.190):
            _answer(pacer, await pacer.acquire(), rtt)
        await asyncio.sleep(1)
        spread = pacer.margin
        steady = Pacer(RateLimit(10, 10.0))
        for _ in range(4):
            _answer(steady, await steady.acquire(), 0.150)
        await asyncio.sleep(1)
        return before, spread, steady.margin

    before, spread, steady = run_virtual(main)
    assert before == 0.25  # nothing observed yet: the conservative default
    assert spread == pytest.approx(0.040 + MIN_MARGIN)
    assert steady == pytest.approx(MIN_MARGIN, abs=1e-6)  # no spread: the floor


def test_an_explicit_margin_wins_over_the_observed_one() -> None:
    async def main() -> float:
        pacer = Pacer(RateLimit(10, 10.0, margin=0.3))
        for rtt in (0.1, 0.2):
            _answer(pacer, await pacer.acquire(), rtt)
        await asyncio.sleep(1)
        return pacer.margin

    assert run_virtual(main) == 0.3


def test_adaptive_sends_one_request_first_then_bursts_at_the_learned_limit() -> None:
    """Cold start: the probe goes alone, its headers set the limit, then a burst of it."""

    async def main() -> tuple[list[float], int]:
        pacer = Pacer(None, adaptive=True)
        loop = asyncio.get_running_loop()
        start = loop.time()
        headers = {
            "X-HubSpot-RateLimit-Max": "20",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "1000",
            "X-HubSpot-RateLimit-Remaining": "19",
        }
        times: list[float] = []

        async def one() -> None:
            sent = await pacer.acquire()
            times.append(sent - start)
            loop.call_at(sent + 0.02, pacer.observe, sent, 200, headers)

        await asyncio.gather(*(one() for _ in range(40)))
        return sorted(times), peak_in_window(times, 1.0)

    times, peak = run_virtual(main)
    assert times[0] == pytest.approx(0.0, abs=1e-6)
    assert times[1] == pytest.approx(0.02, abs=1e-3)  # after the probe's answer
    assert peak <= 20  # never the Free tier's 100 into a window of 20
    assert times[19] == pytest.approx(0.02, abs=1e-3)  # the rest of the window at once


def test_a_failed_probe_lets_the_others_go() -> None:
    async def main() -> int:
        pacer = Pacer(None, adaptive=True)
        first = await pacer.acquire()
        waiting = asyncio.ensure_future(pacer.acquire())
        await asyncio.sleep(0.5)
        assert not waiting.done()
        pacer.failed(first)
        await waiting
        return pacer.in_window()

    assert run_virtual(main) == 2


def test_daily_remaining_zero_stops_the_pacer_and_each_caller_gets_its_own_error() -> None:
    async def main() -> list[DailyLimitError]:
        pacer = Pacer(RateLimit(10, 1.0))
        pacer.observe(await pacer.acquire(), 200, {"X-HubSpot-RateLimit-Daily-Remaining": "0"})
        errors = []
        for _ in range(3):
            try:
                await pacer.acquire()
            except DailyLimitError as error:
                errors.append(error)
        return errors

    errors = run_virtual(main)
    assert len(errors) == 3
    assert len({id(e) for e in errors}) == 3
    assert all(e.policy_name == "DAILY" and "Daily-Remaining" in e.message for e in errors)


REMAINING = {
    "X-HubSpot-RateLimit-Max": "100",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
}


def test_an_older_answer_does_not_undo_what_a_later_one_said() -> None:
    """Answers come back in any order: the latest-sent one says another process uses
    the window (6 remain), then an older one, sent before that process began,
    says the window was ours. The older one must not give the whole window back:
    it did, and a burst went into the window the other process was using."""

    async def main() -> tuple[int, int]:
        pacer = Pacer(None, adaptive=True)
        probe = await pacer.acquire()
        pacer.observe(probe, 200, {**REMAINING, "X-HubSpot-RateLimit-Remaining": "99"})
        sent = [await pacer.acquire() for _ in range(9)]
        # Answered last-sent first: 84 sent by someone else since the early ones.
        pacer.observe(sent[-1], 200, {**REMAINING, "X-HubSpot-RateLimit-Remaining": "6"})
        pacer.observe(sent[0], 200, {**REMAINING, "X-HubSpot-RateLimit-Remaining": "98"})
        loop = asyncio.get_running_loop()
        start = loop.time()
        extra = await acquire_many(pacer, 20, workers=20)
        return pacer.share, sum(1 for t in extra if t - start < 5.0)

    share, soon = run_virtual(main)
    assert share == 16  # our 10 plus the 6 remaining
    assert soon <= 3  # half of the 6 remaining, not a burst of 20


def test_the_daily_budget_holds_requests_beyond_what_remains() -> None:
    async def main() -> None:
        pacer = Pacer(RateLimit(100, 10.0))
        first = await pacer.acquire()
        pacer.observe(first, 200, {"X-HubSpot-RateLimit-Daily-Remaining": "3"})
        sent = [await pacer.acquire() for _ in range(3)]
        fourth = asyncio.ensure_future(pacer.acquire())
        await asyncio.sleep(1.0)
        assert not fourth.done()  # 3 remained, 3 are in flight
        # The first of them is answered: 2 remain, 2 still in flight.
        pacer.observe(sent[0], 200, {"X-HubSpot-RateLimit-Daily-Remaining": "2"})
        await asyncio.sleep(1.0)
        assert not fourth.done()
        pacer.failed(sent[1])  # no answer: it may not have counted
        await fourth
        # The last answers say nothing remains: the waiting and the later fail
        # at once, and nothing more is sent.
        waiting = asyncio.ensure_future(pacer.acquire())
        await asyncio.sleep(0)
        pacer.observe(sent[2], 200, {"X-HubSpot-RateLimit-Daily-Remaining": "0"})
        with pytest.raises(DailyLimitError):
            await waiting
        with pytest.raises(DailyLimitError):
            await pacer.acquire()

    run_virtual(main)


def test_a_spent_budget_stops_the_day_without_a_request() -> None:
    async def main() -> None:
        events: list[object] = []
        pacer = Pacer(None, emit=Emitter(events.append))
        first = await pacer.acquire()
        pacer.observe(first, 400, {"X-HubSpot-RateLimit-Daily-Remaining": "1"})
        last = await pacer.acquire()
        # Its answer (an error, so no stop from the header) leaves 0 and nothing in flight.
        pacer.observe(last, 400, {"X-HubSpot-RateLimit-Daily-Remaining": "0"})
        with pytest.raises(DailyLimitError):
            await pacer.acquire()
        assert [type(e).__name__ for e in events] == ["DailyLimitReached"]

    run_virtual(main)


def test_the_daily_stop_ends_at_the_reset() -> None:
    async def main() -> list[str]:
        events: list[object] = []
        pacer = Pacer(RateLimit(10, 1.0), emit=Emitter(events.append))
        pacer.stop_for_the_day(DailyLimitError("daily", status=429, policy_name="DAILY"))
        with pytest.raises(DailyLimitError):
            await pacer.acquire()
        await asyncio.sleep(seconds_to_midnight() + 1.0)  # the next day, UTC
        assert pacer.daily_error is None
        await pacer.acquire()
        await pacer.aclose()
        return [type(e).__name__ for e in events]

    assert run_virtual(main)[-2:] == ["DailyLimitReached", "DailyLimitReset"]

"""The coalescer on a virtual clock, with a scripted sender: pure batching logic, no HTTP."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import pytest

from hubassoc import (
    AssociationSpec,
    BatchItemError,
    ClientClosedError,
    DailyLimitError,
    HubSpotError,
    ServerError,
)
from hubassoc._coalescer import Coalescer
from hubassoc._operations import DEFAULT_ASSOCIATE, Operation, Pair
from hubassoc._sender import Answers

from .peaks import watch_peak
from .virtual_clock import run_virtual

KEY = (DEFAULT_ASSOCIATE, "contacts", "companies")
SPEC = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=279)


class ScriptedSender:
    """Stands in for BatchSender: answers after `latency` virtual seconds."""

    def __init__(
        self,
        *,
        latency: float = 0.05,
        max_batch_size: int = 100,
        bad: frozenset[Pair] = frozenset(),
        whole_failure: BaseException | None = None,
    ) -> None:
        self.latency = latency
        self.max_batch_size = max_batch_size
        self.bad = bad
        self.whole_failure = whole_failure
        self.daily_error: DailyLimitError | None = None  # the coalescer's DailyStop
        self.max_concurrency = 4
        self.batches: list[tuple[float, list[Pair]]] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    def size_for(self, op: Operation[Any, Any]) -> int:
        return self.max_batch_size

    async def send(
        self, op: Operation[Any, Any], from_type: str, to_type: str, pairs: Sequence[Pair]
    ) -> Answers[Pair, AssociationSpec]:
        self.batches.append((asyncio.get_running_loop().time(), list(pairs)))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            if self.whole_failure is not None:
                if isinstance(self.whole_failure, DailyLimitError):
                    self.daily_error = self.whole_failure
                raise self.whole_failure
            errors: dict[Pair, HubSpotError] = {
                p: BatchItemError("not found", input=p, category="OBJECT_NOT_FOUND")
                for p in pairs
                if p in self.bad
            }
            return {p: SPEC for p in pairs if p not in self.bad}, errors, {}
        finally:
            self.in_flight -= 1


def make(sender: ScriptedSender, **kwargs: float) -> Coalescer:
    options = {"linger": 0.005, "max_pending": 10_000, "max_concurrency": 4, **kwargs}
    sender.max_concurrency = int(options["max_concurrency"])
    return Coalescer(
        sender,  # type: ignore[arg-type]
        sender,  # it also plays the pacer, the owner of the daily stop
        linger=float(options["linger"]),
        max_pending=int(options["max_pending"]),
    )


def pair(i: int) -> Pair:
    return (str(i), str(100_000 + i))


def test_thousands_of_awaits_make_full_batches() -> None:
    sender = ScriptedSender()

    async def main() -> list[AssociationSpec]:
        coalescer = make(sender)
        return await asyncio.gather(*(coalescer.enqueue(KEY, pair(i)) for i in range(10_000)))

    results = run_virtual(main)
    assert results == [SPEC] * 10_000
    assert len(sender.batches) == 100
    assert {len(pairs) for _, pairs in sender.batches} == {100}


def test_a_lone_call_waits_only_the_linger() -> None:
    sender = ScriptedSender(latency=0.05)

    async def main() -> float:
        coalescer = make(sender, linger=0.005)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await coalescer.enqueue(KEY, pair(1))
        return loop.time() - start

    assert run_virtual(main) == pytest.approx(0.055, abs=1e-4)
    assert sender.batches[0][0] - 1000.0 == pytest.approx(0.005, abs=1e-4)


def test_pairs_are_grouped_by_type_pair() -> None:
    sender = ScriptedSender()

    async def main() -> None:
        coalescer = make(sender)
        await asyncio.gather(
            coalescer.enqueue(KEY, pair(1)),
            coalescer.enqueue((DEFAULT_ASSOCIATE, "contacts", "deals"), pair(1)),
            coalescer.enqueue(KEY, pair(2)),
        )

    run_virtual(main)
    assert sorted(len(pairs) for _, pairs in sender.batches) == [1, 2]


def test_identical_pairs_are_sent_once_and_answer_everyone() -> None:
    sender = ScriptedSender()

    async def main() -> list[AssociationSpec]:
        coalescer = make(sender)
        return await asyncio.gather(*(coalescer.enqueue(KEY, pair(7)) for _ in range(5)))

    assert run_virtual(main) == [SPEC] * 5
    assert [pairs for _, pairs in sender.batches] == [[pair(7)]]


def test_each_caller_gets_its_own_error() -> None:
    sender = ScriptedSender(bad=frozenset({pair(3)}))

    async def main() -> list[object]:
        coalescer = make(sender)
        return await asyncio.gather(
            *(coalescer.enqueue(KEY, pair(i)) for i in range(6)),
            return_exceptions=True,
        )

    outcomes = run_virtual(main)
    assert isinstance(outcomes[3], BatchItemError)
    assert outcomes[3].input == pair(3)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [SPEC] * 5
    assert len(sender.batches) == 1


def test_a_whole_batch_failure_reaches_each_caller_of_that_batch() -> None:
    sender = ScriptedSender(whole_failure=ServerError("boom", status=503))

    async def main() -> list[object]:
        coalescer = make(sender)
        return await asyncio.gather(
            *(coalescer.enqueue(KEY, pair(i)) for i in range(3)),
            return_exceptions=True,
        )

    assert all(isinstance(o, ServerError) for o in run_virtual(main))


def test_a_cancelled_caller_loses_only_its_own_wait() -> None:
    sender = ScriptedSender(bad=frozenset({pair(2)}))
    loop_errors: list[dict[str, object]] = []

    async def main() -> list[object]:
        asyncio.get_running_loop().set_exception_handler(
            lambda _loop, context: loop_errors.append(context)
        )
        coalescer = make(sender, linger=0.01)
        tasks = [asyncio.ensure_future(coalescer.enqueue(KEY, pair(i))) for i in (1, 1, 2, 3)]
        await asyncio.sleep(0.02)  # the batch is in flight
        tasks[0].cancel()  # one of two identical pairs
        tasks[2].cancel()  # the failing pair: its error must not go unretrieved
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await coalescer.aclose()
        del tasks
        # asyncio reports "exception was never retrieved" to the loop's handler
        # (a log record, not a warning) when the future is collected.
        gc.collect()
        await asyncio.sleep(0)
        return outcomes

    outcomes = run_virtual(main)
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert outcomes[1] == SPEC
    assert isinstance(outcomes[2], asyncio.CancelledError)
    assert outcomes[3] == SPEC
    assert [pairs for _, pairs in sender.batches] == [[pair(1), pair(2), pair(3)]]
    assert not loop_errors


def test_backpressure_bounds_waiting_callers() -> None:
    sender = ScriptedSender(latency=0.1, max_batch_size=10)

    async def main() -> int:
        coalescer = make(sender, max_pending=25, max_concurrency=2)
        async with watch_peak(lambda: coalescer.pending, 0.001) as peak:
            results = await asyncio.gather(*(coalescer.enqueue(KEY, pair(i)) for i in range(500)))
        assert results == [SPEC] * 500
        return peak.value

    assert 0 < run_virtual(main) <= 25
    assert sum(len(pairs) for _, pairs in sender.batches) == 500


def test_concurrency_is_bounded_and_due_batches_keep_filling() -> None:
    sender = ScriptedSender(latency=1.0, max_batch_size=100)

    async def main() -> None:
        coalescer = make(sender, max_concurrency=2, linger=0.001)
        loop = asyncio.get_running_loop()

        tasks = []
        start = loop.time()
        for i in range(1000):
            tasks.append(asyncio.ensure_future(coalescer.enqueue(KEY, pair(i))))
            await asyncio.sleep(0.01)
        await coalescer.aclose()
        assert [t.result() for t in tasks] == [SPEC] * 1000
        assert loop.time() - start >= 10

    run_virtual(main)
    assert sender.peak_in_flight == 2
    # Requests take 1 s and arrive every 10 ms: while both slots are busy the due
    # batch keeps filling, so batches are far larger than one pair.
    assert len(sender.batches) < 40
    assert sum(len(pairs) for _, pairs in sender.batches) == 1000


def test_close_sends_everything_pending_then_refuses() -> None:
    sender = ScriptedSender()

    async def main() -> list[object]:
        coalescer = make(sender, linger=60.0)
        loop = asyncio.get_running_loop()
        tasks = [asyncio.ensure_future(coalescer.enqueue(KEY, pair(i))) for i in range(5)]
        await asyncio.sleep(0)
        start = loop.time()
        await coalescer.aclose()
        assert loop.time() - start < 1.0  # did not wait out the 60 s linger
        assert all(t.done() for t in tasks)
        with pytest.raises(ClientClosedError):
            await coalescer.enqueue(KEY, pair(9))
        return [t.result() for t in tasks]

    assert run_virtual(main) == [SPEC] * 5


def test_daily_limit_fails_everything_pending_and_after() -> None:
    daily = DailyLimitError("daily", status=429, policy_name="DAILY")
    sender = ScriptedSender(whole_failure=daily, max_batch_size=10, latency=0.1)

    async def main() -> None:
        coalescer = make(sender, max_concurrency=1)
        outcomes = await asyncio.gather(
            *(coalescer.enqueue(KEY, pair(i)) for i in range(100)),
            return_exceptions=True,
        )
        assert all(isinstance(o, DailyLimitError) for o in outcomes)
        with pytest.raises(DailyLimitError):
            await coalescer.enqueue(KEY, pair(1000))

    run_virtual(main)
    # One request drew the 429; nothing else was sent.
    assert len(sender.batches) == 1


def test_callers_cancelled_while_waiting_for_room_are_never_sent() -> None:
    sender = ScriptedSender(latency=0.1, max_batch_size=5)

    async def main() -> None:
        coalescer = make(sender, max_pending=5, max_concurrency=1)
        tasks = [asyncio.ensure_future(coalescer.enqueue(KEY, pair(i))) for i in range(20)]
        await asyncio.sleep(0.01)
        assert coalescer.pending == 5
        for task in tasks[5:15]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert [t.result() for t in (*tasks[:5], *tasks[15:])] == [SPEC] * 10
        await coalescer.aclose()

    run_virtual(main)
    sent = [p for _, pairs in sender.batches for p in pairs]
    assert sent == [pair(i) for i in (*range(5), *range(15, 20))]


def test_close_with_only_cancelled_callers_waiting_for_room_returns() -> None:
    sender = ScriptedSender(latency=0.1, max_batch_size=5)

    async def main() -> None:
        coalescer = make(sender, max_pending=1, max_concurrency=1)
        first = asyncio.ensure_future(coalescer.enqueue(KEY, pair(0)))
        waiting = asyncio.ensure_future(coalescer.enqueue(KEY, pair(1)))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.wait_for(coalescer.aclose(), timeout=5)
        assert first.result() == SPEC

    run_virtual(main)

"""The one engine with several operations, on a virtual clock: order per pair,
read-your-writes, pages followed together, dedupe, cancellation, close,
bisection and splitting per operation. Pure logic: the real sender and
coalescer, operation descriptions made up here, and an in-memory server
behind the request function (no HTTP)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from hubassoc import BatchItemError, ClientClosedError, DailyLimitError, InvalidRequestError
from hubassoc._coalescer import BatchKey, Coalescer
from hubassoc._events import BatchSettled, Emitter, Event, ItemsFailed
from hubassoc._models import StandardError
from hubassoc._operations import Decoded, Operation
from hubassoc._routes import Routes
from hubassoc._sender import BatchSender
from hubassoc._transport import Response

from .virtual_clock import run_virtual

Pair = tuple[str, str]
ReadInput = tuple[str, str | None]


def _encode(inputs: Sequence[tuple[Any, ...]]) -> bytes:
    return json.dumps([list(item) for item in inputs]).encode()


def _errors(answer: dict[str, Any]) -> list[StandardError]:
    return [
        StandardError(status="404", category="OBJECT_NOT_FOUND", context={"fromObjectId": [i]})
        for i in answer["missing"]
    ]


def _decode_link(response: Response, inputs: Sequence[Pair]) -> Decoded[Pair, str]:
    answer = json.loads(response.body)
    return {(f, t): "linked" for f, t in answer["done"]}, _errors(answer), None


def _decode_unlink(response: Response, inputs: Sequence[Pair]) -> Decoded[Pair, None]:
    return {}, _errors(json.loads(response.body)), None


def _decode_read(response: Response, inputs: Sequence[ReadInput]) -> Decoded[ReadInput, list[str]]:
    answer = json.loads(response.body)
    by_id = {item[0]: item for item in inputs}
    results = {by_id[r["id"]]: r["to"] for r in answer["pages"]}
    more = {by_id[r["id"]]: (r["id"], r["after"]) for r in answer["pages"] if r["after"]}
    return results, _errors(answer), more


LINK: Operation[Pair, str] = Operation(
    name="link", route="batch_create", encode=_encode, decode=_decode_link
)
UNLINK: Operation[Pair, None] = Operation(
    name="unlink", route="batch_archive", encode=_encode, decode=_decode_unlink, absent=lambda: None
)
READ: Operation[ReadInput, list[str]] = Operation(
    name="read",
    route="batch_read",
    max_inputs=4,
    encode=_encode,
    decode=_decode_read,
    sides=lambda item: (item[0], None),
    absent=list,
    merge=lambda so_far, page: so_far + page,
    one_per_record=True,
    share=list,
    writes=False,
)
TYPES = ("contacts", "companies")


class Server:
    """What the request function talks to: links per from id, answers after ``latency``."""

    def __init__(self, *, latency: float = 0.05, page_size: int = 3) -> None:
        self.latency = latency
        self.slow: dict[str, float] = {}  # a from id -> the latency of a request carrying it
        self.page_size = page_size
        self.links: dict[str, set[str]] = {}
        self.missing: set[str] = set()  # ids answered with a per-input error
        self.poison: set[str] = set()  # ids that make a whole request fail with a 400
        self.too_large: int | None = None  # more inputs than this: a too-large 400
        self.daily = False
        #: (virtual time sent, time answered, action, inputs)
        self.log: list[tuple[float, float, str, list[list[Any]]]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        batch_size: int = 0,
        body: bytes | None = None,
        idempotent: bool = True,
    ) -> Response:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        assert body is not None
        inputs: list[list[Any]] = json.loads(body)
        action = path.rsplit("/", 1)[1]
        await asyncio.sleep(max([self.latency, *(self.slow.get(i[0], 0) for i in inputs)]))
        self.log.append((sent, loop.time(), action, inputs))
        if self.daily:
            raise DailyLimitError("daily limit", status=429)
        if self.too_large is not None and len(inputs) > self.too_large:
            raise InvalidRequestError(
                f"batch size exceeds the maximum of {self.too_large}", status=400
            )
        if any(item[0] in self.poison for item in inputs):
            raise InvalidRequestError("something in this batch is wrong", status=400)
        answer = getattr(self, f"_{action}")([i for i in inputs if i[0] not in self.missing])
        answer["missing"] = sorted({i[0] for i in inputs if i[0] in self.missing})
        return Response(status=200, headers={}, body=json.dumps(answer).encode())

    def _create(self, inputs: list[list[str]]) -> dict[str, Any]:
        for f, t in inputs:
            self.links.setdefault(f, set()).add(t)
        return {"done": inputs}

    def _archive(self, inputs: list[list[str]]) -> dict[str, Any]:
        for f, t in inputs:
            self.links.get(f, set()).discard(t)
        return {}

    def _read(self, inputs: list[list[Any]]) -> dict[str, Any]:
        pages = []
        for record, after in inputs:
            start = int(after or 0)
            every = sorted(self.links.get(record, ()))
            if not every:
                continue  # no associations: absent from the answer
            end = start + self.page_size
            following = str(end) if end < len(every) else None
            pages.append({"id": record, "to": every[start:end], "after": following})
        return {"pages": pages}

    def sent(self, action: str) -> list[tuple[float, float, list[list[Any]]]]:
        return [(s, a, i) for s, a, act, i in self.log if act == action]


class Engine:
    """A coalescer and sender over a :class:`Server`."""

    def __init__(self, server: Server, **options: Any) -> None:
        self.events: list[Event] = []
        self.daily_error: DailyLimitError | None = None  # plays the pacer
        sender = BatchSender(
            server.request,
            Routes("v4"),
            max_batch_size=options.get("max_batch_size", 100),
            max_concurrency=options.get("max_concurrency", 4),
            emit=Emitter(self.events.append),
        )
        self.sender = sender
        self.coalescer = Coalescer(
            sender,
            self,
            linger=options.get("linger", 0.005),
            max_pending=options.get("max_pending", 10_000),
            emit=Emitter(self.events.append),
        )

    def submit(
        self, op: Operation[Any, Any], *item: Any, types: tuple[str, str] = TYPES
    ) -> asyncio.Future[Any]:
        key: BatchKey = (op, *types)
        return self.coalescer.enqueue(key, item if op.writes else (item[0], None))


def test_an_archive_after_an_associate_of_the_pair_waits_for_it_and_the_reverse() -> None:
    server = Server()

    async def main() -> None:
        engine = Engine(server)
        first = engine.submit(LINK, "1", "10")
        second = engine.submit(UNLINK, "1", "10")
        third = engine.submit(LINK, "1", "10")
        other = engine.submit(UNLINK, "2", "20")  # another pair: not held
        assert await asyncio.gather(first, second, third, other) == ["linked", None, "linked", None]

    run_virtual(main)
    (create1, create2), (other, archive) = server.sent("create"), server.sent("archive")
    assert create1[0] < create1[1] <= archive[0] < archive[1] <= create2[0]
    assert (other[2], archive[2]) == ([["2", "20"]], [["1", "10"]])
    assert create1[0] == other[0] == pytest.approx(1000.005, abs=1e-3)
    assert server.links["1"] == {"10"}


def test_unrelated_pairs_of_two_operations_leave_together() -> None:
    server = Server()

    async def main() -> None:
        engine = Engine(server)
        await asyncio.gather(engine.submit(LINK, "1", "10"), engine.submit(UNLINK, "1", "11"))

    run_virtual(main)
    (create,), (archive,) = server.sent("create"), server.sent("archive")
    assert create[0] == archive[0] == pytest.approx(1000.005, abs=1e-3)


def test_a_read_waits_for_the_earlier_writes_of_its_record_only() -> None:
    server = Server()

    async def main() -> list[list[str]]:
        engine = Engine(server)
        writes = [engine.submit(LINK, "1", t) for t in ("10", "11")]
        unlink = engine.submit(UNLINK, "1", "12")
        server.links["2"] = {"20"}
        reads = [engine.submit(READ, "1"), engine.submit(READ, "2")]
        await asyncio.gather(*writes, unlink)
        return await asyncio.gather(*reads)

    assert run_virtual(main) == [["10", "11"], ["20"]]
    reads = server.sent("read")
    assert [inputs for _, _, inputs in reads] == [[["2", None]], [["1", None]]]
    assert reads[0][0] == pytest.approx(1000.005, abs=1e-3)  # record 2 had nothing pending
    last_write = max(answered for _, answered, _, _ in server.log[:2])
    assert reads[1][0] >= last_write


def test_pages_of_many_records_are_followed_together() -> None:
    server = Server(page_size=3)
    for record in "1234":
        server.links[record] = {str(100 + n) for n in range(int(record) * 2)}  # 2 to 8

    async def main() -> list[list[str]]:
        engine = Engine(server)
        return await asyncio.gather(*(engine.submit(READ, r) for r in "1234"))

    results = run_virtual(main)
    assert [len(r) for r in results] == [2, 4, 6, 8]
    assert results[3] == sorted(server.links["4"])
    # One request per round: the records that need another page ask for it together.
    reads = server.sent("read")
    assert [len(inputs) for _, _, inputs in reads] == [4, 3, 1]
    assert reads[1][2] == [["2", "3"], ["3", "3"], ["4", "3"]]
    assert reads[2][2] == [["4", "6"]]


def test_identical_reads_are_asked_once_and_each_caller_gets_its_own_list() -> None:
    server = Server()
    server.links["1"] = {"10", "11"}

    async def main() -> list[list[str]]:
        engine = Engine(server)
        return await asyncio.gather(*(engine.submit(READ, "1") for _ in range(3)))

    first, second, third = run_virtual(main)
    assert first == second == third == ["10", "11"]
    assert first is not second and second is not third and first is not third
    assert [inputs for _, _, inputs in server.sent("read")] == [[["1", None]]]


def test_a_record_without_associations_reads_as_an_empty_list_and_a_missing_one_fails() -> None:
    server = Server()
    server.missing.add("404")

    async def main() -> list[Any]:
        engine = Engine(server)
        return await asyncio.gather(
            engine.submit(READ, "1"), engine.submit(READ, "404"), return_exceptions=True
        )

    empty, missing = run_virtual(main)
    assert empty == []
    assert isinstance(missing, BatchItemError) and missing.category == "OBJECT_NOT_FOUND"


def test_a_held_write_whose_caller_gives_up_still_goes_out_in_order() -> None:
    server = Server()

    async def main() -> None:
        engine = Engine(server)
        first = engine.submit(LINK, "1", "10")
        held = engine.submit(UNLINK, "1", "10")
        read = engine.submit(READ, "1")
        held.cancel()
        assert await first == "linked"
        assert await read == []  # the archive went out before the read
        await engine.coalescer.aclose()

    run_virtual(main)
    assert [action for _, _, action, _ in server.log] == ["create", "archive", "read"]
    assert server.links["1"] == set()


def test_close_sends_what_is_held_and_answers_everyone() -> None:
    server = Server()

    async def main() -> list[Any]:
        engine = Engine(server)
        futures = [
            engine.submit(LINK, "1", "10"),
            engine.submit(UNLINK, "1", "10"),
            engine.submit(LINK, "1", "10"),
            engine.submit(READ, "1"),
        ]
        await engine.coalescer.aclose()
        assert engine.coalescer.pending == 0
        return [f.result() for f in futures]

    assert run_virtual(main) == ["linked", None, "linked", ["10"]]


def test_abort_fails_what_is_held_without_sending_it() -> None:
    server = Server(latency=1.0)

    async def main() -> list[Any]:
        engine = Engine(server)
        futures = [engine.submit(LINK, "1", "10"), engine.submit(UNLINK, "1", "10")]
        futures.append(engine.submit(READ, "1"))
        await asyncio.sleep(0.5)  # the create is in flight, the rest held
        engine.coalescer.abort()
        answers = await asyncio.gather(*futures, return_exceptions=True)
        await asyncio.sleep(2)
        assert engine.coalescer.pending == 0
        return answers

    answers = run_virtual(main)
    assert all(isinstance(a, ClientClosedError) for a in answers)
    assert "may have acted" in str(answers[0])  # in flight when the client closed
    assert "before this call was sent" in str(answers[1])  # held: never sent
    assert [action for _, _, action, _ in server.log] == []  # the create was cancelled in flight


def test_a_daily_stop_fails_what_is_held() -> None:
    server = Server()
    server.daily = True

    async def main() -> list[Any]:
        engine = Engine(server)
        futures = [engine.submit(LINK, "1", "10"), engine.submit(UNLINK, "1", "10")]
        futures.append(engine.submit(READ, "1"))
        answers = await asyncio.gather(*futures, return_exceptions=True)
        assert engine.coalescer.pending == 0
        return answers

    answers = run_virtual(main)
    assert all(isinstance(a, DailyLimitError) for a in answers)
    assert len({id(a) for a in answers}) == 3  # each caller its own copy
    assert len(server.log) == 1


def test_writes_already_on_their_way_are_ordered_once_a_second_operation_appears() -> None:
    server = Server(latency=1.0)

    async def main() -> None:
        engine = Engine(server)
        first = engine.submit(LINK, "1", "10")
        await asyncio.sleep(0.5)  # in flight before any other operation was used
        second = engine.submit(UNLINK, "1", "10")
        await asyncio.gather(first, second)

    run_virtual(main)
    (create,), (archive,) = server.sent("create"), server.sent("archive")
    assert archive[0] >= create[1]
    assert server.links["1"] == set()


@pytest.mark.parametrize("op", [LINK, UNLINK], ids=lambda op: op.name)
def test_a_whole_batch_400_is_bisected_per_operation(op: Operation[Pair, Any]) -> None:
    server = Server()
    server.poison.add("7")

    async def main() -> list[Any]:
        engine = Engine(server)
        futures = [engine.submit(op, str(i), "100") for i in range(10)]
        answers = await asyncio.gather(*futures, return_exceptions=True)
        failed = [e for e in engine.events if isinstance(e, ItemsFailed)]
        assert [(e.operation, e.count) for e in failed] == [(op.name, 1)]
        return answers

    answers = run_virtual(main)
    assert isinstance(answers[7], BatchItemError) and answers[7].status == 400
    assert all(not isinstance(a, BaseException) for i, a in enumerate(answers) if i != 7)


def test_a_too_large_answer_lowers_that_operations_cap_only() -> None:
    server = Server()
    server.too_large = 2

    async def main() -> tuple[int, int]:
        engine = Engine(server, max_batch_size=100)
        await asyncio.gather(*(engine.submit(READ, str(i)) for i in range(4)))
        return engine.sender.size_for(READ), engine.sender.size_for(LINK)

    assert run_virtual(main) == (2, 100)
    assert [len(i) for _, _, i in server.sent("read")] == [4, 2, 2]


def test_batches_are_keyed_by_operation_and_events_name_it() -> None:
    server = Server()

    async def main() -> list[Event]:
        engine = Engine(server)
        await asyncio.gather(
            engine.submit(LINK, "1", "10"), engine.submit(LINK, "2", "20"), engine.submit(READ, "3")
        )
        return engine.events

    settled = [e for e in run_virtual(main) if isinstance(e, BatchSettled)]
    assert sorted((e.operation, e.pairs) for e in settled) == [("link", 2), ("read", 1)]


def test_a_pair_sent_twice_before_order_was_kept_is_settled_by_both() -> None:
    server = Server()
    server.slow["1"] = 1.0

    async def main() -> None:
        engine = Engine(server)
        first = engine.submit(LINK, "1", "10")  # slow
        await asyncio.sleep(0.01)
        server.slow.clear()
        second = engine.submit(LINK, "1", "10")  # the same operation: not held
        await asyncio.sleep(0.01)  # both in flight; the second answers first
        archive = engine.submit(UNLINK, "1", "10")
        await asyncio.gather(first, second, archive)

    run_virtual(main)
    (slow, fast), (archive,) = sorted(server.sent("create")), server.sent("archive")
    assert slow[0] < fast[0] < fast[1] < slow[1] <= archive[0]


def test_order_holds_through_the_overflow_queue() -> None:
    server = Server()

    async def main() -> list[Any]:
        engine = Engine(server, max_pending=1)
        futures = [
            engine.submit(LINK, "1", "10"),
            engine.submit(UNLINK, "1", "10"),
            engine.submit(LINK, "1", "11"),
            engine.submit(READ, "1"),
        ]
        return await asyncio.gather(*futures)

    assert run_virtual(main) == ["linked", None, "linked", ["11"]]
    assert [action for _, _, action, _ in server.log] == ["create", "archive", "create", "read"]


def test_a_read_waits_for_a_held_write_and_an_unheld_one() -> None:
    server = Server()

    async def main() -> list[str]:
        engine = Engine(server)
        engine.submit(LINK, "1", "10")
        held = engine.submit(UNLINK, "1", "10")  # behind the create
        other = engine.submit(LINK, "1", "12")  # another pair: leaves with the first create
        read = engine.submit(READ, "1")
        result: list[str] = await read
        assert held.done() and other.done()
        return result

    assert run_virtual(main) == ["12"]


def test_a_held_read_whose_caller_gives_up_disturbs_nobody() -> None:
    server = Server()

    async def main() -> list[Any]:
        engine = Engine(server)
        write = engine.submit(LINK, "1", "10")
        gone = engine.submit(READ, "1")
        kept = engine.submit(READ, "1")
        gone.cancel()
        answers = await asyncio.gather(write, kept)
        await engine.coalescer.aclose()
        return answers

    assert run_virtual(main) == ["linked", ["10"]]


def test_follow_ups_of_different_batches_share_requests() -> None:
    server = Server(latency=0.04, page_size=3)
    server.slow["1"] = 0.05
    server.links["1"] = {str(10 + n) for n in range(7)}  # 3 pages
    server.links["2"] = {str(20 + n) for n in range(4)}  # 2 pages

    async def main() -> list[list[str]]:
        engine = Engine(server)
        first = engine.submit(READ, "1")
        await asyncio.sleep(0.006)
        second = engine.submit(READ, "2")  # another batch, answered first
        return list(await asyncio.gather(first, second))

    assert run_virtual(main) == [sorted(server.links["1"]), sorted(server.links["2"])]
    reads = [inputs for _, _, inputs in sorted(server.sent("read"), key=lambda r: r[0])]
    assert reads == [[["1", None]], [["2", None]], [["2", "3"], ["1", "3"]], [["1", "6"]]]


def test_a_request_carries_a_record_once() -> None:
    server = Server(page_size=3)
    server.links["1"] = {str(10 + n) for n in range(7)}  # 3 pages

    async def main() -> list[list[str]]:
        engine = Engine(server)
        first = engine.submit(READ, "1")
        await asyncio.sleep(0.057)  # answered: its follow-up waits in the open batch
        again = engine.submit(READ, "1")  # the same record, from its first page
        return list(await asyncio.gather(first, again))

    first, again = run_virtual(main)
    assert first == again == sorted(server.links["1"]) and first is not again
    reads = [inputs for _, _, inputs in sorted(server.sent("read"), key=lambda r: r[0])]
    assert reads[1:3] == [[["1", "3"]], [["1", None]]]  # one batch, two requests


def test_pages_stop_when_every_caller_gave_up_and_close_finishes_the_rest() -> None:
    server = Server(page_size=3)
    server.links["1"] = {str(10 + n) for n in range(9)}  # 3 pages
    server.links["2"] = {str(20 + n) for n in range(9)}

    async def main() -> list[str]:
        engine = Engine(server)
        gone = engine.submit(READ, "1")
        kept = engine.submit(READ, "2")
        await asyncio.sleep(0.056)  # both have their first page; follow-ups wait
        gone.cancel()
        await engine.coalescer.aclose()
        assert engine.coalescer.pending == 0
        result: list[str] = kept.result()
        return result

    assert run_virtual(main) == sorted(server.links["2"])
    # Record 1's follow-up already waiting went out with its batch; no page after it.
    asked = [item for _, _, inputs in server.sent("read") for item in inputs]
    assert asked == [["1", None], ["2", None], ["1", "3"], ["2", "3"], ["2", "6"]]


def test_abort_fails_callers_waiting_for_more_pages() -> None:
    server = Server(page_size=3)
    server.links["1"] = {str(10 + n) for n in range(9)}

    async def main() -> BaseException | None:
        engine = Engine(server, linger=1.0)
        read = engine.submit(READ, "1")
        await asyncio.sleep(1.1)  # the first page is in; the follow-up lingers
        engine.coalescer.abort()
        await asyncio.sleep(0)
        assert engine.coalescer.pending == 0
        return read.exception()

    assert isinstance(run_virtual(main), ClientClosedError)


def test_a_pair_is_one_whichever_side_names_it() -> None:
    server = Server()
    reverse = (TYPES[1], TYPES[0])

    async def main() -> None:
        engine = Engine(server)
        link = engine.submit(LINK, "1", "10")
        unlink = engine.submit(UNLINK, "10", "1", types=reverse)  # the same pair, named back
        read = engine.submit(READ, "10", types=reverse)  # company 10's contacts
        await asyncio.gather(link, unlink, read)

    run_virtual(main)
    (create,), (archive,), (read,) = (server.sent(a) for a in ("create", "archive", "read"))
    assert create[1] <= archive[0] and archive[1] <= read[0]

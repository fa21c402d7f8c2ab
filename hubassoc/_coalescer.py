"""Coalescing single awaits of every batch operation into batch requests.

Each :meth:`Coalescer.enqueue` adds one input to the open batch of its
``(operation, from_type, to_type)`` and awaits a future of its own. A batch
becomes due when it holds as many distinct inputs as one request of its
operation carries, or when its oldest input has waited ``linger`` seconds;
due batches leave in order as soon as one of the ``max_concurrency`` request
slots (one limit across every operation) is free, and a due batch keeps
filling while it waits for a slot. Identical inputs waiting together are sent
once and answer every caller (each with its own copy of a mutable result).

* Pages: an input whose answer has another page (a read) goes back into the
  open batch of its key as its follow-up, with what its callers have so far;
  the follow-ups of many batches, and new inputs, share the next requests, up
  to :data:`MAX_PAGES` pages, and no page is asked once every caller gave up.
* Flow control: at most ``max_pending`` callers are admitted into batches at
  once; later ones wait, in order, in an overflow queue (holding nothing but
  their input and their future) and are admitted as answers free room.
* Order: once more than one operation is in use, writes on one pair leave in
  the order submitted and reads wait for their record's earlier writes
  (:mod:`hubassoc._ordering`); until then nothing is checked.
* Cancellation: a caller that is cancelled loses only its own wait; its input
  still goes out with the batch, and resolving a batch skips futures that are
  already done, so no neighbour is disturbed and no "exception was never
  retrieved" warning can appear.
* Errors: each caller gets its own instance of its error (a copy where one
  error answers many callers), so tracebacks never pile up on a shared
  object and no caller can change another's error.
* A DAILY 429 fails every waiting input at once, and every later enqueue
  (the pacer says so: it is the one owner of the daily stop).
* :meth:`Coalescer.aclose` stops intake, sends everything pending regardless
  of linger, and waits until every caller has its answer; :meth:`Coalescer.abort`
  (a close that is cancelled or out of time) fails what never left with
  :class:`ClientClosedError` and cancels what is in flight.

Timers come from the running loop, so tests drive it on a virtual clock.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hubassoc._batch import Batch, BatchKey, More, Waiter, Waiters
from hubassoc._errors import (
    ClientClosedError,
    DailyLimitError,
    DecodingError,
    HubSpotError,
    fresh_copy,
)
from hubassoc._events import BatchSettled, Emitter
from hubassoc._operations import Operation
from hubassoc._ordering import PairOrder

if TYPE_CHECKING:
    from hubassoc._sender import BatchSender

__all__ = ["BatchKey", "Coalescer", "DailyStop"]


class DailyStop(Protocol):
    """Where the coalescer learns that the daily limit stopped the client (the pacer)."""

    daily_error: DailyLimitError | None


#: Most pages one input may be answered in (pages hold 100 or more: ample for any
#: record HubSpot lets exist, and a bound against a server whose pages never end).
MAX_PAGES = 10_000


_MISSING: Any = object()
#: ``Coalescer._kind`` once more than one operation was used.
_MIXED: Any = object()


class Coalescer:
    """Turns single awaits into batches; see the module docstring."""

    __slots__ = (
        "_admitted",
        "_closing",
        "_emit",
        "_flying",
        "_in_flight",
        "_kind",
        "_loop",
        "_open",
        "_order",
        "_overflow",
        "_pacer",
        "_ready",
        "_sender",
        "_tasks",
        "linger",
        "max_concurrency",
        "max_pending",
    )

    def __init__(
        self,
        sender: BatchSender,
        pacer: DailyStop,
        *,
        linger: float,
        max_pending: int,
        emit: Emitter | None = None,
    ) -> None:
        self._sender = sender
        self._pacer = pacer
        self._emit = emit
        self.linger = linger
        self.max_pending = max_pending
        # The sender owns the concurrency limit; dispatching no more batches
        # than it lets through keeps due batches filling while they wait.
        self.max_concurrency = sender.max_concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open: dict[BatchKey, Batch] = {}
        self._ready: deque[Batch] = deque()
        self._flying: dict[Batch, None] = {}  # in flight, in dispatch order
        self._in_flight = 0
        self._admitted = 0
        # Callers beyond max_pending, in arrival order: (key, input, their future).
        self._overflow: deque[tuple[BatchKey, Hashable, asyncio.Future[Any]]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        # The one operation used so far (None before any, _MIXED after a second),
        # and the order kept between operations once there are several.
        self._kind: Any = None
        self._order: PairOrder | None = None

    def __repr__(self) -> str:
        open_inputs = sum(len(b.waiters) for b in self._open.values())
        order = f" {self._order!r}" if self._order is not None else ""
        return (
            f"<Coalescer open_batches={len(self._open)} open_inputs={open_inputs} "
            f"ready={len(self._ready)} in_flight={self._in_flight}/{self.max_concurrency} "
            f"admitted={self._admitted}/{self.max_pending} "
            f"waiting_for_room={len(self._overflow)}{order}"
            f"{' closing' if self._closing else ''}>"
        )

    @property
    def pending(self) -> int:
        """Callers admitted and not yet answered."""
        return self._admitted

    def enqueue(self, key: BatchKey, item: Hashable) -> asyncio.Future[Any]:
        """Add ``item`` to its batch, or to the overflow queue; return its caller's future.

        The hot path of every coalesced call: no coroutine of its own, so a
        caller pays for one await, not two. A caller beyond ``max_pending``
        waits on the same future: room is granted to it, in order, without
        waking it.

        Raises:
            ClientClosedError: the client is closing or closed.
            DailyLimitError: the daily limit was reached earlier.
        """
        if self._closing:
            raise ClientClosedError("the client is closed; create a new AssociationsClient")
        daily = self._pacer.daily_error
        if daily is not None:
            raise fresh_copy(daily)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if key[0] is not self._kind:
            self._new_kind(key[0])
        if self._admitted >= self.max_pending or self._overflow:
            self._overflow.append((key, item, future))
        else:
            self._admitted += 1
            if self._order is None:
                self._add(key, item, future)
            else:
                self._order.admit(key, item, future)
        return future

    def _new_kind(self, op: Operation[Any, Any]) -> None:
        """The first operation, or a second one: from then on, keep order."""
        if self._kind is None:
            self._kind = op
        elif self._kind is not _MIXED:
            self._kind = _MIXED
            self._order = PairOrder(self._add)
            # What is already on its way was sent before order was kept.
            self._order.index(dict.fromkeys([*self._flying, *self._ready, *self._open.values()]))

    def _add(self, key: BatchKey, item: Hashable, future: Waiter, callers: int = 1) -> Batch:
        """Put an admitted caller's input (or ``callers`` of them waiting for
        more pages) into the open batch of its key."""
        batch = self._open.get(key)
        if batch is None:
            loop = self._loop
            assert loop is not None
            batch = self._open[key] = Batch(key, self._sender.size_for(key[0]))
            batch.timer = loop.call_at(loop.time() + self.linger, self._make_due, batch)
        waiters = batch.waiters
        existing = waiters.get(item)
        if existing is None:
            waiters[item] = future
            batch.callers += callers
            if len(waiters) >= batch.size:
                self._make_due(batch, full=True)
            return batch
        if isinstance(existing, list):
            existing.append(future)
        else:
            waiters[item] = [existing, future]
        batch.callers += callers
        return batch

    def _grant_room(self) -> None:
        """Admit callers from the overflow queue while there is room."""
        overflow = self._overflow
        while overflow and self._admitted < self.max_pending:
            key, item, future = overflow.popleft()
            if not future.done():  # (done: cancelled while it waited)
                self._admitted += 1
                if self._order is None:
                    self._add(key, item, future)
                else:
                    self._order.admit(key, item, future)

    def _make_due(self, batch: Batch, full: bool = False) -> None:
        """Let ``batch`` leave at the next free slot (it keeps filling until then)."""
        if full:
            self._detach(batch)
        if not batch.queued:
            batch.queued = True
            self._ready.append(batch)
            self._dispatch()

    def _detach(self, batch: Batch) -> None:
        """Close ``batch`` to new inputs."""
        if batch.open:
            batch.open = False
            if self._open.get(batch.key) is batch:
                del self._open[batch.key]
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None

    def _dispatch(self) -> None:
        ready = self._ready
        loop = self._loop
        assert loop is not None
        while ready and self._in_flight < self.max_concurrency:
            batch = ready.popleft()
            self._detach(batch)
            self._in_flight += 1
            self._flying[batch] = None
            task = loop.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: Batch) -> None:
        try:
            try:
                results, errors, more = await self._sender.send(
                    batch.op, batch.from_type, batch.to_type, list(batch.waiters)
                )
            except BaseException as exc:
                _fail(batch, exc)
                if self._emit is not None:
                    self._settled(batch, 0)
                if isinstance(exc, DailyLimitError):
                    self._fail_everything(exc)
                if not isinstance(exc, Exception):
                    raise  # cancellation or interpreter exit: let it through
                return
            if self._emit is not None:
                self._settled(batch, len(results))
            op = batch.op
            for item, waiting in batch.waiters.items():
                result = results.get(item, _MISSING)
                if result is _MISSING:
                    error = errors[item]
                    _resolve(waiting, None, error)
                    if isinstance(error, DailyLimitError):
                        self._fail_everything(error)
                elif more and item in more:
                    self._ask_more(batch.key, more[item], waiting, result)
                elif isinstance(waiting, asyncio.Future):
                    if not waiting.done():  # (done: its caller was cancelled)
                        waiting.set_result(result)
                else:
                    _resolve(waiting, result, None, op.share, op.merge)
        finally:
            self._in_flight -= 1
            del self._flying[batch]
            self._admitted -= batch.callers
            if self._order is not None:
                self._order.settled(batch)
            self._grant_room()
            self._dispatch()

    def _ask_more(self, key: BatchKey, follow_up: Hashable, waiting: Waiters, page: Any) -> None:
        """Put the callers of an input whose answer has another page back into
        the open batch of its key, under ``follow_up``: the follow-ups of many
        inputs (and new inputs) share the next requests."""
        merge = key[0].merge
        assert merge is not None, f"{key[0].name} answered with more pages but merges none"
        waiters = waiting if isinstance(waiting, list) else [waiting]
        futures = [w for w in waiters if not isinstance(w, More)]
        going = [w for w in waiters if isinstance(w, More)]
        for earlier in going:
            earlier.so_far = merge(earlier.so_far, page)
            earlier.pages += 1
        if futures:
            going.append(More(page, futures[0] if len(futures) == 1 else futures, len(futures)))
        for more in going:
            if more.gone():
                continue
            if more.pages > MAX_PAGES:
                _resolve(more.waiting, None, DecodingError(f"more than {MAX_PAGES} pages"))
                continue
            self._admitted += more.callers
            self._add(key, follow_up, more, more.callers)

    def _settled(self, batch: Batch, succeeded: int) -> None:
        assert self._emit is not None
        inputs = len(batch.waiters)
        self._emit(
            BatchSettled(
                from_type=batch.from_type,
                to_type=batch.to_type,
                pairs=inputs,
                succeeded=succeeded,
                failed=inputs - succeeded,
                pending=self._admitted - batch.callers + len(self._overflow),
                operation=batch.op.name,
            )
        )

    def abort(self) -> None:
        """Close now: fail every caller whose input never left with
        :class:`ClientClosedError`, and cancel the batches in flight (their
        callers get a :class:`ClientClosedError` saying HubSpot may have acted)."""
        self._closing = True
        self._fail_everything(ClientClosedError("the client was closed before this call was sent"))
        for task in self._tasks:
            task.cancel()

    def _fail_everything(self, error: HubSpotError) -> None:
        """Answer every input that has not left with ``error``, without sending it
        (after a DAILY 429, or when closing)."""
        if self._order is not None:
            self._admitted -= self._order.fail_held(error)
        # A due batch may also still be open: take each batch once.
        batches = dict.fromkeys([*self._ready, *self._open.values()])
        self._ready.clear()
        for batch in batches:
            self._detach(batch)
            _fail(batch, error)
            self._admitted -= batch.callers
        while self._overflow:
            future = self._overflow.popleft()[2]
            if not future.done():
                future.set_exception(fresh_copy(error))

    async def aclose(self) -> None:
        """Stop intake, send everything pending now, and wait for every answer."""
        self._closing = True
        loop = self._loop
        if loop is None:
            return
        for batch in list(self._open.values()):
            self._make_due(batch, full=True)
        while self._admitted or self._overflow or self._tasks:
            # Callers still waiting for room (or for earlier writes of their
            # pair) get it as batches finish; new batches they open are
            # flushed on the next pass.
            self._grant_room()
            for batch in list(self._open.values()):
                self._make_due(batch, full=True)
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            else:
                await asyncio.sleep(0)


def _resolve(
    waiting: Waiter | Sequence[Waiter],
    result: Any,
    error: HubSpotError | None,
    share: Callable[[Any], Any] | None = None,
    merge: Callable[[Any, Any], Any] | None = None,
) -> None:
    """Answer every caller of an input: with ``result`` (the callers of earlier
    pages with their pages and it, through ``merge``), or a copy of ``error``."""
    first = True
    for waiter in waiting if isinstance(waiting, Sequence) else (waiting,):
        if isinstance(waiter, More):
            if error is not None:
                _resolve(waiter.waiting, None, error)
            else:
                assert merge is not None  # only an operation with pages has More
                _resolve(waiter.waiting, merge(waiter.so_far, result), None, share)
        elif waiter.done():  # its caller was cancelled
            continue
        elif error is not None:
            # Each caller its own instance: a shared one would pile up
            # tracebacks and let callers change each other's error.
            waiter.set_exception(fresh_copy(error))
        elif first or share is None:
            waiter.set_result(result)
            first = False
        else:
            waiter.set_result(share(result))  # each caller its own (mutable) result


def _fail(batch: Batch, error: BaseException) -> None:
    if not isinstance(error, HubSpotError):
        # Cancelled in flight (the client is closing) or an unexpected failure:
        # callers still get a HubSpotError, and the cause when there is one.
        if isinstance(error, asyncio.CancelledError):
            error = ClientClosedError(
                "the client was closed before this call was answered; HubSpot may have acted on it"
            )
        else:
            unexpected = HubSpotError(f"the batch failed unexpectedly: {type(error).__name__}")
            unexpected.__cause__ = error
            error = unexpected
    for waiting in batch.waiters.values():
        _resolve(waiting, None, error)

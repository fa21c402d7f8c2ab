"""Coalescing single awaited associations into ``batch/associate/default`` calls.

Each :meth:`Coalescer.enqueue` adds one pair to the open batch of its
``(from_type, to_type)`` and awaits a future of its own. A batch becomes due
when it holds ``max_batch_size`` distinct pairs or when its oldest pair has
waited ``linger`` seconds; due batches leave in order as soon as one of the
``max_concurrency`` request slots is free, and a due batch keeps filling
while it waits for a slot. Identical pairs waiting together are sent once and
answer every caller.

* Flow control: at most ``max_pending`` callers are admitted into batches at
  once; later ones wait, in order, in an overflow queue (holding nothing but
  their pair and their future) and are admitted as answers free room.
* Cancellation: a caller that is cancelled loses only its own wait; its pair
  still goes out with the batch, and resolving a batch skips futures that are
  already done, so no neighbour is disturbed and no "exception was never
  retrieved" warning can appear.
* Errors: each caller gets its own instance of its error (a copy where one
  error answers many callers), so tracebacks never pile up on a shared
  object and no caller can change another's error.
* A DAILY 429 fails every waiting pair at once, and every later enqueue
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
from typing import Protocol

from hubassoc._default_batches import DefaultBatchSender, Pair
from hubassoc._errors import ClientClosedError, DailyLimitError, HubSpotError, fresh_copy
from hubassoc._events import BatchSettled, Emitter
from hubassoc._models import AssociationSpec

__all__ = ["Coalescer", "DailyStop"]


class DailyStop(Protocol):
    """Where the coalescer learns that the daily limit stopped the client (the pacer)."""

    daily_error: DailyLimitError | None


_Waiters = asyncio.Future[AssociationSpec] | list[asyncio.Future[AssociationSpec]]


class _Batch:
    """An open or due batch of one ``(from_type, to_type)``."""

    __slots__ = ("callers", "from_type", "queued", "size", "timer", "to_type", "waiters")

    def __init__(self, from_type: str, to_type: str, size: int) -> None:
        self.from_type = from_type
        self.to_type = to_type
        self.size = size  # pairs that make it full
        # pair -> its caller's future, or the list of futures of identical pairs
        self.waiters: dict[Pair, _Waiters] = {}
        self.callers = 0
        self.timer: asyncio.TimerHandle | None = None
        self.queued = False


class Coalescer:
    """Turns single awaits into batches; see the module docstring."""

    __slots__ = (
        "_admitted",
        "_closing",
        "_emit",
        "_in_flight",
        "_loop",
        "_open",
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
        sender: DefaultBatchSender,
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
        self._open: dict[tuple[str, str], _Batch] = {}
        self._ready: deque[_Batch] = deque()
        self._in_flight = 0
        self._admitted = 0
        # Callers beyond max_pending, in arrival order: (key, pair, their future).
        self._overflow: deque[tuple[tuple[str, str], Pair, asyncio.Future[AssociationSpec]]] = (
            deque()
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def __repr__(self) -> str:
        open_pairs = sum(len(b.waiters) for b in self._open.values())
        return (
            f"<Coalescer open_batches={len(self._open)} open_pairs={open_pairs} "
            f"ready={len(self._ready)} in_flight={self._in_flight}/{self.max_concurrency} "
            f"admitted={self._admitted}/{self.max_pending} "
            f"waiting_for_room={len(self._overflow)}{' closing' if self._closing else ''}>"
        )

    @property
    def pending(self) -> int:
        """Callers admitted and not yet answered."""
        return self._admitted

    def enqueue(self, key: tuple[str, str], pair: Pair) -> asyncio.Future[AssociationSpec]:
        """Add ``pair`` to its batch, or to the overflow queue; return its caller's future.

        The hot path of :meth:`AssociationsClient.associate_default`: no
        coroutine of its own, so a caller pays for one await, not two. A
        caller beyond ``max_pending`` waits on the same future: room is
        granted to it, in order, without waking it.

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
        future: asyncio.Future[AssociationSpec] = loop.create_future()
        if self._admitted >= self.max_pending or self._overflow:
            self._overflow.append((key, pair, future))
        else:
            self._admitted += 1
            self._add(key, pair, future)
        return future

    def _add(
        self, key: tuple[str, str], pair: Pair, future: asyncio.Future[AssociationSpec]
    ) -> None:
        """Put an admitted caller's pair into the open batch of its type pair."""
        loop = self._loop
        assert loop is not None
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch(key[0], key[1], self._sender.max_batch_size)
            batch.timer = loop.call_at(loop.time() + self.linger, self._make_due, batch)
        waiters = batch.waiters
        existing = waiters.get(pair)
        if existing is None:
            waiters[pair] = future
            if len(waiters) >= batch.size:
                self._make_due(batch, full=True)
        elif isinstance(existing, list):
            existing.append(future)
        else:
            waiters[pair] = [existing, future]
        batch.callers += 1

    def _grant_room(self) -> None:
        """Admit callers from the overflow queue while there is room."""
        overflow = self._overflow
        while overflow and self._admitted < self.max_pending:
            key, pair, future = overflow.popleft()
            if not future.done():  # (done: cancelled while it waited)
                self._admitted += 1
                self._add(key, pair, future)

    def _make_due(self, batch: _Batch, full: bool = False) -> None:
        """Let ``batch`` leave at the next free slot (it keeps filling until then)."""
        if full:
            self._detach(batch)
        if not batch.queued:
            batch.queued = True
            self._ready.append(batch)
            self._dispatch()

    def _detach(self, batch: _Batch) -> None:
        """Close ``batch`` to new pairs."""
        key = (batch.from_type, batch.to_type)
        if self._open.get(key) is batch:
            del self._open[key]
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
            task = loop.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: _Batch) -> None:
        try:
            pairs = list(batch.waiters)
            try:
                results, errors = await self._sender.send(batch.from_type, batch.to_type, pairs)
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
            for pair, waiting in batch.waiters.items():
                result = results.get(pair)
                if result is not None:
                    if isinstance(waiting, list):
                        _resolve(waiting, result, None)
                    elif not waiting.done():  # (done: its caller was cancelled)
                        waiting.set_result(result)
                else:
                    error = errors[pair]
                    _resolve(waiting, None, error)
                    if isinstance(error, DailyLimitError):
                        self._fail_everything(error)
        finally:
            self._in_flight -= 1
            self._admitted -= batch.callers
            self._grant_room()
            self._dispatch()

    def _settled(self, batch: _Batch, succeeded: int) -> None:
        assert self._emit is not None
        pairs = len(batch.waiters)
        self._emit(
            BatchSettled(
                from_type=batch.from_type,
                to_type=batch.to_type,
                pairs=pairs,
                succeeded=succeeded,
                failed=pairs - succeeded,
                pending=self._admitted - batch.callers + len(self._overflow),
            )
        )

    def abort(self) -> None:
        """Close now: fail every caller whose pair never left with
        :class:`ClientClosedError`, and cancel the batches in flight (their
        callers get a :class:`ClientClosedError` saying HubSpot may have acted)."""
        self._closing = True
        batches = {id(b): b for b in (*self._ready, *self._open.values())}
        self._ready.clear()
        never_sent = ClientClosedError("the client was closed before this association was sent")
        for batch in batches.values():
            self._detach(batch)
            _fail(batch, never_sent)
            self._admitted -= batch.callers
        while self._overflow:
            future = self._overflow.popleft()[2]
            if not future.done():
                future.set_exception(fresh_copy(never_sent))
        for task in self._tasks:
            task.cancel()

    def _fail_everything(self, error: DailyLimitError) -> None:
        """After a DAILY 429: answer every waiting pair now, without further requests."""
        # A due batch may also still be open: take each batch once.
        batches = {id(b): b for b in (*self._ready, *self._open.values())}
        self._ready.clear()
        for batch in batches.values():
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
            # Callers still waiting for room get it as batches finish; new
            # batches they open are flushed on the next pass.
            self._grant_room()
            for batch in list(self._open.values()):
                self._make_due(batch, full=True)
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            else:
                await asyncio.sleep(0)


def _resolve(waiting: _Waiters, result: AssociationSpec | None, error: HubSpotError | None) -> None:
    futures = waiting if isinstance(waiting, list) else (waiting,)
    for future in futures:
        if future.done():  # its caller was cancelled
            continue
        if error is None:
            future.set_result(result)  # type: ignore[arg-type]
        else:
            # Each caller its own instance: a shared one would pile up
            # tracebacks and let callers change each other's error.
            future.set_exception(fresh_copy(error))


def _fail(batch: _Batch, error: BaseException) -> None:
    if not isinstance(error, HubSpotError):
        # Cancelled in flight (the client is closing) or an unexpected failure:
        # callers still get a HubSpotError, and the cause when there is one.
        if isinstance(error, asyncio.CancelledError):
            error = ClientClosedError(
                "the client was closed before this association was answered; "
                "HubSpot may have acted on it"
            )
        else:
            unexpected = HubSpotError(f"the batch failed unexpectedly: {type(error).__name__}")
            unexpected.__cause__ = error
            error = unexpected
    for waiting in batch.waiters.values():
        _resolve(waiting, None, error)

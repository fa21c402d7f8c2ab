"""Order per pair and read-your-writes for the coalescing engine.

Two guarantees, kept only once a client uses more than one operation (a client
that only ever associates, or only reads, pays nothing for them):

* **Order per pair.** Writes on one pair (``from_type, to_type, from_id,
  to_id``) are sent in the order they were submitted: a write of another kind
  than the latest unsettled one on its pair is held until that one has
  settled. A write of the same kind whose batch is still open simply joins it
  (it leaves with it, so order cannot differ).
* **Read your own writes.** A read of ``(from_type, to_type, from_id)`` is held
  until every write from that record to that object type submitted before it
  has settled.

The state is one dict: per record, per ``to_id``, the latest unsettled write
(an :class:`_Entry`). An entry settles when its batch has its answer *and*
everything it was held behind has settled, so waiting on the latest entry of
a pair is waiting on all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from hubassoc._errors import HubSpotError, fresh_copy

if TYPE_CHECKING:
    from hubassoc._coalescer import BatchKey, _Batch

__all__ = ["PairOrder"]

Record = tuple[str, str, str]


class _Entry:
    """A write not yet settled, or a held read (``to_id`` None)."""

    __slots__ = ("batch", "dead", "followers", "holds", "record", "to_id", "waiting")

    def __init__(self, record: Record, to_id: str | None, holds: int) -> None:
        self.record = record
        self.to_id = to_id
        #: What it still waits for: earlier entries, then (once sent) its batch.
        self.holds = holds
        #: Entries held until this one settles.
        self.followers: list[_Entry] = []
        #: (key, input, future) while held; None once in a batch.
        self.waiting: tuple[BatchKey, Hashable, asyncio.Future[Any]] | None = None
        #: The batch it went out in, once it did.
        self.batch: _Batch | None = None
        self.dead = False


class PairOrder:
    """Holds writes behind earlier writes of their pair and reads behind their
    record's writes; see the module docstring."""

    __slots__ = ("_add", "_held", "_records")

    def __init__(self, add: Callable[[BatchKey, Hashable, asyncio.Future[Any]], _Batch]) -> None:
        #: The coalescer's way of putting an admitted input into its open batch.
        self._add = add
        self._records: dict[Record, dict[str, _Entry]] = {}
        self._held: dict[_Entry, None] = {}  # an ordered set

    def __repr__(self) -> str:
        writes = sum(len(pairs) for pairs in self._records.values())
        return f"<PairOrder unsettled_pairs={writes} held={len(self._held)}>"

    def index(self, batches: Iterable[_Batch]) -> None:
        """Record the writes of ``batches`` (in the order they were sent), made
        before order was kept: later writes and reads wait for them."""
        for batch in batches:
            op = batch.op
            if not op.writes:
                continue
            for item in batch.waiters:
                from_id, to_id = op.sides(item)
                assert to_id is not None
                record = (batch.from_type, batch.to_type, from_id)
                pairs = self._records.setdefault(record, {})
                entry = _Entry(record, to_id, 1)
                earlier = pairs.get(to_id)
                if earlier is not None:  # the same pair in two batches of one operation
                    entry.holds += 1
                    earlier.followers.append(entry)
                pairs[to_id] = entry
                _join(entry, batch)

    def admit(self, key: BatchKey, item: Hashable, future: asyncio.Future[Any]) -> None:
        """Put an admitted input into its batch now, or hold it behind earlier writes."""
        op, from_type, to_type = key
        from_id, to_id = op.sides(item)
        record = (from_type, to_type, from_id)
        pairs = self._records.get(record)
        if to_id is None or not op.writes:
            if not pairs:
                self._add(key, item, future)
            else:
                self._hold(_Entry(record, None, len(pairs)), pairs.values(), key, item, future)
            return
        last = pairs.get(to_id) if pairs else None
        batch = last.batch if last is not None else None
        if batch is not None and batch.open and batch.op is op:
            self._add(key, item, future)  # leaves with the latest write of its pair
            return
        if pairs is None:
            pairs = self._records[record] = {}
        entry = pairs[to_id] = _Entry(record, to_id, 1)
        if last is None:
            _join(entry, self._add(key, item, future))
        else:
            self._hold(entry, (last,), key, item, future)

    def _hold(
        self,
        entry: _Entry,
        behind: Iterable[_Entry],
        key: BatchKey,
        item: Hashable,
        future: asyncio.Future[Any],
    ) -> None:
        entry.waiting = (key, item, future)
        for earlier in behind:
            earlier.followers.append(entry)
        self._held[entry] = None

    def settled(self, batch: _Batch) -> None:
        """``batch`` has its answer: settle its writes, releasing what they held."""
        for entry in batch.entries or ():
            entry.holds -= 1
            if not entry.holds:
                self._step(entry)

    def _step(self, entry: _Entry) -> None:
        """``entry`` waits for nothing more: send it if held, else it has settled."""
        if entry.dead:
            return
        waiting = entry.waiting
        if waiting is not None:
            entry.waiting = None
            del self._held[entry]
            batch = self._add(*waiting)
            if entry.to_id is not None:
                entry.holds = 1
                _join(entry, batch)
            return
        self._forget(entry)
        followers, entry.followers = entry.followers, []
        for follower in followers:
            follower.holds -= 1
            if not follower.holds:
                self._step(follower)

    def _forget(self, entry: _Entry) -> None:
        pairs = self._records.get(entry.record)
        if pairs is not None and entry.to_id is not None and pairs.get(entry.to_id) is entry:
            del pairs[entry.to_id]
            if not pairs:
                del self._records[entry.record]

    def fail_held(self, error: HubSpotError) -> int:
        """Answer every held input with (a copy of) ``error``, never to be sent
        (a daily stop, a close); return how many callers that was."""
        failed = 0
        for entry in self._held:
            entry.dead = True
            self._forget(entry)
            assert entry.waiting is not None
            future = entry.waiting[2]
            entry.waiting = None
            failed += 1
            if not future.done():
                future.set_exception(fresh_copy(error))
        self._held.clear()
        return failed


def _join(entry: _Entry, batch: _Batch) -> None:
    entry.batch = batch
    if batch.entries is None:
        batch.entries = [entry]
    else:
        batch.entries.append(entry)

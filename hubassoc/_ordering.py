"""Order per pair and read-your-writes for the coalescing engine.

Two guarantees, kept only once a client uses more than one operation (a client
that only ever associates, or only reads, pays nothing for them):

* **Order per pair.** Writes on one pair (``from_type, to_type, from_id,
  to_id``) are sent in the order they were submitted: a write that meets an
  unsettled write of its pair is held until that one has settled, unless
  both are of one operation and the earlier one's batch is still open (then
  it joins that batch and leaves with it, so order cannot differ).
* **Read your own writes.** A read of ``(from_type, to_type, from_id)`` is held
  until every write from that record to that object type submitted before it
  has settled.

A pair is one association whichever side names it (HubSpot lists it from
both records), so a write is kept under both of its records: a write
``contacts 1 -> companies 2`` orders an archive ``companies 2 -> contacts 1``
and holds a read of company 2's contacts. Object types are compared as
spelled (``contacts`` and ``0-1`` are not known to be one type).

The state is one dict: per record, per other record, the latest unsettled
write of the pair. That is its batch (the common case: nothing held, nothing
allocated per write) or, while it is held, an :class:`Entry`. A batch or an
entry *settles* when it has its answer (or was sent and answered) and
everything it waited for has settled, so waiting on the latest write of a
pair is waiting on all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from hubassoc._batch import Batch, BatchKey, Entry, Record
from hubassoc._errors import HubSpotError, fresh_copy

__all__ = ["PairOrder"]

#: The latest unsettled write of a pair: its batch, or its held entry.
_Write = Batch | Entry


class PairOrder:
    """Holds writes behind earlier writes of their pair and reads behind their
    record's writes; see the module docstring.

    Relies on the inputs' shape: a write's input starts with ``(from_id,
    to_id)``, a read's with ``from_id`` (:class:`hubassoc._operations.Operation`).
    """

    __slots__ = ("_add", "_held", "_records")

    def __init__(self, add: Callable[[BatchKey, Hashable, asyncio.Future[Any]], Batch]) -> None:
        #: The coalescer's way of putting an admitted input into its open batch.
        self._add = add
        self._records: dict[Record, dict[str, _Write]] = {}
        self._held: dict[Entry, None] = {}  # an ordered set

    def __repr__(self) -> str:
        writes = sum(len(pairs) for pairs in self._records.values())
        return f"<PairOrder unsettled_pairs={writes} held={len(self._held)}>"

    def index(self, batches: Iterable[Batch]) -> None:
        """Record the writes of ``batches`` (in the order they were sent), made
        before order was kept: later writes and reads wait for them."""
        for batch in batches:
            if not batch.op.writes:
                continue
            batch.ordered = True
            for item in batch.waiters:
                record, to_id = (batch.from_type, batch.to_type, item[0]), item[1]  # type: ignore[index]
                earlier = self._records.get(record, {}).get(to_id)
                if earlier is not None and earlier is not batch:
                    # The pair in two batches (or both ways): settle after both.
                    batch.holds += 1
                    earlier.followers.append(batch)
                self._put(record, to_id, batch)

    def admit(self, key: BatchKey, item: Any, future: asyncio.Future[Any]) -> None:
        """Put an admitted input into its batch now, or hold it behind earlier writes."""
        op, from_type, to_type = key
        record = (from_type, to_type, item[0])
        pairs = self._records.get(record)
        if not op.writes:
            if not pairs:
                self._add(key, item, future)
            else:
                self._hold(Entry(record, None, len(pairs), (key, item, future)), pairs.values())
            return
        to_id: str = item[1]
        last = pairs.get(to_id) if pairs is not None else None
        if last is None:  # the common case, written out: nothing to wait for
            batch = self._add(key, item, future)
            batch.ordered = True
            records = self._records
            if pairs is None:
                records[record] = {to_id: batch}
            else:
                pairs[to_id] = batch
            back = (to_type, from_type, to_id)
            pairs = records.get(back)
            if pairs is None:
                records[back] = {item[0]: batch}
            else:
                pairs[item[0]] = batch
        elif not isinstance(last, Entry) and last.open and last.key == key:
            self._add(key, item, future)  # joins the latest write of its pair
        else:
            entry = Entry(record, to_id, 1, (key, item, future))
            self._put(record, to_id, entry)
            self._hold(entry, (last,))

    def _put(
        self, record: Record, to_id: str, write: _Write, instead: _Write | None = None
    ) -> None:
        """Make ``write`` the latest of its pair, kept both ways (a pair is one
        association whichever side names it), unless ``instead`` is given and
        is no longer the latest."""
        records = self._records
        from_type, to_type, from_id = record
        for side, other in ((record, to_id), ((to_type, from_type, to_id), from_id)):
            pairs = records.get(side)
            if pairs is None:
                if instead is None:
                    records[side] = {other: write}
            elif instead is None or pairs.get(other) is instead:
                pairs[other] = write

    def _hold(self, entry: Entry, behind: Iterable[_Write]) -> None:
        for earlier in behind:
            earlier.followers.append(entry)
        self._held[entry] = None

    def settled(self, batch: Batch) -> None:
        """``batch`` has its answer: it settles once nothing earlier holds it."""
        batch.holds -= 1
        if not batch.holds:
            self._settle(batch)

    def _settle(self, batch: Batch) -> None:
        """``batch`` has settled: forget its writes and release what waited for them.

        (A held entry never settles itself: once released it is its batch.)
        """
        if batch.ordered:
            # _forget of every input, written out: the common case's other half.
            records, from_type, to_type = self._records, batch.from_type, batch.to_type
            for item in batch.waiters:
                from_id, to_id = item[0], item[1]  # type: ignore[index]
                for side, other in (
                    ((from_type, to_type, from_id), to_id),
                    ((to_type, from_type, to_id), from_id),
                ):
                    pairs = records.get(side)
                    if pairs is not None and pairs.get(other) is batch:
                        del pairs[other]
                        if not pairs:
                            del records[side]
        followers, batch.followers = batch.followers, []
        for follower in followers:
            follower.holds -= 1
            if follower.holds:
                continue
            if isinstance(follower, Entry):
                self._release(follower)
            else:
                self._settle(follower)  # a batch indexed behind an earlier one

    def _release(self, entry: Entry) -> None:
        """``entry`` waits for nothing more: send it."""
        if entry.dead:
            return
        del self._held[entry]
        batch = self._add(*entry.waiting)
        if entry.to_id is None:
            return  # a read: nothing waits for it
        # From now on the write is its batch.
        batch.ordered = True
        self._put(entry.record, entry.to_id, batch, instead=entry)
        batch.followers.extend(entry.followers)
        entry.followers = []

    def _forget(self, record: Record, to_id: str | None, write: _Write) -> None:
        """``write`` is no longer the latest of its pair (either way), if it was."""
        if to_id is None:
            return  # a read
        records = self._records
        from_type, to_type, from_id = record
        for side, other in ((record, to_id), ((to_type, from_type, to_id), from_id)):
            pairs = records.get(side)
            if pairs is not None and pairs.get(other) is write:
                del pairs[other]
                if not pairs:
                    del records[side]

    def fail_held(self, error: HubSpotError) -> int:
        """Answer every held input with (a copy of) ``error``, never to be sent
        (a daily stop, a close); return how many callers that was."""
        for entry in self._held:
            entry.dead = True
            self._forget(entry.record, entry.to_id, entry)
            future = entry.waiting[2]
            if not future.done():
                future.set_exception(fresh_copy(error))
        failed = len(self._held)
        self._held.clear()
        return failed

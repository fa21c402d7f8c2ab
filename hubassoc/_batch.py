"""The coalescing engine's batches, and the held inputs that wait on them.

A :class:`Batch` is what the coalescer fills and sends; an :class:`Entry` is
an input the pair order holds behind an earlier write (:mod:`hubassoc._ordering`).
They refer to each other (each lists what waits for it to settle), so they
live here, below both the coalescer and the order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

from hubassoc._operations import Operation

__all__ = ["Batch", "BatchKey", "Entry", "More", "Record", "Waiter", "Waiters"]

#: Where an input is batched: ``(operation, from_type, to_type)``.
BatchKey = tuple[Operation[Any, Any], str, str]


#: A record: ``(from_type, to_type, from_id)``.
Record = tuple[str, str, str]


class More:
    """Callers whose input needs another page: what they have so far, and them."""

    __slots__ = ("callers", "pages", "so_far", "waiting")

    def __init__(
        self,
        so_far: Any,
        waiting: asyncio.Future[Any] | list[asyncio.Future[Any]],
        callers: int,
    ) -> None:
        self.so_far = so_far
        self.waiting = waiting
        self.callers = callers
        self.pages = 1

    def gone(self) -> bool:
        """Whether every caller gave up (no page is worth asking for)."""
        waiting = self.waiting
        return all(f.done() for f in waiting) if isinstance(waiting, list) else waiting.done()


#: Who waits for an input: a caller's future, the callers of pages still to come,
#: or a list of them (identical inputs waiting together).
Waiter = asyncio.Future[Any] | More
Waiters = Waiter | list[Waiter]


class Batch:
    """An open or due batch of one ``(operation, from_type, to_type)``."""

    __slots__ = (
        "callers",
        "followers",
        "from_type",
        "holds",
        "key",
        "op",
        "open",
        "ordered",
        "queued",
        "size",
        "timer",
        "to_type",
        "waiters",
    )

    def __init__(self, key: BatchKey, size: int) -> None:
        self.key = key
        self.op, self.from_type, self.to_type = key
        self.size = size  # inputs that make it full
        # input -> its caller's future, or the list of futures of identical inputs
        self.waiters: dict[Hashable, Waiters] = {}
        self.callers = 0
        self.timer: asyncio.TimerHandle | None = None
        self.queued = False
        self.open = True  # still takes inputs
        # Order between operations (hubassoc._ordering), once several are in use:
        #: what it waits for before it settles (its answer, and batches indexed before it),
        self.holds = 1
        #: what waits for it to settle (held inputs, batches indexed after it),
        self.followers: list[Entry | Batch] = []
        #: and whether its writes are in the order's dict.
        self.ordered = False


class Entry:
    """A held input: a write behind an earlier write of its pair, or a read
    (``to_id`` None) behind its record's writes."""

    __slots__ = ("dead", "followers", "holds", "record", "to_id", "waiting")

    def __init__(
        self,
        record: Record,
        to_id: str | None,
        holds: int,
        waiting: tuple[BatchKey, Hashable, asyncio.Future[Any]],
    ) -> None:
        self.record = record
        self.to_id = to_id
        #: Earlier writes it still waits for.
        self.holds = holds
        #: Held inputs (and, for batches indexed late, batches) waiting for it.
        self.followers: list[Entry | Batch] = []
        self.waiting = waiting
        self.dead = False

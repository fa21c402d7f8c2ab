"""An event loop whose clock is virtual: timers fire at once, in order, and nothing sleeps.

When the loop has nothing ready to run, it jumps its clock to the next
timer instead of blocking, so ``asyncio.sleep(10)`` takes no wall time and
every timer fires at exactly its virtual time. Pure logic (the pacer, the
coalescer) is tested on it: deterministic, and no test waits on the wall clock.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_TICK = 1e-7  # virtual seconds one pass of the loop takes


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """A selector that advances the loop's virtual clock instead of blocking."""

    def __init__(self, loop_ref: Callable[[], VirtualClockLoop]) -> None:
        super().__init__()
        self._loop_ref = loop_ref

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        loop = self._loop_ref()
        # Each pass of the loop takes a sliver of virtual time, as on a real
        # clock; code that re-arms a timer for "now" (float rounding) would
        # otherwise spin forever.
        loop.advance(_TICK)
        events = super().select(0)
        if events:
            return events
        if timeout is None:
            raise RuntimeError("virtual clock: the loop would block forever (a deadlock)")
        if timeout > _TICK:
            loop.advance(timeout - _TICK)
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector event loop on a virtual clock that starts at 1000.0."""

    def __init__(self) -> None:
        self._now = 1000.0
        super().__init__(selector=_JumpingSelector(lambda: self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._now += seconds


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to completion on a fresh :class:`VirtualClockLoop`."""
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

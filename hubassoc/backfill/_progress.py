"""Showing a run's progress: a live bar on a terminal, plain log lines elsewhere.

:func:`make_reporter` picks one:

* nothing with ``quiet``;
* a ``rich`` progress bar (done/total, pairs per second, ETA, retries, 429s)
  when stderr is a terminal and ``rich`` is installed (``pip install
  hubassoc[cli]``; imported only then);
* otherwise a plain line every ``interval`` seconds, for logs and CI::

    hubassoc backfill: 120,000/1,000,000 rows (12.0%), 9,850 pairs/s, ETA 1m29s, retries 0, 429s 0

Both read the runner's :class:`~hubassoc.backfill.Counters` and the client's
:class:`~hubassoc.TransportStats` on a timer of the running loop; neither
slows the pipeline down. With a :class:`PacingWatch` fed the client's events
(``on_event``), they also show how long the pacer held requests and how much
of HubSpot's rolling window is in use::

    ..., retries 0, 429s 0, paced 4.1 s, window 96/100
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from hubassoc import TransportStats
from hubassoc.backfill._runner import Counters
from hubassoc.events import PacerWaited, RequestSent

__all__ = [
    "PacingWatch",
    "PlainReporter",
    "Reporter",
    "ReporterLogHandler",
    "format_duration",
    "make_reporter",
]

StatsSource = Callable[[], TransportStats | None]


def format_duration(seconds: float) -> str:
    """``89.6`` -> ``"1m30s"``; ``4000`` -> ``"1h06m"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class PacingWatch:
    """What the client's events say about pacing: time held by the pacer, the window in use.

    Pass it as the client's ``on_event`` (it is called on the event loop, and
    quick); the reporters read it.
    """

    __slots__ = ("in_window", "limit", "waited")

    def __init__(self) -> None:
        self.waited = 0.0  #: seconds the pacer held requests, all together
        self.in_window: int | None = None  #: requests in the rolling window at the last send
        self.limit: int | None = None  #: requests the window allows

    def __repr__(self) -> str:
        return f"<PacingWatch waited={self.waited:.3f} window={self.in_window}/{self.limit}>"

    def __call__(self, event: object) -> None:
        kind = type(event)
        if kind is PacerWaited:
            assert isinstance(event, PacerWaited)
            self.waited += event.seconds
        elif kind is RequestSent:
            assert isinstance(event, RequestSent)
            if event.in_window is not None and event.limit:
                self.in_window, self.limit = event.in_window, event.limit

    def text(self) -> str:
        """``paced 4.1 s, window 96/100``; empty while nothing was paced."""
        parts = []
        if self.waited or self.limit:
            parts.append(f"paced {self.waited:,.1f} s")
        if self.limit:
            parts.append(f"window {self.in_window:,}/{self.limit:,}")
        return ", ".join(parts)


class Reporter(Protocol):
    """Shows progress while a run goes on."""

    def start(self) -> None:
        """Begin showing (inside the running loop)."""

    async def stop(self) -> None:
        """Stop showing and clear up (the final state stays on screen)."""

    def message(self, text: str) -> None:
        """Show one line of text without breaking the display."""


class _Quiet:
    """Shows nothing (``--quiet``)."""

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class _Rate:
    """Rows per second over the last few samples (a short window reacts, a long one is steady)."""

    __slots__ = ("_samples",)

    def __init__(self) -> None:
        self._samples: list[tuple[float, int]] = []

    def add(self, now: float, sent: int, window: float = 10.0) -> float:
        samples = self._samples
        samples.append((now, sent))
        while len(samples) > 2 and now - samples[0][0] > window:
            del samples[0]
        start, first = samples[0]
        return (sent - first) / (now - start) if now > start else 0.0


class PlainReporter:
    """A line of progress to ``stream`` every ``interval`` seconds."""

    __slots__ = (
        "_counters",
        "_interval",
        "_pacing",
        "_prog",
        "_rate",
        "_stats",
        "_stream",
        "_task",
        "_unit",
    )

    def __init__(
        self,
        counters: Counters,
        stats: StatsSource,
        *,
        interval: float,
        stream: TextIO,
        pacing: PacingWatch | None = None,
        prog: str = "hubassoc backfill",
        unit: str = "pairs",
    ) -> None:
        self._counters = counters
        self._pacing = pacing
        self._prog = prog
        self._unit = unit
        self._stats = stats
        self._interval = interval
        self._stream = stream
        self._rate = _Rate()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._rate.add(asyncio.get_running_loop().time(), self._counters.sent)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def message(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    def line(self, now: float) -> str:
        """The progress line as of loop time ``now``."""
        c = self._counters
        rate = self._rate.add(now, c.sent)
        remaining = c.total - c.done
        eta = format_duration(remaining / rate) if rate > 0 else "?"
        percent = 100.0 * c.done / c.total if c.total else 100.0
        stats = self._stats()
        retries = stats.retries if stats is not None else 0
        limited = stats.rate_limited if stats is not None else 0
        pacing = self._pacing.text() if self._pacing is not None else ""
        return (
            f"{self._prog}: {c.done:,}/{c.total:,} rows ({percent:.1f}%), "
            f"{rate:,.0f} {self._unit}/s, ETA {eta}, retries {retries:,}, 429s {limited:,}"
            + (f", {pacing}" if pacing else "")
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval)
            self.message(self.line(loop.time()))


class _RichReporter:
    """A ``rich`` progress bar on stderr."""

    def __init__(
        self,
        counters: Counters,
        stats: StatsSource,
        *,
        title: str,
        stream: TextIO,
        pacing: PacingWatch | None = None,
        unit: str = "pairs",
    ) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self._counters = counters
        self._stats = stats
        self._pacing = pacing
        self._rate = _Rate()
        self._console = Console(file=stream)
        # Compact columns: the whole bar fits an 80-column terminal.
        self._progress: Any = Progress(
            BarColumn(bar_width=20),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]} " + unit + "/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(compact=True),
            TextColumn("retries {task.fields[retries]} 429s {task.fields[limited]}"),
            TextColumn("{task.fields[pacing]}"),
            console=self._console,
            refresh_per_second=5,
        )
        self._task_id = self._progress.add_task(
            title,
            total=counters.total,
            completed=counters.done,
            rate="0",
            retries="0",
            limited="0",
            pacing="",
        )
        self._updater: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._progress.start()
        self._updater = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._updater = self._updater, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._update(asyncio.get_running_loop().time())
        self._progress.stop()

    def message(self, text: str) -> None:
        # soft_wrap: no line break inserted mid-word, so the stream sees each secret whole.
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _update(self, now: float) -> None:
        c = self._counters
        stats = self._stats()
        self._progress.update(
            self._task_id,
            completed=c.done,
            rate=f"{self._rate.add(now, c.sent):,.0f}",
            retries=f"{stats.retries if stats is not None else 0:,}",
            limited=f"{stats.rate_limited if stats is not None else 0:,}",
            pacing=self._pacing.text() if self._pacing is not None else "",
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._update(loop.time())
            await asyncio.sleep(0.2)


def make_reporter(
    counters: Counters,
    stats: StatsSource,
    *,
    quiet: bool,
    interval: float,
    title: str = "backfill",
    stream: TextIO | None = None,
    pacing: PacingWatch | None = None,
    prog: str = "hubassoc backfill",
    unit: str = "pairs",
) -> Reporter:
    """The reporter for this terminal: nothing, a ``rich`` bar, or plain lines (see above).

    ``prog`` names the command in plain lines; ``unit`` is what a row is, in rates.
    """
    if quiet:
        return _Quiet()
    stream = stream if stream is not None else sys.stderr
    if stream.isatty() and importlib.util.find_spec("rich") is not None:
        return _RichReporter(counters, stats, title=title, stream=stream, pacing=pacing, unit=unit)
    return PlainReporter(
        counters, stats, interval=interval, stream=stream, pacing=pacing, prog=prog, unit=unit
    )


class ReporterLogHandler(logging.Handler):
    """Routes the client's warnings through the reporter, so they do not break the bar."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.WARNING)
        self._reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self._reporter.message(f"hubassoc: {record.getMessage()}")

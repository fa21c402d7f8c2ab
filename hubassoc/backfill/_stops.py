"""Stopping a run cleanly on a signal, and keeping log lines from breaking the display.

* :func:`stop_on_signals`: the first SIGINT/SIGTERM stops the reading (what
  is in flight finishes and is journalled), a second abandons what is in
  flight; both are said through the reporter.
* :func:`logs_through`: the ``hubassoc`` logger's warnings go through the
  reporter (one copy, redacted with the rest of stderr) for as long as the
  run lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

from hubassoc.backfill._progress import Reporter, ReporterLogHandler
from hubassoc.backfill._runner import Backfill

__all__ = ["logs_through", "stop_on_signals"]

_logger = logging.getLogger("hubassoc")


@contextlib.contextmanager
def stop_on_signals(backfill: Backfill, reporter: Reporter, prog: str) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM stop ``backfill`` (where the loop allows handlers).

    ``prog`` names the command in what is said (``hubassoc backfill``).
    """
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        first = backfill.stop_reason is None
        backfill.request_stop()
        name = signal.Signals(signum).name
        if first:
            reporter.message(
                f"{prog}: {name}: stopping; finishing the {backfill.counters.in_flight:,} "
                "rows in flight (again to abandon them; nothing is lost either way)"
            )
        else:
            reporter.message(f"{prog}: {name}: abandoning the rows in flight")

    installed: list[int] = []
    for signum in (signal.SIGINT.value, signal.SIGTERM.value):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


@contextlib.contextmanager
def logs_through(reporter: Reporter) -> Iterator[None]:
    """Within the block, the ``hubassoc`` logger's warnings are shown by ``reporter`` only."""
    handler = ReporterLogHandler(reporter)
    propagate = _logger.propagate
    _logger.addHandler(handler)
    _logger.propagate = False  # no second copy through the root logger's last resort
    try:
        yield
    finally:
        _logger.removeHandler(handler)
        _logger.propagate = propagate

"""The pipeline of every bulk job: read rows, send them in chunks, journal each chunk's outcome.

:class:`Backfill` reads the input as it sends it: rows are gathered into
chunks of ``batch_size`` and each chunk goes out as one explicit batch call
of the client, the one its :class:`~hubassoc.backfill._operations.Operation`
describes (default associations by default; labelled ones, removals, reads
to verify or export; a read's chunk is ``batch_size`` distinct records, and
at most ten times as many rows). At most
``concurrency + 1`` chunks are in flight (the client sends ``concurrency`` at
once; one more waits ready), so memory stays flat whatever the file size and
a crash re-sends at most ``concurrency + 1`` chunks.

As each chunk completes, its rows are mapped back from the
:class:`~hubassoc.BatchOutcome` (which holds each distinct key once, so a
pair repeated on several lines gives every line the same answer): failed rows
go to the dead-letter file, then the output of done rows (an export's) to the
output file, then done lines to the journal (with the output's size). Bad
input rows go to the dead-letter file as they are read.

Stops, all clean (what is in flight is finished and journalled, what is not
is left for the next run of the same command):

* :meth:`Backfill.request_stop` (SIGINT/SIGTERM): stop reading; a second
  request cancels what is in flight (nothing of it is journalled);
* a DAILY 429 (:class:`~hubassoc.DailyLimitError`): HubSpot's daily limit;
* a 401/403 (:class:`~hubassoc.AuthenticationError`): the token is wrong;
* ``max_failed_batches`` chunks in a row failing whole after the client's
  retries, or with a whole-batch 400 for every pair (HubSpot or the network
  is down, or every request is wrong): an isolated whole-chunk failure
  dead-letters its rows, a run of them stops the job instead, leaving the
  rest of the file undone rather than dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubassoc import (
    AssociationsClient,
    AuthenticationError,
    BatchItemError,
    DailyLimitError,
    DecodingError,
    HubSpotError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    TransportError,
)
from hubassoc.backfill._dead_letter import DeadLetter
from hubassoc.backfill._journal import Journal
from hubassoc.backfill._operations import Operation, PairWrite
from hubassoc.backfill._output import OutputFile
from hubassoc.backfill._reader import BadRow, InputReader, Row

__all__ = ["Backfill", "Counters", "StopReason", "Summary", "error_category"]

#: A read's chunk holds at most this many rows per distinct record it reads.
_ROWS_PER_KEY = 10


class StopReason(enum.Enum):
    """Why a run stopped before the end of the input."""

    INTERRUPTED = "interrupted"  #: SIGINT or SIGTERM
    DAILY_LIMIT = "daily_limit"  #: HubSpot's daily request limit is spent
    AUTHENTICATION = "authentication"  #: HubSpot refused the token (401/403)
    FAILING = "failing"  #: chunk after chunk failed whole (HubSpot or the network is down)


@dataclass(slots=True)
class Counters:
    """Live counts of a run, read by the progress display."""

    total: int  #: data lines in the input (the CSV header excluded)
    skipped: int = 0  #: lines done by an earlier run (journal or dead-letter file)
    associated: int = 0  #: rows done by this run (associated, removed, present, exported)
    failed: int = 0  #: rows HubSpot failed (or missing from it), dead-lettered by this run
    bad: int = 0  #: bad input rows, dead-lettered by this run
    blank: int = 0  #: blank lines (not rows)
    in_flight: int = 0  #: rows sent and not answered yet

    @property
    def done(self) -> int:
        """Lines dealt with: skipped, associated, failed, bad or blank."""
        return self.skipped + self.associated + self.failed + self.bad + self.blank

    @property
    def sent(self) -> int:
        """Rows this run sent and got an answer for."""
        return self.associated + self.failed


@dataclass(frozen=True, slots=True)
class Summary:
    """What a run did; see :meth:`Backfill.run`."""

    total: int  #: data lines in the input
    associated: int  #: rows done by this run (associated, removed, present, exported)
    failed: int  #: rows HubSpot failed, or missing from it (dead-lettered), by this run
    failed_by_category: dict[str, int]
    bad: int  #: bad input rows (dead-lettered) by this run
    bad_by_category: dict[str, int]
    skipped: int  #: lines done by an earlier run
    blank: int  #: blank lines
    dead_letter_rows: int  #: rows in the dead-letter file, earlier runs' included
    requests: int  #: HTTP requests made (retries included)
    retries: int
    rate_limited: int  #: 429 answers seen
    elapsed: float  #: seconds
    stop: StopReason | None  #: why the run stopped early, or ``None`` if it reached the end
    stop_error: str | None = None  #: the error behind ``stop``, if any
    done_word: str = "associated"  #: what a done row is called (the operation's word)
    failed_word: str = "failed"  #: what a row HubSpot did not do is called

    @property
    def done(self) -> int:
        """Lines dealt with, this run's and earlier runs'."""
        return self.skipped + self.associated + self.failed + self.bad + self.blank

    @property
    def remaining(self) -> int:
        """Lines still to do (after a stop)."""
        return self.total - self.done

    @property
    def pairs_per_second(self) -> float:
        """Rows sent and answered per second of this run (pairs, or records read)."""
        return (self.associated + self.failed) / self.elapsed if self.elapsed > 0 else 0.0


_CATEGORY_OF_TYPE: tuple[tuple[type[HubSpotError], str], ...] = (
    (DailyLimitError, "DAILY_LIMIT"),
    (RateLimitError, "RATE_LIMIT"),
    (AuthenticationError, "AUTHENTICATION"),
    (ServerError, "SERVER_ERROR"),
    (TransportError, "TRANSPORT_ERROR"),
    (DecodingError, "DECODING_ERROR"),
    (InvalidRequestError, "INVALID_REQUEST"),
)


def error_category(error: HubSpotError) -> str:
    """One word for the dead-letter file: HubSpot's category, or one named after the error."""
    if error.category:
        return error.category
    for cls, name in _CATEGORY_OF_TYPE:
        if isinstance(error, cls):
            return name
    return "HUBSPOT_ERROR"


def _whole_failure(
    results: Mapping[Any, object], errors: Mapping[Any, HubSpotError]
) -> HubSpotError | None:
    """The error, if every pair failed for a reason about the request rather than the pair.

    That is a whole-call error given to each pair of a request that was split,
    or a whole-request 400 the client narrowed down to each pair by bisection
    (:attr:`~hubassoc.BatchItemError.request_error` set); not a
    per-pair error from HubSpot (a record not found), nor the daily limit or a
    refused token, which stop the run on their own.
    """
    if results or not errors:
        return None
    first: HubSpotError | None = None
    for error in errors.values():
        if isinstance(error, DailyLimitError | AuthenticationError):
            return None
        if isinstance(error, BatchItemError) and error.request_error is None:
            return None
        first = first or error
    return first


class Backfill:
    """One run of a backfill job; see the module docstring.

    Args:
        reader: the input, header read.
        journal: the job's journal, loaded (its ``done`` bitmap marks lines to skip).
        dead_letter: the job's dead-letter file, already read back into the
            journal's bitmap (lines done before count as skipped).
        client: an open client; the caller closes it.
        from_type, to_type: the object types.
        batch_size: rows per chunk (one ``batch_associate_default`` call).
        concurrency: chunks the client sends at once (one more waits ready).
        total: data lines in the input, for the progress display.
        sync_interval: seconds between fsyncs of the journal and dead-letter file.
        max_failed_batches: chunks in a row failing whole that stop the run.
        operation: what each chunk is sent as, and what makes a row done
            (default: default associations).
        output: the output file done rows write to (an export's).
    """

    __slots__ = (
        "_batch_size",
        "_client",
        "_concurrency",
        "_dead",
        "_fatal",
        "_from_type",
        "_journal",
        "_max_failed_batches",
        "_operation",
        "_output",
        "_reader",
        "_stop",
        "_stop_error",
        "_stop_requests",
        "_sync_interval",
        "_tasks",
        "_to_type",
        "_whole_failures",
        "bad_by_category",
        "counters",
        "failed_by_category",
    )

    def __init__(
        self,
        *,
        reader: InputReader,
        journal: Journal,
        dead_letter: DeadLetter,
        client: AssociationsClient,
        from_type: str,
        to_type: str,
        batch_size: int,
        concurrency: int,
        total: int,
        sync_interval: float = 1.0,
        max_failed_batches: int = 3,
        operation: Operation | None = None,
        output: OutputFile | None = None,
    ) -> None:
        self._operation = operation if operation is not None else PairWrite("associate")
        if self._operation.writes_output and output is None:
            raise ValueError(f"{self._operation!r} writes an output file: pass output")
        self._output = output
        self._reader = reader
        self._journal = journal
        self._dead = dead_letter
        self._client = client
        self._from_type = from_type
        self._to_type = to_type
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._sync_interval = sync_interval
        self._max_failed_batches = max_failed_batches
        self._stop: StopReason | None = None
        self._stop_error: HubSpotError | None = None
        self._stop_requests = 0
        self._fatal: BaseException | None = None
        self._whole_failures = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters = Counters(total=total, skipped=journal.done.count(1))
        self.failed_by_category: Counter[str] = Counter()
        self.bad_by_category: Counter[str] = Counter()

    def __repr__(self) -> str:
        c = self.counters
        return (
            f"<Backfill done={c.done}/{c.total} in_flight={c.in_flight} "
            f"chunks={len(self._tasks)} stop={self._stop}>"
        )

    @property
    def stop_reason(self) -> StopReason | None:
        """Why the run is stopping, if it is."""
        return self._stop

    def request_stop(self) -> None:
        """Stop reading (first call); cancel what is in flight (second call). For signals."""
        self._stop_requests += 1
        if self._stop is None:
            self._stop = StopReason.INTERRUPTED
        if self._stop_requests > 1:
            for task in self._tasks:
                task.cancel()

    def _halt(self, reason: StopReason, error: HubSpotError | None) -> None:
        if self._stop is None or self._stop is StopReason.INTERRUPTED:
            self._stop = reason
            self._stop_error = error

    async def run(self) -> Summary:
        """Send every row not done yet; return what happened.

        Raises:
            OSError: the journal or the dead-letter file could not be written
                (after what was in flight finished; nothing is lost).
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        before = self._client.stats
        syncer = asyncio.create_task(self._sync_periodically())
        try:
            await self._pump()
        finally:
            syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await syncer
        if self._fatal is not None:
            raise self._fatal
        c = self.counters
        error = self._stop_error
        after = self._client.stats
        return Summary(
            total=c.total,
            associated=c.associated,
            failed=c.failed,
            failed_by_category=dict(self.failed_by_category.most_common()),
            bad=c.bad,
            bad_by_category=dict(self.bad_by_category.most_common()),
            skipped=c.skipped,
            blank=c.blank,
            dead_letter_rows=self._dead.count,
            requests=after.requests - before.requests,
            retries=after.retries - before.retries,
            rate_limited=after.rate_limited - before.rate_limited,
            elapsed=loop.time() - started,
            stop=self._stop,
            stop_error=str(error) if error is not None else None,
            done_word=self._operation.done_word,
            failed_word=self._operation.failed_word,
        )

    async def _pump(self) -> None:
        """Read rows into chunks and start a task per chunk, at most ``concurrency + 1`` at once."""
        batch_size = self._batch_size
        slots = asyncio.Semaphore(self._concurrency + 1)
        reader, counters = self._reader, self.counters
        chunk: list[Row] = []
        bad: list[BadRow] = []
        # Reads: a chunk is batch_size distinct records (one request), however many
        # rows name them, up to a bound that keeps memory flat.
        key_of = self._operation.key if self._operation.chunk_by_key else None
        keys: set[Hashable] = set()
        row_cap = batch_size * _ROWS_PER_KEY if key_of is not None else batch_size
        try:
            for item in reader.rows(self._journal.done):
                if self._stop is not None:
                    break
                if type(item) is Row:
                    chunk.append(item)
                    if key_of is not None:
                        keys.add(key_of(item))
                    if len(chunk) < row_cap and (key_of is None or len(keys) < batch_size):
                        continue
                    self._write_bad(bad)
                    await slots.acquire()
                    if self._stop is not None:
                        slots.release()
                        break
                    self._start(chunk, slots)
                    chunk = []
                    keys.clear()
                else:
                    assert isinstance(item, BadRow)
                    bad.append(item)
                    if len(bad) < batch_size:
                        continue
                    self._write_bad(bad)
                counters.blank = reader.blank_lines
                # Let answers, signals and the progress display in between reads.
                await asyncio.sleep(0)
            else:
                self._write_bad(bad)
                if chunk:
                    await slots.acquire()
                    if self._stop is None:
                        self._start(chunk, slots)
                    else:
                        slots.release()
            counters.blank = reader.blank_lines
        finally:
            # Whatever stopped the reading, what is in flight is finished and journalled.
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    def _write_bad(self, bad: list[BadRow]) -> None:
        if not bad:
            return
        self._dead.write(bad)
        self.counters.bad += len(bad)
        for row in bad:
            self.bad_by_category[row.category] += 1
        bad.clear()

    def _start(self, chunk: list[Row], slots: asyncio.Semaphore) -> None:
        self.counters.in_flight += len(chunk)
        task = asyncio.create_task(self._send(chunk, slots))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, chunk: Sequence[Row], slots: asyncio.Semaphore) -> None:
        """Send one chunk and journal its outcome; never raises (a failure stops the run)."""
        try:
            outcome = await self._operation.send(
                self._client, self._from_type, self._to_type, chunk
            )
        except DailyLimitError as error:
            self._halt(StopReason.DAILY_LIMIT, error)
        except AuthenticationError as error:
            self._halt(StopReason.AUTHENTICATION, error)
        except HubSpotError as error:
            # The whole chunk failed after the client's retries.
            if not self._failed_whole(error):
                category, message = error_category(error), str(error)
                self._finish([], [BadRow(row.line, category, message, row.raw) for row in chunk])
        except asyncio.CancelledError:
            pass  # a second stop request: nothing of this chunk is journalled
        except Exception as exc:  # a bug or a full disk: stop reading, report after
            self._crash(exc)
        else:
            whole = _whole_failure(outcome.results, outcome.errors)
            if whole is not None:
                if self._failed_whole(whole):
                    return
            else:
                self._whole_failures = 0
            self._settle(chunk, outcome.results, outcome.errors)
        finally:
            self.counters.in_flight -= len(chunk)
            slots.release()

    def _settle(
        self,
        chunk: Sequence[Row],
        results: Mapping[Hashable, Any],
        errors: Mapping[Hashable, HubSpotError],
    ) -> None:
        """Map a chunk's outcome back to its rows; record which are done and which failed."""
        operation = self._operation
        key_of, check, output = operation.key, operation.checker(), operation.output
        writes = operation.writes_output
        done: list[int] = []
        failed: list[BadRow] = []
        written: set[Hashable] = set()
        parts: list[bytes] = []
        for row in chunk:
            key = key_of(row)
            if key in results:
                result = results[key]
                problem = check(row, result)
                if problem is not None:
                    failed.append(BadRow(row.line, *problem, row.raw))
                    continue
                done.append(row.line)
                if writes and key not in written:
                    written.add(key)
                    parts.append(output(row, result))
                continue
            item_error = errors[key]
            if isinstance(item_error, DailyLimitError):
                # Part of the chunk went out before the limit: the rest waits.
                self._halt(StopReason.DAILY_LIMIT, item_error)
            elif isinstance(item_error, AuthenticationError):
                self._halt(StopReason.AUTHENTICATION, item_error)
            else:
                failed.append(
                    BadRow(row.line, error_category(item_error), str(item_error), row.raw)
                )
        self._finish(done, failed, b"".join(parts))

    def _failed_whole(self, error: HubSpotError) -> bool:
        """Count a chunk that failed whole; whether that makes the run stop (rows left undone).

        One such chunk is dead-lettered like any failure; a run of them means
        HubSpot or the network is down (or every request is wrong), and
        dead-lettering the rest of the file would only hide that.
        """
        self._whole_failures += 1
        if self._whole_failures >= self._max_failed_batches or self._stop is StopReason.FAILING:
            self._halt(StopReason.FAILING, error)
            return True
        return False

    def _finish(self, done: list[int], failed: list[BadRow], output: bytes = b"") -> None:
        """Record one chunk's outcome: dead rows, then the output, then the done lines."""
        try:
            if failed:
                self._dead.write(failed)
                self.counters.failed += len(failed)
                for row in failed:
                    self.failed_by_category[row.category] += 1
            if done:
                size = None if self._output is None else self._output.write(output)
                self._journal.record(done, output_size=size)
                self.counters.associated += len(done)
        except Exception as exc:  # a full disk, say: stop; the rows are sent again next run
            self._crash(exc)

    def _crash(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        if self._stop is None:
            self._stop = StopReason.INTERRUPTED

    def sync(self) -> None:
        """Fsync the output (first: the journal vouches for it), journal and dead-letter file."""
        if self._output is not None:
            self._output.sync()
        self._journal.sync()
        self._dead.sync()

    async def _sync_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._sync_interval)
            # fsync can take a while on a busy disk: not on the event loop.
            await asyncio.to_thread(self.sync)

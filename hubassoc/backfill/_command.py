"""``hubassoc backfill``: the command line of the backfill job.

Usage::

    hubassoc backfill INPUT --from-type contacts --to-type companies [options]

The token comes from ``HUBSPOT_ACCESS_TOKEN`` (never from the command line),
or ``--sandbox`` runs the whole job against the built-in sandbox. Exit
statuses: 0 every row associated; 1 some rows are in the dead-letter file
(or HubSpot kept failing); 2 a usage error (bad arguments, no token, an
unreadable input, a journal of another job, a token HubSpot refuses, a
journal or dead-letter file that cannot be written); 3 stopped at HubSpot's
daily limit; 130 interrupted (SIGINT/SIGTERM). Run the
same command again to resume after any stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, TextIO

from hubassoc._auth import TOKEN_ENV
from hubassoc._client import AssociationsClient
from hubassoc._pacing import RateLimit
from hubassoc._transport import check_base_url
from hubassoc._validation import check_api_version, check_object_type
from hubassoc.backfill._dead_letter import DeadLetter, DeadLetterError, default_dead_letter_path
from hubassoc.backfill._journal import JobIdentity, Journal, JournalError
from hubassoc.backfill._progress import ReporterLogHandler, format_duration, make_reporter
from hubassoc.backfill._reader import (
    DEFAULT_FROM_COLUMN,
    DEFAULT_TO_COLUMN,
    BadRow,
    InputError,
    InputReader,
    count_lines,
)
from hubassoc.backfill._runner import Backfill, StopReason, Summary

__all__ = [
    "EXIT_DAILY_LIMIT",
    "EXIT_FAILED_ROWS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_parser",
    "resume_command",
    "run",
]

EXIT_OK = 0
EXIT_FAILED_ROWS = 1
EXIT_USAGE = 2
EXIT_DAILY_LIMIT = 3
EXIT_INTERRUPTED = 130

#: The built-in sandbox holds to HubSpot's Free tier, so that pacing is real.
SANDBOX_RATE_LIMIT = (100, 10.0)

_DEFAULT_BATCH_SIZE = 100
_DEFAULT_CONCURRENCY = 8
_DEFAULT_API_VERSION = "2026-03"
_DEFAULT_PROGRESS_INTERVAL = 2.0
_BAD_ROWS_SHOWN = 10

_PROG = "hubassoc backfill"
_logger = logging.getLogger("hubassoc")


class UsageError(Exception):
    """The command cannot run as asked (exit status 2); the message says why."""


# --- argument types --------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, not {text!r}")
    return value


def _object_type(text: str) -> str:
    try:
        return check_object_type(text, "object type")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _api_version(text: str) -> str:
    try:
        return check_api_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate_limit(text: str) -> RateLimit | Literal[False]:
    if text.strip().lower() in ("off", "none"):
        return False
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or 'off'") from None


class _RefuseToken(argparse.Action):
    """``--token``/``--access-token``: refused without echoing the value."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> NoReturn:
        parser.error(
            f"{option_string} is not an option: the token is read from {TOKEN_ENV} only, "
            "so that it never shows in the process list or the shell history"
        )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``backfill`` sub-command on an argparse sub-parsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "backfill",
        help="associate pairs of records listed in a CSV or JSON Lines file",
        description=(
            "Stream pairs of record ids from INPUT into HubSpot default associations, "
            "journalling progress so that running the same command again resumes. "
            f"The token is read from {TOKEN_ENV}; --sandbox needs none."
        ),
        epilog=(
            "exit status: 0 all rows associated; 1 some rows in the dead-letter file; "
            "2 usage error; 3 stopped at HubSpot's daily limit; 130 interrupted. "
            "After any stop, run the same command again to resume."
        ),
    )
    add = parser.add_argument
    add("input", metavar="INPUT", help="CSV (with a header row) or JSON Lines file of id pairs")
    add("--from-type", required=True, type=_object_type, metavar="TYPE", help="e.g. contacts")
    add("--to-type", required=True, type=_object_type, metavar="TYPE", help="e.g. companies")
    add(
        "--format",
        choices=("csv", "jsonl"),
        default=None,
        help="input format (default: from the extension: .csv, .jsonl or .ndjson)",
    )
    add(
        "--from-column",
        metavar="NAME",
        default=None,
        help=f"column (CSV) or key (JSONL) of the from ids (default: {DEFAULT_FROM_COLUMN}; "
        "a CSV header with neither default name is read by position: first two columns)",
    )
    add(
        "--to-column",
        metavar="NAME",
        default=None,
        help=f"column or key of the to ids (default: {DEFAULT_TO_COLUMN})",
    )
    add(
        "--sandbox",
        action="store_true",
        help="run against the built-in sandbox (in-process, Free-tier pacing); no token needed",
    )
    add(
        "--base-url",
        default=None,
        metavar="URL",
        help="a proxy or another HubSpot-compatible host (default: https://api.hubapi.com; "
        "plain http only to loopback)",
    )
    add(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="N/SECONDS",
        help="hold to N requests per SECONDS, e.g. 190/10; 'off' not to pace "
        "(default: adaptive, from HubSpot's rate-limit headers)",
    )
    add(
        "--batch-size",
        type=_positive_int,
        default=_DEFAULT_BATCH_SIZE,
        metavar="N",
        help="pairs per request (default: %(default)s)",
    )
    add(
        "--api-version",
        type=_api_version,
        default=_DEFAULT_API_VERSION,
        metavar="VERSION",
        help="v4 or a date version such as 2026-03 (default: %(default)s)",
    )
    add(
        "--concurrency",
        type=_positive_int,
        default=_DEFAULT_CONCURRENCY,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    add(
        "--journal",
        default=None,
        metavar="PATH",
        help="the progress journal (default: INPUT.journal; INPUT.sandbox.journal with --sandbox)",
    )
    add(
        "--dead-letter",
        default=None,
        metavar="PATH",
        help="where rows that fail go (default: INPUT with .dead before the extension, "
        "e.g. pairs.dead.csv; pairs.sandbox.dead.csv with --sandbox)",
    )
    add("--dry-run", action="store_true", help="check the input and count rows; send nothing")
    add("--quiet", action="store_true", help="no progress display; only the summary and errors")
    add(
        "--progress-interval",
        type=_positive_float,
        default=_DEFAULT_PROGRESS_INTERVAL,
        metavar="SECONDS",
        help="seconds between progress lines when not on a terminal (default: %(default)s)",
    )
    add("--token", "--access-token", nargs="?", action=_RefuseToken, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
    return parser


def resume_command(args: argparse.Namespace, *, input: str | None = None) -> str:
    """The command line that runs this job again (resumes it); ``input`` swaps the input.

    With ``input``, the journal and dead-letter options are left out (a new
    job, on the dead-letter file say).
    """
    parts = ["hubassoc", "backfill", input if input is not None else args.input]
    parts += ["--from-type", args.from_type, "--to-type", args.to_type]
    options: list[tuple[str, Any, Any]] = [
        ("--format", args.format, None),
        ("--from-column", args.from_column, None),
        ("--to-column", args.to_column, None),
        ("--base-url", args.base_url, None),
        ("--batch-size", args.batch_size, _DEFAULT_BATCH_SIZE),
        ("--api-version", args.api_version, _DEFAULT_API_VERSION),
        ("--concurrency", args.concurrency, _DEFAULT_CONCURRENCY),
        ("--progress-interval", args.progress_interval, _DEFAULT_PROGRESS_INTERVAL),
    ]
    if input is None:
        options += [("--journal", args.journal, None), ("--dead-letter", args.dead_letter, None)]
    for flag, value, default in options:
        if value != default:
            parts += [flag, str(value)]
    limit = args.rate_limit
    if limit is False:
        parts += ["--rate-limit", "off"]
    elif isinstance(limit, RateLimit):
        parts += ["--rate-limit", f"{limit.requests}/{limit.per:g}"]
    parts += [flag for flag, on in (("--sandbox", args.sandbox), ("--quiet", args.quiet)) if on]
    return shlex.join(parts)


# --- preparing a run -------------------------------------------------------------------


@dataclass(slots=True)
class _Job:
    args: argparse.Namespace
    reader: InputReader
    journal_path: Path
    dead_path: Path
    lines: int  #: physical lines of the input
    total: int  #: data lines (CSV header excluded)
    token: str | None
    base_url: str


def _prepare(args: argparse.Namespace, environ: Mapping[str, str]) -> _Job:
    """Check everything that can be checked before any file is written.

    Raises:
        UsageError: the command cannot run as asked.
    """
    if args.sandbox and args.base_url is not None:
        raise UsageError("--sandbox and --base-url exclude each other")
    base_url = args.base_url or "https://api.hubapi.com"
    try:
        check_base_url(base_url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    token: str | None = None
    if not args.sandbox and not args.dry_run:
        token = environ.get(TOKEN_ENV) or None
        if token is None:
            raise UsageError(
                f"no HubSpot token: set {TOKEN_ENV} to a private app's access token "
                "(scopes: crm.objects.<type>.write for both object types), "
                "or try the job against the built-in sandbox with --sandbox"
            )
        if not token.isascii() or any(c.isspace() or not c.isprintable() for c in token):
            raise UsageError(f"{TOKEN_ENV} contains whitespace or control characters")
    input_path = Path(args.input)
    if input_path.is_dir():
        raise UsageError(f"{args.input!r} is a directory, not an input file")
    try:
        reader = InputReader(
            input_path, args.format, from_column=args.from_column, to_column=args.to_column
        )
    except FileNotFoundError:
        raise UsageError(f"no such input file: {args.input!r}") from None
    except (OSError, InputError) as exc:
        raise UsageError(f"cannot read {args.input!r}: {exc}") from None
    try:
        lines = count_lines(input_path)
    except OSError as exc:
        reader.close()
        raise UsageError(f"cannot read {args.input!r}: {exc}") from None
    journal_path = Path(args.journal or f"{args.input}{'.sandbox' if args.sandbox else ''}.journal")
    dead_path = (
        Path(args.dead_letter)
        if args.dead_letter
        else default_dead_letter_path(input_path, sandbox=args.sandbox)
    )
    named = {"input": input_path, "--journal": journal_path, "--dead-letter": dead_path}
    resolved = {name: path.resolve() for name, path in named.items()}
    if len(set(resolved.values())) < len(resolved):
        reader.close()
        raise UsageError("the input, the journal and the dead-letter file must be three files")
    return _Job(
        args=args,
        reader=reader,
        journal_path=journal_path,
        dead_path=dead_path,
        lines=lines,
        total=max(0, lines - (reader.first_line - 1)),
        token=token,
        base_url=base_url,
    )


def _open_job_files(job: _Job) -> tuple[Journal, DeadLetter]:
    """Open (or create) the journal, and read the dead-letter file back into its bitmap.

    Raises:
        UsageError, JournalError, DeadLetterError, OSError: the job cannot go on.
    """
    args, reader = job.args, job.reader
    if not job.journal_path.exists() and job.dead_path.exists() and job.dead_path.stat().st_size:
        raise UsageError(
            f"the dead-letter file {os.fspath(job.dead_path)!r} exists but the journal "
            f"{os.fspath(job.journal_path)!r} does not: it is left from an earlier job. "
            "Move it away (or pass --dead-letter PATH) and run again"
        )
    identity = JobIdentity.of(
        reader.path,
        from_type=args.from_type,
        to_type=args.to_type,
        format=reader.format,
        from_column=reader.from_column,
        to_column=reader.to_column,
        dead_letter=job.dead_path,
        sandbox=args.sandbox,
    )
    journal = Journal.open(job.journal_path, identity, lines=job.lines)
    try:
        dead = DeadLetter.open(
            job.dead_path, format=reader.format, input_header=reader.header, done=journal.done
        )
    except BaseException:
        journal.close()
        raise
    return journal, dead


# --- running ---------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run the backfill the parsed command line asks for; returns the exit status."""
    return _Command(args, os.environ, sys.stdout, sys.stderr).run()


class _Command:
    """One invocation: its arguments, environment and output streams."""

    def __init__(
        self, args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO
    ) -> None:
        self.args = args
        self.environ = environ
        self.out = out
        self.err = err

    def say(self, text: str) -> None:
        """A message on stderr (the summary goes to stdout)."""
        print(text, file=self.err, flush=True)

    def error(self, text: str) -> None:
        self.say(f"{_PROG}: error: {text}")

    def run(self) -> int:
        try:
            try:
                job = _prepare(self.args, self.environ)
            except UsageError as exc:
                self.error(str(exc))
                return EXIT_USAGE
            with job.reader:
                if self.args.dry_run:
                    return self.dry_run(job)
                try:
                    journal, dead = _open_job_files(job)
                except (UsageError, JournalError, DeadLetterError) as exc:
                    hint = ""
                    if isinstance(exc, JournalError) and "different job" in str(exc):
                        hint = (
                            ". Run the job's own command to resume it; or, to start over, "
                            "delete the journal (and its dead-letter file), or pass "
                            "--journal PATH for a new one"
                        )
                    self.error(f"{exc}{hint}")
                    return EXIT_USAGE
                except OSError as exc:
                    self.error(f"cannot open the journal or the dead-letter file: {exc}")
                    return EXIT_USAGE
                try:
                    return asyncio.run(self.backfill(job, journal, dead))
                except OSError as exc:  # a full disk, say, mid-run
                    self.error(
                        f"{exc}. What was journalled is kept: fix this, then run the same "
                        f"command to resume:\n    {resume_command(self.args)}"
                    )
                    return EXIT_USAGE
                finally:
                    dead.close()
                    journal.close()
        except KeyboardInterrupt:  # before the loop's own handlers were in place
            self.say(f"{_PROG}: interrupted; run the same command to resume")
            return EXIT_INTERRUPTED

    # --- dry run -----------------------------------------------------------------------

    def dry_run(self, job: _Job) -> int:
        reader = job.reader
        good = 0
        bad: dict[str, int] = {}
        shown: list[BadRow] = []
        for row in reader.rows():
            if isinstance(row, BadRow):
                bad[row.category] = bad.get(row.category, 0) + 1
                if len(shown) < _BAD_ROWS_SHOWN:
                    shown.append(row)
            else:
                good += 1
        bad_count = sum(bad.values())
        lines = [
            f"{_PROG} --dry-run: {self.args.input} ({_describe_input(reader)}); nothing was sent",
            f"  rows        {good + bad_count:,}",
            f"  good        {good:,}",
            f"  bad         {bad_count:,}{_by_category(bad)}",
        ]
        if reader.blank_lines:
            lines.append(f"  blank lines {reader.blank_lines:,} (skipped)")
        if shown:
            lines.append("  first bad rows:")
            lines += [f"    line {row.line}: {row.category}: {row.message}" for row in shown]
        print("\n".join(lines), file=self.out, flush=True)
        return EXIT_FAILED_ROWS if bad_count else EXIT_OK

    # --- the run -----------------------------------------------------------------------

    async def backfill(self, job: _Job, journal: Journal, dead: DeadLetter) -> int:
        args = self.args
        sandbox: Any = None
        token, base_url = job.token, job.base_url
        if args.sandbox:
            from hubassoc.sandbox import Sandbox

            sandbox = Sandbox(rate_limit=SANDBOX_RATE_LIMIT, token=secrets.token_urlsafe(24))
            await sandbox.start()
            token, base_url = sandbox.token, sandbox.url
        try:
            async with AssociationsClient(
                token,
                base_url=base_url,
                api_version=args.api_version,
                max_batch_size=args.batch_size,
                max_concurrency=args.concurrency,
                rate_limit=args.rate_limit,
            ) as client:
                backfill = Backfill(
                    reader=job.reader,
                    journal=journal,
                    dead_letter=dead,
                    client=client,
                    from_type=args.from_type,
                    to_type=args.to_type,
                    batch_size=args.batch_size,
                    concurrency=args.concurrency,
                    total=job.total,
                )
                if not args.quiet:
                    self.banner(job, journal, dead, backfill.counters.skipped)
                summary = await self._run_with_progress(backfill, lambda: client.stats)
        finally:
            if sandbox is not None:
                await sandbox.close()
        print(self.summary_text(job, summary, journal, dead), file=self.out, flush=True)
        return self.advise(job, summary)

    async def _run_with_progress(self, backfill: Backfill, stats: Callable[[], Any]) -> Summary:
        args = self.args
        reporter = make_reporter(
            backfill.counters,
            stats,
            quiet=args.quiet,
            interval=args.progress_interval,
            title=f"{args.from_type} -> {args.to_type}",
            stream=self.err,
        )
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            first = backfill.stop_reason is None
            backfill.request_stop()
            name = signal.Signals(signum).name
            if first:
                reporter.message(
                    f"{_PROG}: {name}: stopping; finishing the {backfill.counters.in_flight:,} "
                    "rows in flight (again to abandon them; nothing is lost either way)"
                )
            else:
                reporter.message(f"{_PROG}: {name}: abandoning the rows in flight")

        installed: list[int] = []
        for signum in (signal.SIGINT.value, signal.SIGTERM.value):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, on_signal, signum)
                installed.append(signum)
        handler = ReporterLogHandler(reporter)
        propagate = _logger.propagate
        _logger.addHandler(handler)
        _logger.propagate = False  # no second copy through the root logger's last resort
        reporter.start()
        try:
            return await backfill.run()
        finally:
            await reporter.stop()
            _logger.removeHandler(handler)
            _logger.propagate = propagate
            for signum in installed:
                loop.remove_signal_handler(signum)

    # --- what to tell the user -----------------------------------------------------------

    def banner(self, job: _Job, journal: Journal, dead: DeadLetter, skipped: int) -> None:
        args, reader = self.args, job.reader
        target = (
            "the built-in sandbox (Free-tier pacing: 100 requests per 10 s)"
            if args.sandbox
            else job.base_url
        )
        lines = [
            f"{_PROG}: {args.input}: {job.total:,} rows ({_describe_input(reader)}), "
            f"{args.from_type} -> {args.to_type}, to {target}",
        ]
        if reader.columns_guessed:
            lines.append(
                f"  no {DEFAULT_FROM_COLUMN!r}/{DEFAULT_TO_COLUMN!r} in the header: reading "
                f"{reader.from_column!r} as from ids and {reader.to_column!r} as to ids "
                "(--from-column/--to-column to choose)"
            )
        lines.append(f"  journal {journal.path}, dead-letter file {dead.path}")
        if not journal.created:
            lines.append(
                f"  resuming: {skipped:,} rows done by an earlier run "
                f"({journal.previously_done:,} associated, {dead.previous:,} in the "
                "dead-letter file) are skipped"
            )
        self.say("\n".join(lines))

    def summary_text(self, job: _Job, summary: Summary, journal: Journal, dead: DeadLetter) -> str:
        headline = {
            None: "finished",
            StopReason.INTERRUPTED: "interrupted",
            StopReason.DAILY_LIMIT: "stopped at HubSpot's daily request limit",
            StopReason.AUTHENTICATION: "stopped: HubSpot refused the token",
            StopReason.FAILING: "stopped: HubSpot kept failing",
        }[summary.stop]
        s = summary
        rows = [
            ("associated", f"{s.associated:,}"),
            ("failed", f"{s.failed:,}{_by_category(s.failed_by_category)}"),
            ("bad rows", f"{s.bad:,}{_by_category(s.bad_by_category)}"),
            ("already done", f"{s.skipped:,} (skipped: done by an earlier run)"),
        ]
        if s.blank:
            rows.append(("blank lines", f"{s.blank:,}"))
        if s.remaining:
            rows.append(("not done yet", f"{s.remaining:,}"))
        rows += [
            ("requests", f"{s.requests:,} (retries {s.retries:,}, 429s {s.rate_limited:,})"),
            ("elapsed", f"{_elapsed(s.elapsed)}, {s.pairs_per_second:,.0f} pairs/s"),
            ("dead-letter", f"{dead.path} ({s.dead_letter_rows:,} rows)"),
            ("journal", f"{journal.path}"),
        ]
        body = "\n".join(f"  {name:<13}{value}" for name, value in rows)
        return (
            f"{_PROG}: {headline}: {self.args.input} ({self.args.from_type} -> "
            f"{self.args.to_type}), {s.done:,}/{s.total:,} rows done\n{body}"
        )

    def advise(self, job: _Job, summary: Summary) -> int:
        """Say what to do next; return the exit status."""
        again = resume_command(self.args)
        stop = summary.stop
        if stop is StopReason.DAILY_LIMIT:
            self.say(
                f"{_PROG}: HubSpot's daily API request limit is spent ({summary.stop_error}).\n"
                "  It resets at midnight in the HubSpot account's time zone. Nothing is lost: "
                f"run the same command after that to resume:\n    {again}"
            )
            return EXIT_DAILY_LIMIT
        if stop is StopReason.AUTHENTICATION:
            self.say(
                f"{_PROG}: HubSpot refused the token ({summary.stop_error}).\n"
                f"  Check {TOKEN_ENV} and the app's scopes, then run the same command to "
                f"resume:\n    {again}"
            )
            return EXIT_USAGE
        if stop is StopReason.INTERRUPTED:
            self.say(f"{_PROG}: interrupted. Nothing is lost: to resume, run:\n    {again}")
            return EXIT_INTERRUPTED
        if stop is StopReason.FAILING:
            self.say(
                f"{_PROG}: stopped after batch upon batch failed whole ({summary.stop_error}); "
                "HubSpot or the network seems down.\n"
                f"  Nothing is lost: run the same command later to resume:\n    {again}"
            )
            return EXIT_FAILED_ROWS
        if summary.dead_letter_rows and not self.args.quiet:
            rerun = resume_command(self.args, input=os.fspath(job.dead_path))
            self.say(
                f"{_PROG}: {summary.dead_letter_rows:,} rows are in the dead-letter file "
                f"{job.dead_path} with the reason for each (columns _line, _category, "
                f"_error). Once fixed, send them as a job of their own:\n    {rerun}"
            )
        return EXIT_FAILED_ROWS if summary.dead_letter_rows else EXIT_OK


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{format_duration(seconds)} ({seconds:,.0f} s)"


def _describe_input(reader: InputReader) -> str:
    kind = "columns" if reader.format == "csv" else "keys"
    return f"{reader.format}, {kind} {reader.from_column} -> {reader.to_column}"


def _by_category(counts: Mapping[str, int]) -> str:
    if not counts:
        return ""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return " (" + ", ".join(f"{name} {count:,}" for name, count in ordered) + ")"

"""``hubassoc backfill``, ``verify``, ``export``: one invocation, from options to exit status.

Usage::

    hubassoc backfill INPUT --from-type contacts --to-type companies [--types C:N] [--archive]
    hubassoc verify INPUT --from-type contacts --to-type companies [--missing PATH]
    hubassoc export IDS_FILE --from-type contacts --to-type companies --out FILE

The three are one job run one way (:class:`Command`); what differs is the
operation each chunk is sent as (:mod:`._operations`).

The token comes from ``HUBSPOT_ACCESS_TOKEN`` (never from the command line),
``--oauth`` reads a public app's credentials from the environment instead,
and ``--sandbox`` runs the whole job against the built-in sandbox. Exit
statuses: 0 every row done (verify: every row is in HubSpot); 1 some rows are
in the dead-letter file (verify: the missing-rows file), or HubSpot kept
failing; 2 a usage error (bad arguments, no token, an
unreadable input, a journal of another job, a token HubSpot refuses, a
journal or dead-letter file that cannot be written); 3 stopped at HubSpot's
daily limit; 130 interrupted (SIGINT/SIGTERM). Run the same command again to
resume after any stop.

The steps, each in a module of its own: :mod:`._options` (the command line),
:mod:`._job` (checks, credentials, the job's files), :mod:`._target` (the
client, the sandbox), :mod:`._stops` (signals, log lines), :mod:`._report`
(what is said and written at the end), :mod:`._redact` (no secret in any of it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO, cast

import msgspec

from hubassoc.backfill import _options
from hubassoc.backfill._job import Job, UsageError, open_job_files, prepare
from hubassoc.backfill._options import BACKFILL, EXPORT, VERIFY, Options, resume_command
from hubassoc.backfill._progress import PacingWatch, make_reporter
from hubassoc.backfill._reader import BadRow
from hubassoc.backfill._redact import RedactingStream, Redactor
from hubassoc.backfill._report import (
    EXIT_FAILED_ROWS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    DryRun,
    banner,
    dry_run_text,
    summary_document,
    summary_text,
    unit,
    verdict,
    write_json_atomically,
)
from hubassoc.backfill._runner import Backfill
from hubassoc.backfill._stops import logs_through, stop_on_signals
from hubassoc.backfill._target import connect

__all__ = ["Command", "add_export_parser", "add_parser", "add_verify_parser", "run"]

_BAD_ROWS_SHOWN: Final = 10


def add_parser(subparsers: Any, command: str = BACKFILL) -> argparse.ArgumentParser:
    """Register sub-command ``command`` (``backfill`` by default); its ``func`` is :func:`run`."""
    parser = _options.add_parser(subparsers, command)
    parser.set_defaults(func=run)
    return parser


def add_verify_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``verify`` sub-command."""
    return add_parser(subparsers, VERIFY)


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``export`` sub-command."""
    return add_parser(subparsers, EXPORT)


def run(args: argparse.Namespace) -> int:
    """Run the job the parsed command line asks for; returns the exit status."""
    return Command(Options.of(args), os.environ, sys.stdout, sys.stderr).run()


class Command:
    """One invocation: its options, environment and output streams (redacted)."""

    def __init__(
        self, options: Options, environ: Mapping[str, str], out: TextIO, err: TextIO
    ) -> None:
        self.options = options
        self.environ = environ
        self.redactor = Redactor()
        self.out = cast(TextIO, RedactingStream(out, self.redactor))
        self.err = cast(TextIO, RedactingStream(err, self.redactor))

    def say(self, text: str) -> None:
        """A message on stderr (the summary goes to stdout)."""
        print(text, file=self.err, flush=True)

    def error(self, text: str) -> None:
        self.say(f"{self.options.prog}: error: {text}")

    def run(self) -> int:
        try:
            try:
                job = prepare(self.options, self.environ, self.redactor)
            except UsageError as exc:
                return self.usage_error(str(exc))
            with job.reader:
                if self.options.dry_run:
                    return self.dry_run(job)
                return asyncio.run(self.backfill(job))
        except UsageError as exc:
            return self.usage_error(str(exc))
        except KeyboardInterrupt:  # before the loop's own handlers were in place
            self.say(f"{self.options.prog}: interrupted; run the same command to resume")
            self.write_summary("interrupted", EXIT_INTERRUPTED)
            return EXIT_INTERRUPTED

    def usage_error(self, message: str) -> int:
        self.error(message)
        self.write_summary("usage_error", EXIT_USAGE, error=message)
        return EXIT_USAGE

    def write_summary(self, status: str, exit_status: int, **details: Any) -> None:
        """Write ``--summary-json``, if asked; a failure to is said, not raised."""
        path = self.options.summary_json
        if path is None:
            return
        document = summary_document(self.options, status=status, exit_status=exit_status, **details)
        data = self.redactor.data(msgspec.json.format(msgspec.json.encode(document)) + b"\n")
        try:
            write_json_atomically(path, data)
        except OSError as exc:
            self.error(f"cannot write the summary to {path!r}: {exc}")

    def dry_run(self, job: Job) -> int:
        found = DryRun()
        for row in job.reader.rows():
            if isinstance(row, BadRow):
                found.bad[row.category] = found.bad.get(row.category, 0) + 1
                if len(found.shown) < _BAD_ROWS_SHOWN:
                    found.shown.append(row)
            else:
                found.good += 1
        print(dry_run_text(self.options, job.reader, found), file=self.out, flush=True)
        return EXIT_FAILED_ROWS if found.bad_count else EXIT_OK

    async def backfill(self, job: Job) -> int:
        options = self.options
        pacing = PacingWatch()
        async with connect(job, self.redactor, on_event=pacing) as target:
            files = open_job_files(job, self.redactor)
            try:
                backfill = Backfill(
                    reader=job.reader,
                    journal=files.journal,
                    dead_letter=files.dead,
                    client=target.client,
                    from_type=options.from_type,
                    to_type=options.to_type,
                    batch_size=options.batch_size,
                    concurrency=options.concurrency,
                    total=job.total,
                    operation=job.operation,
                    output=files.output,
                )
                if not options.quiet:
                    self.say(
                        banner(
                            options,
                            job.reader,
                            total=job.total,
                            target=target.description,
                            journal=files.journal,
                            dead=files.dead,
                            skipped=backfill.counters.skipped,
                        )
                    )
                client = target.client
                reporter = make_reporter(
                    backfill.counters,
                    lambda: client.stats,
                    quiet=options.quiet,
                    interval=options.progress_interval,
                    title=f"{options.from_type} -> {options.to_type}",
                    stream=self.err,
                    pacing=pacing,
                    prog=options.prog,
                    unit=unit(options),
                )
                with stop_on_signals(backfill, reporter, options.prog), logs_through(reporter):
                    reporter.start()
                    try:
                        summary = await backfill.run()
                    finally:
                        await reporter.stop()
            except OSError as exc:  # a full disk, say, mid-run
                message = (
                    f"{exc}. What was journalled is kept: fix this, then run the same "
                    f"command to resume:\n    {resume_command(options)}"
                )
                self.error(message)
                self.write_summary("error", EXIT_USAGE, error=str(exc))
                return EXIT_USAGE
            finally:
                files.close()
        print(
            summary_text(options, summary, job.journal_path, job.dead_path),
            file=self.out,
            flush=True,
        )
        ending = verdict(options, summary, job.dead_path)
        if ending.advice is not None:
            self.say(ending.advice)
        self.write_summary(
            ending.status,
            ending.exit_status,
            summary=summary,
            journal=job.journal_path,
            dead=job.dead_path,
        )
        return ending.exit_status

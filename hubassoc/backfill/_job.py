"""Checking a job before anything is written, then opening its files.

:func:`prepare` turns :class:`~hubassoc.backfill._options.Options` into a
:class:`Job`: the input opened and its header read, the paths of the journal
and the dead-letter file, the line counts, and the credentials the run will
use, read from the environment, and the job's
:class:`~hubassoc.backfill._operations.Operation`. :func:`open_job_files`
then opens (or creates) the journal, reads the dead-letter file back into its
bitmap and, for an export, opens the output cut back to the journal.
Every problem is a :class:`UsageError` (exit status 2) with a message that
says what to do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubassoc import TOKEN_ENV
from hubassoc.backfill._dead_letter import DeadLetter, DeadLetterError, default_dead_letter_path
from hubassoc.backfill._journal import JobIdentity, Journal, JournalError
from hubassoc.backfill._operations import Export, Operation, PairWrite, Verify, describe_types
from hubassoc.backfill._options import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    EXPORT,
    REDIS_URL_ENV,
    REFRESH_TOKEN_ENV,
    VERIFY,
    Options,
)
from hubassoc.backfill._output import OutputError, OutputFile
from hubassoc.backfill._reader import (
    DEFAULT_CATEGORY_COLUMN,
    DEFAULT_TYPE_COLUMN,
    InputError,
    InputReader,
    count_lines,
    guess_format,
)
from hubassoc.backfill._redact import Redactor

__all__ = [
    "Credentials",
    "Job",
    "JobFiles",
    "OAuthCredentials",
    "UsageError",
    "open_job_files",
    "prepare",
]


class UsageError(Exception):
    """The command cannot run as asked (exit status 2); the message says why."""


@dataclass(frozen=True, slots=True, repr=False)
class OAuthCredentials:
    """A public app's credentials, from the environment (``--oauth``)."""

    client_id: str
    client_secret: str
    refresh_token: str

    def __repr__(self) -> str:
        return f"OAuthCredentials(client_id={self.client_id!r}, <secrets hidden>)"


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """What the run authenticates with (nothing for ``--sandbox`` or ``--dry-run``).

    The values are secrets: the repr hides them, and :meth:`secrets` lists
    them for the :class:`~hubassoc.backfill._redact.Redactor`.
    """

    token: str | None = None
    oauth: OAuthCredentials | None = None
    redis_url: str | None = None

    def __repr__(self) -> str:
        return (
            f"Credentials(token={'<hidden>' if self.token else None}, "
            f"oauth={self.oauth!r}, redis={'<hidden>' if self.redis_url else None})"
        )

    def secrets(self) -> list[str]:
        """Every secret in here (a Redis URL's password included)."""
        found = [self.token]
        if self.oauth is not None:
            found += [self.oauth.client_secret, self.oauth.refresh_token]
        if self.redis_url:
            # The user info by hand: a password with a "/" in it defeats URL parsing.
            user_info = self.redis_url.partition("//")[2].rpartition("@")[0]
            found += [user_info, user_info.partition(":")[2]]
        return [secret for secret in found if secret]


@dataclass(frozen=True, slots=True)
class Job:
    """A checked job, its input open: what :func:`open_job_files` and the run need."""

    options: Options
    reader: InputReader
    journal_path: Path
    dead_path: Path
    lines: int  #: physical lines of the input
    total: int  #: data lines (CSV header excluded)
    credentials: Credentials
    operation: Operation
    output_path: Path | None = None  #: an export's output


@dataclass(frozen=True, slots=True)
class JobFiles:
    """The job's journal, dead-letter file and output (an export's), open."""

    journal: Journal
    dead: DeadLetter
    output: OutputFile | None = None

    def close(self) -> None:
        """Close them all (each fsyncs first; the output before the journal vouching for it)."""
        try:
            if self.output is not None:
                self.output.close()
        finally:
            try:
                self.dead.close()
            finally:
                self.journal.close()


def _credentials(options: Options, environ: Mapping[str, str]) -> Credentials:
    """Read what the run authenticates with from the environment.

    Raises:
        UsageError: something needed is not set.
    """
    redis_url = options.redis
    if redis_url == "":
        redis_url = environ.get(REDIS_URL_ENV) or None
        if redis_url is None:
            raise UsageError(f"--redis without a URL reads it from {REDIS_URL_ENV}, which is unset")
    if options.budget_key is not None and redis_url is None:
        raise UsageError("--budget-key names a budget shared through Redis: it needs --redis")
    if options.sandbox or options.dry_run:
        return Credentials(redis_url=redis_url)
    if options.oauth:
        names = (CLIENT_ID_ENV, CLIENT_SECRET_ENV, REFRESH_TOKEN_ENV)
        missing = [name for name in names if not environ.get(name)]
        if missing:
            raise UsageError(
                "--oauth reads the app's credentials from the environment: "
                f"set {', '.join(missing)}"
            )
        oauth = OAuthCredentials(*(environ[name] for name in names))
        return Credentials(oauth=oauth, redis_url=redis_url)
    token = environ.get(TOKEN_ENV) or None
    if token is None:
        raise UsageError(
            f"no HubSpot token: set {TOKEN_ENV} to a private app's access token "
            "(scopes: crm.objects.<type>.write for both object types), pass --oauth for a "
            "public app, or try the job against the built-in sandbox with --sandbox"
        )
    return Credentials(token=token, redis_url=redis_url)


def prepare(options: Options, environ: Mapping[str, str], redactor: Redactor) -> Job:
    """Check everything that can be checked before any file is written; open the input.

    The secrets found are added to ``redactor`` at once. The base URL, API
    version and token are checked by the client itself, when the run builds it.

    Raises:
        UsageError: the command cannot run as asked.
    """
    if options.sandbox and options.base_url is not None:
        raise UsageError("--sandbox and --base-url exclude each other")
    credentials = _credentials(options, environ)
    redactor.add(*credentials.secrets())
    if options.summary_json is not None:
        folder = Path(options.summary_json).parent
        if not folder.is_dir():
            raise UsageError(f"--summary-json: no such directory: {os.fspath(folder)!r}")
    reader = _open_reader(options)
    try:
        lines = count_lines(reader.path)
        operation, kind, output_path = _operation(options, reader)
    except OSError as exc:
        reader.close()
        raise UsageError(f"cannot read {options.input!r}: {exc}") from None
    except UsageError:
        reader.close()
        raise
    infix = ".sandbox" if options.sandbox else ""
    default_journal = f"{options.input}{infix}{kind}.journal"
    if output_path is not None:
        default_journal = f"{output_path}.journal"
    journal_path = Path(options.journal or default_journal)
    dead_path = Path(options.dead_letter) if options.dead_letter else None
    if dead_path is None:
        name = ".missing" if options.command == VERIFY else f"{kind}.dead"
        dead_path = default_dead_letter_path(reader.path, sandbox=options.sandbox, name=name)
    dead_flag = "--missing" if options.command == VERIFY else "--dead-letter"
    named = {"input": reader.path, "--journal": journal_path, dead_flag: dead_path}
    if output_path is not None:
        named["--out"] = output_path
    if options.summary_json is not None:
        named["--summary-json"] = Path(options.summary_json)
    resolved = {name: path.resolve() for name, path in named.items()}
    if len(set(resolved.values())) < len(resolved):
        reader.close()
        raise UsageError(f"{', '.join(named)} must each be a file of their own")
    return Job(
        options=options,
        reader=reader,
        journal_path=journal_path,
        dead_path=dead_path,
        lines=lines,
        total=max(0, lines - (reader.first_line - 1)),
        credentials=credentials,
        operation=operation,
        output_path=output_path,
    )


def _open_reader(options: Options) -> InputReader:
    """The input, opened and its header read.

    Raises:
        UsageError: it is missing, a directory, unreadable, or lacks the columns asked for.
    """
    input_path = Path(options.input)
    if input_path.is_dir():
        raise UsageError(f"{options.input!r} is a directory, not an input file")
    try:
        return InputReader(
            input_path,
            options.format,
            from_column=options.from_column,
            to_column=options.to_column,
            max_line_bytes=options.max_line_bytes,
            ids_only=options.command == EXPORT,
        )
    except FileNotFoundError:
        raise UsageError(f"no such input file: {options.input!r}") from None
    except (OSError, InputError) as exc:
        raise UsageError(f"cannot read {options.input!r}: {exc}") from None


def _operation(options: Options, reader: InputReader) -> tuple[Operation, str, Path | None]:
    """The job's operation, the infix of its default file names, and its output (an export).

    The infix keeps the default journals of different jobs on one file apart
    (``pairs.csv.journal``, ``pairs.csv.labels.journal``, ...), so that
    verifying a file after loading it does not meet the load's journal.

    Raises:
        UsageError: ``--out`` has no known extension, or its folder does not exist.
    """
    if options.command == EXPORT:
        assert options.out is not None
        out = Path(options.out)
        try:
            format = guess_format(out)
        except InputError:
            raise UsageError(
                f"--out {options.out!r}: the extension says the format: .csv, .jsonl or .ndjson"
            ) from None
        if not out.parent.is_dir():
            raise UsageError(f"--out: no such directory: {os.fspath(out.parent)!r}")
        if out.is_dir():
            raise UsageError(f"--out {options.out!r} is a directory, not a file")
        return Export(format), ".export", out
    if options.command == VERIFY:
        return Verify(options.types), ".verify", None
    if options.archive:
        return PairWrite("archive", options.types), ".archive", None
    labelled = bool(options.types) or reader.has_type_column
    return PairWrite("associate", options.types), ".labels" if labelled else "", None


_DIFFERENT_JOB_HINT = (
    ". Run the job's own command to resume it; or, to start over, delete the journal "
    "(and its dead-letter file), or pass --journal PATH for a new one"
)


def open_job_files(job: Job, redactor: Redactor) -> JobFiles:
    """Open (or create) the journal, read the dead-letter file back into its bitmap, and
    open an export's output cut back to what the journal vouches for.

    Every file writes through ``redactor``.

    Raises:
        UsageError: the files belong to another job, are damaged, or cannot be opened.
    """
    try:
        _refuse_a_leftover_dead_letter_file(job)
        identity = _identity(job)
        journal = Journal.open(job.journal_path, identity, lines=job.lines, redact=redactor.data)
        try:
            dead = DeadLetter.open(
                job.dead_path, done=journal.done, redact=redactor.data, **_dead_format(job)
            )
            output = _open_output(job, journal, redactor)
        except BaseException:
            journal.close()
            raise
    except JournalError as exc:
        hint = _DIFFERENT_JOB_HINT if "different job" in str(exc) else ""
        raise UsageError(f"{exc}{hint}") from None
    except (DeadLetterError, OutputError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot open the journal or the dead-letter file: {exc}") from None
    return JobFiles(journal, dead, output)


def _refuse_a_leftover_dead_letter_file(job: Job) -> None:
    """Refuse a non-empty dead-letter file without its journal: an earlier job's rows.

    Raises:
        UsageError: there is one.
        OSError: it cannot be looked at.
    """
    if job.journal_path.exists() or not job.dead_path.exists():
        return
    if not job.dead_path.stat().st_size:
        return
    what, flag = "dead-letter file", "--dead-letter"
    if job.options.command == VERIFY:
        what, flag = "missing-rows file", "--missing"
    raise UsageError(
        f"the {what} {os.fspath(job.dead_path)!r} exists but the journal "
        f"{os.fspath(job.journal_path)!r} does not: it is left from an earlier job. "
        f"Move it away (or pass {flag} PATH) and run again"
    )


def _identity(job: Job) -> JobIdentity:
    """What makes a run this job (its journal's header).

    Raises:
        OSError: the input cannot be read.
    """
    options, reader = job.options, job.reader
    return JobIdentity.of(
        reader.path,
        from_type=options.from_type,
        to_type=options.to_type,
        format=reader.format,
        from_column=reader.from_column,
        to_column=reader.to_column,
        dead_letter=job.dead_path,
        sandbox=options.sandbox,
        operation=job.operation.name,
        types=describe_types(options.types),
        output=job.output_path,
    )


def _dead_format(job: Job) -> dict[str, Any]:
    """The dead-letter file's format and columns: the input's, or CSV by its extension.

    Rows of JSON Lines written to a ``.csv`` file (``--missing rows.csv``)
    get the columns the job reads: the ids, and for pairs the type columns.
    """
    reader = job.reader
    try:
        format = guess_format(job.dead_path)
    except InputError:
        format = reader.format
    if format != "csv" or reader.format == "csv":
        return {"format": reader.format, "input_header": reader.header}
    columns = [reader.from_column]
    if not reader.ids_only:
        columns += [reader.to_column, DEFAULT_TYPE_COLUMN, DEFAULT_CATEGORY_COLUMN]
    return {"format": "csv", "input_header": columns, "json_rows": True}


def _open_output(job: Job, journal: Journal, redactor: Redactor) -> OutputFile | None:
    """An export's output, cut back to what ``journal`` vouches for; ``None`` for other jobs.

    Raises:
        OutputError: the output is another run's, or was changed.
        OSError: it cannot be opened or written.
    """
    operation = job.operation
    if job.output_path is None or not isinstance(operation, Export):
        return None
    return OutputFile.open(
        job.output_path,
        size=journal.output_size,
        created=journal.created,
        header=operation.header(),
        redact=redactor.data,
    )

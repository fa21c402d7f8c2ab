"""What the command tells its user and its job runner: banner, summary, advice, summary JSON.

Pure text from typed results: :func:`verdict` turns a run's
:class:`~hubassoc.backfill.Summary` into a :class:`Verdict` (exit status,
status word, advice); :func:`summary_text` is the table on stdout;
:func:`summary_document` the ``--summary-json`` document, which
:func:`write_json_atomically` puts in place whole or not at all.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgspec

from hubassoc import TOKEN_ENV
from hubassoc.backfill._dead_letter import DeadLetter
from hubassoc.backfill._journal import Journal
from hubassoc.backfill._options import (
    BACKFILL,
    BACKFILL_BATCH_SIZE,
    EXPORT,
    VERIFY,
    Options,
    resume_command,
)
from hubassoc.backfill._progress import format_duration
from hubassoc.backfill._reader import (
    DEFAULT_FROM_COLUMN,
    DEFAULT_ID_COLUMN,
    DEFAULT_TO_COLUMN,
    BadRow,
    InputReader,
)
from hubassoc.backfill._runner import StopReason, Summary

__all__ = [
    "EXIT_DAILY_LIMIT",
    "EXIT_FAILED_ROWS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "DryRun",
    "SummaryDocument",
    "Verdict",
    "banner",
    "dry_run_text",
    "summary_document",
    "summary_text",
    "unit",
    "verdict",
    "write_json_atomically",
]

EXIT_OK: Final = 0
EXIT_FAILED_ROWS: Final = 1
EXIT_USAGE: Final = 2
EXIT_DAILY_LIMIT: Final = 3
EXIT_INTERRUPTED: Final = 130

_HEADLINES: Final[Mapping[StopReason | None, str]] = {
    None: "finished",
    StopReason.INTERRUPTED: "interrupted",
    StopReason.DAILY_LIMIT: "stopped at HubSpot's daily request limit",
    StopReason.AUTHENTICATION: "stopped: HubSpot refused the token",
    StopReason.FAILING: "stopped: HubSpot kept failing",
}
_STATUS_WORDS: Final[Mapping[StopReason | None, str]] = {
    None: "finished",
    StopReason.INTERRUPTED: "interrupted",
    StopReason.DAILY_LIMIT: "daily_limit",
    StopReason.AUTHENTICATION: "authentication_refused",
    StopReason.FAILING: "failing",
}


def describe_input(reader: InputReader) -> str:
    """``csv, columns from_id -> to_id`` (``csv, column id`` for a list of records)."""
    kind = "columns" if reader.format == "csv" else "keys"
    if reader.ids_only:
        return f"{reader.format}, {kind[:-1]} {reader.from_column}"
    types = f", types from {kind[:-1]} association_type_id" if reader.has_type_column else ""
    return f"{reader.format}, {kind} {reader.from_column} -> {reader.to_column}{types}"


def unit(options: Options) -> str:
    """What one row of the job is, in rates: ``pairs``, or ``records`` (an export)."""
    return "records" if options.command == EXPORT else "pairs"


def _dead_name(options: Options) -> str:
    """What the job calls its dead-letter file."""
    return "missing-rows file" if options.command == VERIFY else "dead-letter file"


def by_category(counts: Mapping[str, int]) -> str:
    """`` (OBJECT_NOT_FOUND 3, INVALID_ID 1)``, most first; empty for no counts."""
    if not counts:
        return ""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return " (" + ", ".join(f"{name} {count:,}" for name, count in ordered) + ")"


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{format_duration(seconds)} ({seconds:,.0f} s)"


# --- dry run -------------------------------------------------------------------------------


@dataclass(slots=True)
class DryRun:
    """What a ``--dry-run`` found in the input."""

    good: int = 0
    bad: dict[str, int] = field(default_factory=dict)  #: bad rows by category
    shown: list[BadRow] = field(default_factory=list)  #: the first bad rows

    @property
    def bad_count(self) -> int:
        return sum(self.bad.values())


def dry_run_text(options: Options, reader: InputReader, found: DryRun) -> str:
    """The report of a ``--dry-run``."""
    bad = found.bad
    lines = [
        f"{options.prog} --dry-run: {options.input} ({describe_input(reader)}); nothing was sent",
        f"  rows        {found.good + found.bad_count:,}",
        f"  good        {found.good:,}",
        f"  bad         {found.bad_count:,}{by_category(bad)}",
    ]
    if reader.blank_lines:
        lines.append(f"  blank lines {reader.blank_lines:,} (skipped)")
    if found.shown:
        lines.append("  first bad rows:")
        lines += [f"    line {row.line}: {row.category}: {row.message}" for row in found.shown]
    return "\n".join(lines)


# --- a run ---------------------------------------------------------------------------------


def banner(
    options: Options,
    reader: InputReader,
    *,
    total: int,
    target: str,
    journal: Journal,
    dead: DeadLetter,
    skipped: int,
) -> str:
    """What the run is about to do (stderr, before the progress display)."""
    lines = [
        f"{options.prog}: {options.input}: {total:,} rows ({describe_input(reader)}), "
        f"{options.from_type} -> {options.to_type}, to {target}",
    ]
    if reader.columns_guessed and reader.ids_only:
        lines.append(
            f"  no {DEFAULT_ID_COLUMN!r} in the header: reading {reader.from_column!r} as the "
            "record ids (--id-column to choose)"
        )
    elif reader.columns_guessed:
        lines.append(
            f"  no {DEFAULT_FROM_COLUMN!r}/{DEFAULT_TO_COLUMN!r} in the header: reading "
            f"{reader.from_column!r} as from ids and {reader.to_column!r} as to ids "
            "(--from-column/--to-column to choose)"
        )
    dead_name = _dead_name(options)
    lines.append(f"  journal {journal.path}, {dead_name} {dead.path}")
    if options.out is not None:
        kept = "" if journal.created else f" (the {journal.output_size:,} bytes journalled kept)"
        lines.append(f"  output {options.out}{kept}")
    if not journal.created:
        lines.append(
            f"  resuming: {skipped:,} rows done by an earlier run "
            f"({journal.previously_done:,} done, {dead.previous:,} in the "
            f"{dead_name}) are skipped"
        )
    return "\n".join(lines)


def summary_text(options: Options, summary: Summary, journal: Path, dead: Path) -> str:
    """The summary table printed on stdout at the end of a run."""
    s = summary
    rows = [
        (s.done_word, f"{s.associated:,}"),
        (s.failed_word, f"{s.failed:,}{by_category(s.failed_by_category)}"),
        ("bad rows", f"{s.bad:,}{by_category(s.bad_by_category)}"),
        ("already done", f"{s.skipped:,} (skipped: done by an earlier run)"),
    ]
    if s.blank:
        rows.append(("blank lines", f"{s.blank:,}"))
    if s.remaining:
        rows.append(("not done yet", f"{s.remaining:,}"))
    rows += [
        ("requests", f"{s.requests:,} (retries {s.retries:,}, 429s {s.rate_limited:,})"),
        ("elapsed", f"{_elapsed(s.elapsed)}, {s.pairs_per_second:,.0f} {unit(options)}/s"),
        (
            "missing file" if options.command == VERIFY else "dead-letter",
            f"{dead} ({s.dead_letter_rows:,} rows)",
        ),
        ("journal", f"{journal}"),
    ]
    if options.out is not None:
        rows.append(("output", options.out))
    body = "\n".join(f"  {name:<13}{value}" for name, value in rows)
    return (
        f"{options.prog}: {_HEADLINES[s.stop]}: {options.input} ({options.from_type} -> "
        f"{options.to_type}), {s.done:,}/{s.total:,} rows done\n{body}"
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a run ended: its exit status, a status word, and what to tell the user."""

    exit_status: int
    status: str
    advice: str | None


def verdict(options: Options, summary: Summary, dead_path: Path) -> Verdict:
    """The exit status of a run that produced ``summary``, and what to do next."""
    again = resume_command(options)
    prog = options.prog
    stop = summary.stop
    status = _STATUS_WORDS[stop]
    if stop is StopReason.DAILY_LIMIT:
        return Verdict(
            EXIT_DAILY_LIMIT,
            status,
            f"{prog}: HubSpot's daily API request limit is spent ({summary.stop_error}).\n"
            "  It resets at midnight in the HubSpot account's time zone. Nothing is lost: "
            f"run the same command after that to resume:\n    {again}",
        )
    if stop is StopReason.AUTHENTICATION:
        what = "the app's credentials (--oauth)" if options.oauth else TOKEN_ENV
        return Verdict(
            EXIT_USAGE,
            status,
            f"{prog}: HubSpot refused the token ({summary.stop_error}).\n"
            f"  Check {what} and the app's scopes, then run the same command to "
            f"resume:\n    {again}",
        )
    if stop is StopReason.INTERRUPTED:
        return Verdict(
            EXIT_INTERRUPTED,
            status,
            f"{prog}: interrupted. Nothing is lost: to resume, run:\n    {again}",
        )
    if stop is StopReason.FAILING:
        return Verdict(
            EXIT_FAILED_ROWS,
            status,
            f"{prog}: stopped after batch upon batch failed whole ({summary.stop_error}); "
            "HubSpot or the network seems down.\n"
            f"  Nothing is lost: run the same command later to resume:\n    {again}",
        )
    if not summary.dead_letter_rows:
        return Verdict(EXIT_OK, status, None)
    advice = None
    if not options.quiet:
        if options.command == VERIFY:
            # What is missing is loaded by a backfill of the missing rows themselves.
            load = dataclasses.replace(options, command=BACKFILL, batch_size=BACKFILL_BATCH_SIZE)
            rerun = resume_command(load, input=os.fspath(dead_path))
            what, then = "rows are not in HubSpot; they are", "To load them"
        else:
            rerun = resume_command(options, input=os.fspath(dead_path))
            what, then = "rows are", "Once fixed, send them as a job of their own"
        advice = (
            f"{prog}: {summary.dead_letter_rows:,} {what} in the {_dead_name(options)} "
            f"{dead_path} with the reason for each (columns _line, _category, "
            f"_error). {then}:\n    {rerun}"
        )
    return Verdict(EXIT_FAILED_ROWS, status, advice)


# --- the summary as JSON ---------------------------------------------------------------------


class SummaryDocument(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The ``--summary-json`` document: how the job went, for a job runner.

    ``status`` is one of ``finished``, ``interrupted``, ``daily_limit``,
    ``authentication_refused``, ``failing``, ``error`` (a file could not be
    written mid-run) and ``usage_error`` (nothing was sent); ``rows`` counts
    input lines by outcome, ``failed_by_category``/``bad_by_category`` the
    dead-lettered ones by why. No secret is ever part of it.
    """

    status: str
    exit_status: int
    input: str
    from_type: str
    to_type: str
    rows: dict[str, int] = msgspec.field(default_factory=dict)
    failed_by_category: dict[str, int] = msgspec.field(default_factory=dict)
    bad_by_category: dict[str, int] = msgspec.field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  #: 429 answers
    elapsed_seconds: float = 0.0
    pairs_per_second: float = 0.0
    journal: str | None = None
    dead_letter: str | None = None
    output: str | None = None  #: an export's output file
    resume_command: str | None = None
    error: str | None = None


def summary_document(
    options: Options,
    *,
    status: str,
    exit_status: int,
    summary: Summary | None = None,
    journal: Path | None = None,
    dead: Path | None = None,
    error: str | None = None,
) -> SummaryDocument:
    """The ``--summary-json`` document of a run (``summary``) or of a run that did not start."""
    document = SummaryDocument(
        status=status,
        exit_status=exit_status,
        input=options.input,
        from_type=options.from_type,
        to_type=options.to_type,
        journal=os.fspath(journal) if journal is not None else None,
        dead_letter=os.fspath(dead) if dead is not None else None,
        output=options.out,
        resume_command=resume_command(options) if exit_status != EXIT_OK else None,
        error=error,
    )
    if summary is not None:
        s = summary
        document.rows = {
            "total": s.total,
            "done": s.done,
            "remaining": s.remaining,
            s.done_word: s.associated,
            s.failed_word: s.failed,
            "bad": s.bad,
            "skipped": s.skipped,
            "blank": s.blank,
            "in_dead_letter_file": s.dead_letter_rows,
        }
        document.failed_by_category = dict(s.failed_by_category)
        document.bad_by_category = dict(s.bad_by_category)
        document.requests = s.requests
        document.retries = s.retries
        document.rate_limited = s.rate_limited
        document.elapsed_seconds = round(s.elapsed, 3)
        document.pairs_per_second = round(s.pairs_per_second, 1)
        document.error = document.error or s.stop_error
    return document


def write_json_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` whole: a temporary file, fsynced, renamed into place.

    Raises:
        OSError: it cannot be written.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

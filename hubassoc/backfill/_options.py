"""The command lines of the bulk jobs: their options, parsed into :class:`Options`, and back.

Three sub-commands share one set of options (input, target, pacing, files,
display): ``hubassoc backfill`` (create, ``--types`` for labels;
``--archive`` to remove), ``hubassoc verify`` (``--missing``) and ``hubassoc
export`` (``--out``). :func:`add_parser` registers one; :meth:`Options.of` turns the
parsed namespace into a typed, frozen :class:`Options`; :func:`command_line`
builds an argument list (the one resume command, tests and benchmarks all
use it), and :func:`resume_command` the text that runs the same job again.

Secrets never come from the command line, where the process list and the
shell history would show them: ``--token`` and the OAuth credential flags are
refused without echoing their values, and so is a Redis URL with a password.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NoReturn

from hubassoc import (
    DEFAULT_API_VERSION,
    TOKEN_ENV,
    AssociationSpec,
    RateLimit,
    check_object_type,
)
from hubassoc.backfill._reader import (
    DEFAULT_FROM_COLUMN,
    DEFAULT_ID_COLUMN,
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_TO_COLUMN,
    Format,
    parse_spec,
)

__all__ = [
    "BACKFILL",
    "BACKFILL_BATCH_SIZE",
    "CLIENT_ID_ENV",
    "CLIENT_SECRET_ENV",
    "COMMANDS",
    "EXPORT",
    "REDIS_URL_ENV",
    "REFRESH_TOKEN_ENV",
    "VERIFY",
    "Options",
    "add_parser",
    "command_line",
    "resume_command",
]

BACKFILL: Final = "backfill"
VERIFY: Final = "verify"
EXPORT: Final = "export"
COMMANDS: Final = (BACKFILL, VERIFY, EXPORT)
CLIENT_ID_ENV: Final = "HUBSPOT_CLIENT_ID"
CLIENT_SECRET_ENV: Final = "HUBSPOT_CLIENT_SECRET"
REFRESH_TOKEN_ENV: Final = "HUBSPOT_REFRESH_TOKEN"
#: Where ``--redis`` given alone finds its URL (one with a password belongs there).
REDIS_URL_ENV: Final = "HUBASSOC_REDIS_URL"

_DEFAULT_BATCH_SIZE: Final = 100
#: A backfill's default chunk: 100 pairs a request, as most clients send (docs/hubspot.md).
BACKFILL_BATCH_SIZE: Final = _DEFAULT_BATCH_SIZE
#: Reads take up to 1,000 ids a request (docs/hubspot.md, "Batch size"): one chunk, one request.
_DEFAULT_READ_BATCH_SIZE: Final = 1000
_DEFAULT_CONCURRENCY: Final = 8
_DEFAULT_PROGRESS_INTERVAL: Final = 2.0
#: ``--redis`` given without a URL: the URL is read from :data:`REDIS_URL_ENV`.
_FROM_ENVIRONMENT: Final = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """One bulk job's command line, checked and typed.

    ``command`` is the sub-command (:data:`COMMANDS`); the others are its
    options. ``from_column`` is export's ``--id-column``, ``dead_letter``
    verify's ``--missing``.
    """

    input: str
    from_type: str
    to_type: str
    format: Format | None = None
    from_column: str | None = None
    to_column: str | None = None
    sandbox: bool = False
    base_url: str | None = None
    rate_limit: RateLimit | Literal[False] | None = None  #: ``None``: adaptive
    batch_size: int = _DEFAULT_BATCH_SIZE
    api_version: str = DEFAULT_API_VERSION
    concurrency: int = _DEFAULT_CONCURRENCY
    journal: str | None = None
    dead_letter: str | None = None
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    dry_run: bool = False
    quiet: bool = False
    progress_interval: float = _DEFAULT_PROGRESS_INTERVAL
    summary_json: str | None = None
    #: A Redis URL for a budget shared with other processes; ``""``: from the environment.
    redis: str | None = None
    budget_key: str | None = None
    oauth: bool = False
    command: str = BACKFILL
    #: The job's association types (``--types``): labels to create, verify or remove.
    types: tuple[AssociationSpec, ...] = ()
    archive: bool = False  #: remove rather than create (``backfill --archive``)
    out: str | None = None  #: the output file (``export --out``)

    @classmethod
    def of(cls, namespace: argparse.Namespace) -> Options:
        """The options of a namespace parsed by the parser of :func:`add_parser`."""
        fields = cls.__dataclass_fields__
        values = {name: getattr(namespace, name) for name in fields if hasattr(namespace, name)}
        groups = values.get("types") or ()
        values["types"] = tuple(dict.fromkeys(spec for group in groups for spec in group))
        return cls(**values)

    @property
    def prog(self) -> str:
        """``hubassoc backfill`` (or verify, export): how messages name the command."""
        return f"hubassoc {self.command}"


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


def _types(text: str) -> tuple[AssociationSpec, ...]:
    """``USER_DEFINED:5`` (or several, comma-separated) as association types."""
    try:
        return tuple(parse_spec(part) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{exc}; expected CATEGORY:TYPE_ID, e.g. USER_DEFINED:5"
        ) from None


def _rate_limit(text: str) -> RateLimit | Literal[False]:
    if text.strip().lower() in ("off", "none"):
        return False
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, or 'off'") from None


def _redis_url(text: str) -> str:
    """A Redis URL without credentials (those belong in the environment); never echoed."""
    # Any user info at all counts: a password with a "/" in it defeats URL parsing.
    if "@" in text:
        raise argparse.ArgumentTypeError(
            "the URL holds credentials, which the process list and the shell history "
            f"would show: set {REDIS_URL_ENV} to the URL and pass --redis alone"
        )
    return text  # "" (the flag alone): the URL is read from the environment


class _Refuse(argparse.Action):
    """A flag that would put a secret on the command line: refused, its value never echoed."""

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = source

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> NoReturn:
        parser.error(
            f"{option_string} is not an option: {self.source}, so that it never shows "
            "in the process list or the shell history"
        )


_CREDENTIALS = (
    f"The token is read from {TOKEN_ENV} (or, with --oauth, a public app's credentials "
    f"from {CLIENT_ID_ENV}, {CLIENT_SECRET_ENV} and {REFRESH_TOKEN_ENV}); --sandbox needs none."
)
_AGAIN = "After any stop, run the same command again to resume."
#: Per command: its help line, its description, and its exit statuses.
_TEXTS: Final[dict[str, tuple[str, str, str]]] = {
    BACKFILL: (
        "associate (or, with --archive, unassociate) pairs of records listed in a file",
        "Stream pairs of record ids from INPUT into HubSpot associations: default ones; "
        "with --types (or an association_type_id column) labelled ones; with --archive, "
        "remove them instead. Progress is journalled, so running the same command again "
        "resumes.",
        "exit status: 0 all rows done; 1 some rows in the dead-letter file; "
        "2 usage error; 3 stopped at HubSpot's daily limit; 130 interrupted.",
    ),
    VERIFY: (
        "check that the pairs listed in a file are associated in HubSpot",
        "Read back every row's from record (1,000 records a request, every page) and write "
        "each row whose pair (or type, with --types or an association_type_id column) is "
        "not in HubSpot to the --missing file, with the reason.",
        "exit status: 0 every row is there; 1 some rows are missing (see --missing); "
        "2 usage error; 3 stopped at HubSpot's daily limit; 130 interrupted.",
    ),
    EXPORT: (
        "write every association of the records listed in a file",
        "Read every association of each record in IDS_FILE (1,000 records a request, every "
        "page) to --out: one line per association type between two records (from_id, "
        "to_id, category, type_id, label), CSV or JSON Lines by its extension.",
        "exit status: 0 every record exported; 1 some in the dead-letter file; "
        "2 usage error; 3 stopped at HubSpot's daily limit; 130 interrupted.",
    ),
}


def add_parser(subparsers: Any, command: str = BACKFILL) -> argparse.ArgumentParser:
    """Register sub-command ``command`` (:data:`COMMANDS`) on argparse sub-parsers; returns it.

    Raises:
        ValueError: an unknown command.
    """
    if command not in _TEXTS:
        raise ValueError(f"unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    help_text, description, statuses = _TEXTS[command]
    parser: argparse.ArgumentParser = subparsers.add_parser(
        command,
        help=help_text,
        description=f"{description} {_CREDENTIALS}",
        epilog=f"{statuses} {_AGAIN}",
    )
    parser.set_defaults(command=command)
    add = parser.add_argument
    _add_input(parser, command)
    add("--from-type", required=True, type=_object_type, metavar="TYPE", help="e.g. contacts")
    add("--to-type", required=True, type=_object_type, metavar="TYPE", help="e.g. companies")
    _add_job(parser, command)
    _add_target(parser)
    _add_files(parser, command)
    return parser


def _add_input(parser: argparse.ArgumentParser, command: str) -> None:
    """The input file and how to read it: pairs, or (export) a list of ids."""
    add = parser.add_argument
    if command == EXPORT:
        add("input", metavar="IDS_FILE", help="CSV (with a header row) or JSON Lines of record ids")
        add(
            "--id-column",
            dest="from_column",
            metavar="NAME",
            default=None,
            help=f"column (CSV) or key (JSONL) of the ids (default: {DEFAULT_ID_COLUMN}; "
            "a CSV header without it is read by position: first column)",
        )
    else:
        add("input", metavar="INPUT", help="CSV (with a header row) or JSON Lines file of id pairs")
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
        "--format",
        choices=("csv", "jsonl"),
        default=None,
        help="input format (default: from the extension: .csv, .jsonl or .ndjson)",
    )
    add(
        "--max-line-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_LINE_BYTES,
        metavar="N",
        help="longest input line read, in bytes; a longer line is a LINE_TOO_LONG bad row, "
        "skipped without being held in memory (default: %(default)s)",
    )


def _add_job(parser: argparse.ArgumentParser, command: str) -> None:
    """What the job does and how fast: types, --archive, chunk size, display."""
    add = parser.add_argument
    if command != EXPORT:
        action = {BACKFILL: "create (or with --archive remove)", VERIFY: "check"}[command]
        add(
            "--types",
            type=_types,
            action="append",
            default=None,
            metavar="CATEGORY:ID",
            help=f"association types to {action} for every row, e.g. USER_DEFINED:5 "
            "(repeatable, or comma-separated); a row's own association_type_id (and "
            "association_category, default USER_DEFINED) column wins",
        )
    if command == BACKFILL:
        add(
            "--archive",
            action="store_true",
            help="remove each row's associations (every one between the two records, or "
            "with --types only those types); a pair that was not associated is no error",
        )
    else:
        parser.set_defaults(types=None, archive=False)
    batch = _DEFAULT_BATCH_SIZE if command == BACKFILL else _DEFAULT_READ_BATCH_SIZE
    unit = "pairs" if command == BACKFILL else "records read"
    add(
        "--batch-size",
        type=_positive_int,
        default=batch,
        metavar="N",
        help=f"{unit} per request (default: %(default)s)",
    )
    add(
        "--concurrency",
        type=_positive_int,
        default=_DEFAULT_CONCURRENCY,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
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


def _add_target(parser: argparse.ArgumentParser) -> None:
    """Where the job goes and as whom: sandbox, URL, OAuth, pacing, API version."""
    add = parser.add_argument
    add(
        "--sandbox",
        action="store_true",
        help="run against the built-in sandbox (in-process, Free-tier pacing); no token needed "
        "(with --oauth, the sandbox plays the OAuth server too)",
    )
    add(
        "--base-url",
        default=None,
        metavar="URL",
        help="a proxy or another HubSpot-compatible host (default: https://api.hubapi.com; "
        "plain http only to loopback)",
    )
    add(
        "--oauth",
        action="store_true",
        help=f"authenticate as a public (OAuth) app: {CLIENT_ID_ENV}, {CLIENT_SECRET_ENV} and "
        f"{REFRESH_TOKEN_ENV} are read from the environment and the access token is "
        f"refreshed before it expires ({TOKEN_ENV} is then not used)",
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
        "--redis",
        type=_redis_url,
        nargs="?",
        const=_FROM_ENVIRONMENT,
        default=None,
        metavar="URL",
        help="share one rate-limit budget through Redis with every other process of the same "
        "HubSpot app (e.g. redis://localhost:6379/0); alone, the URL is read from "
        f"{REDIS_URL_ENV} (where a URL with a password belongs)",
    )
    add(
        "--budget-key",
        default=None,
        metavar="KEY",
        help="the shared budget's name in Redis, the same for every process of one app "
        "(default: one derived from the app's credentials); needs --redis",
    )
    add(
        "--api-version",
        default=DEFAULT_API_VERSION,
        metavar="VERSION",
        help="v4 or a date version such as 2026-03 (default: %(default)s)",
    )
    refusals = (
        (("--token", "--access-token"), f"the token is read from {TOKEN_ENV} only"),
        (("--client-id",), f"the OAuth client id is read from {CLIENT_ID_ENV} only"),
        (("--client-secret",), f"the OAuth client secret is read from {CLIENT_SECRET_ENV} only"),
        (("--refresh-token",), f"the OAuth refresh token is read from {REFRESH_TOKEN_ENV} only"),
    )
    for flags, source in refusals:
        add(*flags, nargs="?", action=_Refuse, source=source, help=argparse.SUPPRESS)


def _add_files(parser: argparse.ArgumentParser, command: str) -> None:
    """The files the job writes: output (export), journal, dead-letter or missing rows, summary."""
    add = parser.add_argument
    if command == EXPORT:
        add(
            "--out",
            required=True,
            metavar="FILE",
            help="where the associations go: CSV (.csv) or JSON Lines (.jsonl, .ndjson)",
        )
        journal = "OUT.journal"
    elif command == VERIFY:
        journal = "INPUT.verify.journal"
    else:
        journal = "INPUT.journal; INPUT.labels.journal, INPUT.archive.journal"
    add(
        "--journal",
        default=None,
        metavar="PATH",
        help=f"the progress journal (default: {journal}; .sandbox before .journal with --sandbox)",
    )
    if command == VERIFY:
        add(
            "--missing",
            dest="dead_letter",
            default=None,
            metavar="PATH",
            help="where the rows not in HubSpot go, with the reason (default: INPUT with "
            ".missing before the extension, e.g. pairs.missing.csv)",
        )
    else:
        add(
            "--dead-letter",
            default=None,
            metavar="PATH",
            help="where rows that fail go (default: the input with .dead before the "
            "extension, e.g. pairs.dead.csv; .sandbox.dead with --sandbox)",
        )
    add(
        "--summary-json",
        default=None,
        metavar="PATH",
        help="also write the final summary as JSON to PATH (atomically, whatever the exit "
        "status), for a job runner such as Airflow or cron",
    )


# --- and back to a command line ------------------------------------------------------------


def command_line(
    input: str | os.PathLike[str],
    *options: str,
    from_type: str,
    to_type: str,
    program: Sequence[str] = ("hubassoc",),
    command: str = BACKFILL,
) -> list[str]:
    """``hubassoc backfill INPUT --from-type T --to-type T OPTIONS...`` as an argument list.

    ``program`` is what runs ``hubassoc``: ``(sys.executable, "-m", "hubassoc")``
    to start it as a child process of this interpreter; ``command`` is
    ``backfill``, ``verify`` or ``export``.
    """
    return [
        *program,
        command,
        os.fspath(input),
        "--from-type",
        from_type,
        "--to-type",
        to_type,
        *options,
    ]


def resume_command(options: Options, *, input: str | None = None) -> str:
    """The command line that runs this job again (resumes it); ``input`` swaps the input.

    With ``input``, the journal, dead-letter and summary options are left out
    (a new job, on the dead-letter file say). No secret is ever part of it.
    """
    o = options
    reads = o.command != BACKFILL
    flags: list[tuple[str, Any, Any]] = [
        ("--format", o.format, None),
        ("--id-column" if o.command == EXPORT else "--from-column", o.from_column, None),
        ("--to-column", o.to_column, None),
        ("--out", o.out, None),
        *(("--types", f"{t.association_category}:{t.association_type_id}", None) for t in o.types),
        ("--base-url", o.base_url, None),
        ("--batch-size", o.batch_size, _DEFAULT_READ_BATCH_SIZE if reads else _DEFAULT_BATCH_SIZE),
        ("--api-version", o.api_version, DEFAULT_API_VERSION),
        ("--concurrency", o.concurrency, _DEFAULT_CONCURRENCY),
        ("--progress-interval", o.progress_interval, _DEFAULT_PROGRESS_INTERVAL),
        ("--max-line-bytes", o.max_line_bytes, DEFAULT_MAX_LINE_BYTES),
        ("--redis", o.redis or None, None),
        ("--budget-key", o.budget_key, None),
    ]
    if input is None:
        flags += [
            ("--journal", o.journal, None),
            ("--missing" if o.command == VERIFY else "--dead-letter", o.dead_letter, None),
            ("--summary-json", o.summary_json, None),
        ]
    parts: list[str] = []
    for flag, value, default in flags:
        if value != default:
            parts += [flag, str(value)]
    if o.redis == _FROM_ENVIRONMENT:
        parts.append("--redis")
    limit = o.rate_limit
    if limit is False:
        parts += ["--rate-limit", "off"]
    elif isinstance(limit, RateLimit):
        parts += ["--rate-limit", f"{limit.requests}/{limit.per:g}"]
    switches = (
        ("--archive", o.archive),
        ("--sandbox", o.sandbox),
        ("--oauth", o.oauth),
        ("--quiet", o.quiet),
    )
    parts += [flag for flag, on in switches if on]
    argv = command_line(
        input if input is not None else o.input,
        *parts,
        from_type=o.from_type,
        to_type=o.to_type,
        command=o.command,
    )
    return shlex.join(argv)

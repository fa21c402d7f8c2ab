"""``hubassoc backfill``: stream pairs of record ids from a file into HubSpot associations.

The job a data engineer runs ("associate these 3 million contacts with their
companies"): the input is read as it is sent, every completed batch is
journalled so that a killed run resumes where it stopped, and every row that
cannot be associated lands in a dead-letter file that is itself valid input.

Modules, one concern each:

* :mod:`._reader`: CSV / JSON Lines rows with line numbers, bad rows with reasons;
* :mod:`._journal`: the append-only record of associated lines, and the job identity;
* :mod:`._dead_letter`: the file of rows that failed, re-readable as input;
* :mod:`._runner`: the asyncio pipeline that sends chunks and journals their outcomes;
* :mod:`._progress`: the live progress bar, or plain periodic log lines;
* :mod:`._redact`: the one place secrets are taken out of whatever the backfill writes;
* the command line, one step per module: :mod:`._options` (parsing, and
  :func:`command_line` back), :mod:`._job` (checks, credentials, the job's
  files), :mod:`._target` (the client, the sandbox), :mod:`._stops` (signals,
  log lines), :mod:`._report` (summary, advice, summary JSON), and
  :mod:`._command`, which runs them in turn.
"""

from hubassoc.backfill._dead_letter import DeadLetter
from hubassoc.backfill._journal import JobIdentity, Journal, JournalError, JournalMismatchError
from hubassoc.backfill._options import command_line
from hubassoc.backfill._reader import BadRow, InputError, InputReader, Row, count_lines
from hubassoc.backfill._runner import Backfill, Counters, StopReason, Summary

__all__ = [
    "Backfill",
    "BadRow",
    "Counters",
    "DeadLetter",
    "InputError",
    "InputReader",
    "JobIdentity",
    "Journal",
    "JournalError",
    "JournalMismatchError",
    "Row",
    "StopReason",
    "Summary",
    "command_line",
    "count_lines",
]

"""The bulk jobs: ``hubassoc backfill``, ``verify`` and ``export``, streamed from a file.

The job a data engineer runs ("associate these 3 million contacts with their
companies", with labels or without; remove them again; check that they are
all there; write out what is associated with these records): the input is
read as it is sent, every completed chunk is journalled so that a killed run
resumes where it stopped, and every row that does not succeed lands in a
dead-letter file (verify's missing-rows file) that is itself valid input.
One pipeline runs every job; what a job does to a chunk is a small
description (:mod:`._operations`).

Modules, one concern each:

* :mod:`._reader`: CSV / JSON Lines rows (pairs, with their types, or lists
  of ids) with line numbers, bad rows with reasons;
* :mod:`._journal`: the append-only record of done lines, and the job identity;
* :mod:`._dead_letter`: the file of rows that failed, re-readable as input;
* :mod:`._output`: an export's output, cut back to the journal on resume;
* :mod:`._operations`: per job, the client call of a chunk and what makes a row done;
* :mod:`._runner`: the asyncio pipeline that sends chunks and journals their outcomes;
* :mod:`._progress`: the live progress bar, or plain periodic log lines;
* :mod:`._redact`: the one place secrets are taken out of whatever the jobs write;
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

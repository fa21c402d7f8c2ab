"""What each bulk job does to a chunk of rows: one small description per operation.

The pipeline (:class:`~hubassoc.backfill.Backfill`) reads, chunks, sends,
journals and dead-letters the same way for every job; an :class:`Operation`
says only what is particular to one:

* how a chunk goes out: one explicit batch call of the client, whose
  :class:`~hubassoc.BatchOutcome` is keyed by pair or by from id;
* which key of the outcome answers a row (:meth:`Operation.key`);
* whether an answered row is done or not, and why not
  (:meth:`Operation.checker`: a verification finds the pair, and its types,
  in the records read back);
* what a done row writes to the output file (:meth:`Operation.output`: an
  export's lines).

The descriptions:

* :class:`PairWrite` ``associate``: default associations
  (``batch/associate/default``), or, for a row with its own association type
  or a job with ``--types``, those types (``batch/create``);
* :class:`PairWrite` ``archive``: every association between the two records
  (``batch/archive``), or only the row's or the job's types
  (``batch/labels/archive``);
* :class:`Verify`: each row's from record read back (``batch/read``, every
  page), the row done when its pair (and its types, if any) is there;
* :class:`Export`: each listed record read back, its associations written
  to the output, one line per association type.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Final

import msgspec

from hubassoc import (
    AssociationsClient,
    AssociationSpec,
    BatchOutcome,
    HubSpotError,
    MultiAssociatedObjectWithLabel,
)
from hubassoc.backfill._reader import Format, Row

__all__ = [
    "EXPORT_COLUMNS",
    "NOT_ASSOCIATED",
    "TYPE_MISSING",
    "Check",
    "Export",
    "Operation",
    "PairWrite",
    "Problem",
    "Verify",
    "describe_types",
]

#: Why a verified row is not in HubSpot: the two records are not associated at all,
NOT_ASSOCIATED: Final = "NOT_ASSOCIATED"
#: or they are, but not with (every one of) the row's types.
TYPE_MISSING: Final = "TYPE_MISSING"
#: The fields of an export's lines, in order.
EXPORT_COLUMNS: Final = ("from_id", "to_id", "category", "type_id", "label")

#: Why a row answered by HubSpot is not done: a category and a message.
Problem = tuple[str, str]
#: Whether one answered row is done (``None``) or not (its :data:`Problem`).
Check = Callable[[Row, Any], Problem | None]
_Outcome = BatchOutcome[Any, Any]
_json_encode = msgspec.json.Encoder().encode


def describe_types(types: Sequence[AssociationSpec]) -> str:
    """``USER_DEFINED:5,HUBSPOT_DEFINED:1`` (empty for none)."""
    return ",".join(f"{t.association_category}:{t.association_type_id}" for t in types)


def _done(row: Row, result: Any) -> Problem | None:
    """Every answered row is done (writes, exports)."""
    return None


class Operation:
    """What a bulk job does to a chunk; the base answers rows by pair.

    Attributes:
        name: the job's operation, as its journal names it.
        done_word: what a done row is called in the summary (``associated``).
        failed_word: what a row that is not done is called (``failed``).
        unit: what one row is, in rates (``pairs``).
        writes_output: whether done rows write to an output file.
        chunk_by_key: whether a chunk counts distinct keys rather than rows
            (a read's request holds distinct records, whatever rows name them).
    """

    name: str = ""
    done_word: str = "associated"
    failed_word: str = "failed"
    unit: str = "pairs"
    writes_output: bool = False
    chunk_by_key: bool = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    async def send(
        self, client: AssociationsClient, from_type: str, to_type: str, chunk: Sequence[Row]
    ) -> _Outcome:
        """Send one chunk; per key, its result or its error.

        A whole-call failure of part of the chunk is given to each of its keys
        (the runner tells a request's failure from a row's).

        Raises:
            HubSpotError: the whole chunk failed (every request of it).
        """
        raise NotImplementedError

    def key(self, row: Row) -> Hashable:
        """The key of the outcome that answers ``row``."""
        return (row.from_id, row.to_id)

    def checker(self) -> Check:
        """A check of answered rows, fresh for each chunk (it may cache what it looks up)."""
        return _done

    def output(self, row: Row, result: Any) -> bytes:
        """What a done row writes to the output file, once per key and chunk."""
        return b""


async def _gather(calls: Sequence[tuple[Awaitable[_Outcome], Sequence[Hashable]]]) -> _Outcome:
    """Run the calls at once; one outcome of them all (a call that failed whole: its keys' error).

    Raises:
        HubSpotError: every call failed whole (the first one's error).
    """
    answers = await asyncio.gather(*(call for call, _ in calls), return_exceptions=True)
    inputs: list[Hashable] = []
    results: dict[Hashable, Any] = {}
    errors: dict[Hashable, HubSpotError] = {}
    failures: list[HubSpotError] = []
    for answer, (_, keys) in zip(answers, calls, strict=True):
        if isinstance(answer, HubSpotError):
            failures.append(answer)
            inputs += keys
            errors.update(dict.fromkeys(keys, answer))
        elif isinstance(answer, BaseException):
            raise answer
        else:
            inputs += answer.inputs
            results.update(answer.results)
            errors.update(answer.errors)
    if failures and len(failures) == len(calls):
        raise failures[0]
    return BatchOutcome(inputs, results, errors)


class PairWrite(Operation):
    """Associate or archive each row's pair: with types (the row's, or the job's) or without.

    Args:
        name: ``"associate"`` or ``"archive"``.
        types: the job's association types (``--types``); a row's own type wins.
    """

    def __init__(self, name: str, types: Sequence[AssociationSpec] = ()) -> None:
        if name not in ("associate", "archive"):
            raise ValueError(f"unknown pair operation {name!r}")
        self.name = name
        self.types = tuple(types)
        self.done_word = "associated" if name == "associate" else "removed"

    async def send(
        self, client: AssociationsClient, from_type: str, to_type: str, chunk: Sequence[Row]
    ) -> _Outcome:
        plain: list[tuple[str, str]] = []
        typed: list[tuple[str, str, tuple[AssociationSpec, ...]]] = []
        for row in chunk:
            types = (row.spec,) if row.spec is not None else self.types
            if types:
                typed.append((row.from_id, row.to_id, types))
            else:
                plain.append((row.from_id, row.to_id))
        # Without types: the default association, or every type; with: those types.
        untyped_call: Callable[..., Awaitable[_Outcome]]
        typed_call: Callable[..., Awaitable[_Outcome]]
        if self.name == "associate":
            untyped_call, typed_call = client.batch_associate_default, client.batch_associate
        else:
            untyped_call, typed_call = client.batch_archive, client.batch_archive_labels
        calls: list[tuple[Awaitable[_Outcome], Sequence[Hashable]]] = []
        if plain:
            calls.append((untyped_call(from_type, to_type, plain), plain))
        if typed:
            keys = [(f, t) for f, t, _ in typed]
            calls.append((typed_call(from_type, to_type, typed), keys))
        return await _gather(calls)


class _Read(Operation):
    """Rows answered by a read of their from record (every page)."""

    unit = "records"
    chunk_by_key = True

    async def send(
        self, client: AssociationsClient, from_type: str, to_type: str, chunk: Sequence[Row]
    ) -> _Outcome:
        ids = list(dict.fromkeys(row.from_id for row in chunk))
        return await client.batch_read(from_type, to_type, ids)

    def key(self, row: Row) -> Hashable:
        return row.from_id


class Verify(_Read):
    """A row is done when its pair is associated in HubSpot (with the row's or the job's types).

    Args:
        types: the job's association types (``--types``); a row's own type wins.
    """

    name = "verify"
    done_word = "present"
    failed_word = "missing"
    unit = "pairs"

    def __init__(self, types: Sequence[AssociationSpec] = ()) -> None:
        self.types = tuple(types)

    def checker(self) -> Check:
        # One index per record read, built on first use: a record with many rows
        # in the chunk is looked up, not scanned, for each.
        indexes: dict[int, dict[str, set[tuple[str, int]]]] = {}

        def check(row: Row, result: Sequence[MultiAssociatedObjectWithLabel]) -> Problem | None:
            index = indexes.get(id(result))
            if index is None:
                index = indexes[id(result)] = {
                    item.to_object_id: {(t.category, t.type_id) for t in item.association_types}
                    for item in result
                }
            found = index.get(row.to_id)
            if found is None:
                return (NOT_ASSOCIATED, f"{row.from_id} is not associated with {row.to_id}")
            wanted = (row.spec,) if row.spec is not None else self.types
            missing = [
                t for t in wanted if (t.association_category, t.association_type_id) not in found
            ]
            if missing:
                have = ",".join(f"{c}:{n}" for c, n in sorted(found)) or "none"
                return (
                    TYPE_MISSING,
                    f"{row.from_id} is associated with {row.to_id} but not as "
                    f"{describe_types(missing)} (its types: {have})",
                )
            return None

        return check


class Export(_Read):
    """Each listed record's associations, one output line per type between two records.

    Args:
        format: the output's format, ``"csv"`` or ``"jsonl"``.
    """

    name = "export"
    done_word = "exported"
    writes_output = True

    def __init__(self, format: Format) -> None:
        self.format = format

    def header(self) -> bytes:
        """The output's first line (CSV), or nothing (JSON Lines)."""
        return ",".join(EXPORT_COLUMNS).encode() + b"\n" if self.format == "csv" else b""

    def output(self, row: Row, result: Sequence[MultiAssociatedObjectWithLabel]) -> bytes:
        lines = [
            (row.from_id, item.to_object_id, t.category, t.type_id, t.label)
            for item in result
            for t in item.association_types
        ]
        if not lines:
            return b""
        if self.format == "jsonl":
            return b"".join(
                _json_encode(dict(zip(EXPORT_COLUMNS, line, strict=True))) + b"\n" for line in lines
            )
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            (f, t, c, n, "" if label is None else label) for f, t, c, n, label in lines
        )
        return buffer.getvalue().encode()

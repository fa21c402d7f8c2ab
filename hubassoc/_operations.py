"""What is specific to each batch operation, as small declarative descriptions.

The engine (:mod:`hubassoc._sender` sends, :mod:`hubassoc._coalescer`
batches) is written once; an :class:`Operation` tells it everything that
differs between ``batch/associate/default``, ``batch/create``,
``batch/archive``, ``batch/labels/archive`` and ``batch/read``: where the
request goes, how many inputs one request may carry, how a list of inputs
becomes a body, how an answer becomes results keyed by input (and per-input
errors), whether an input may need another request (a read's next page), and
whether a request is safe to send again.

The HubSpot facts the descriptions rely on (each version's answer shapes, the
1,000-id read cap, how a record without associations is answered) are in
``docs/hubspot.md``, "The other association operations".

An input is a hashable tuple of canonical decimal strings (and, for the
operations that take types, a tuple of :class:`AssociationSpec`); identical
inputs waiting together are sent once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from hubassoc._errors import DecodingError
from hubassoc._models import (
    ASSOCIATION_READ_BATCH_DECODER,
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    ENCODER,
    LABELS_BETWEEN_BATCH_DECODER,
    VOID_BATCH_DECODER,
    AssociationSpec,
    BatchRequest,
    LabelsBetweenObjectPair,
    MultiAssociatedObjectWithLabel,
    PublicAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
    StandardError,
    decode,
)
from hubassoc._routes import Routes, RouteTemplates
from hubassoc._transport import Response

__all__ = [
    "ARCHIVE",
    "ARCHIVE_LABELS",
    "ASSOCIATE",
    "DEFAULT_ASSOCIATE",
    "MAX_READ_INPUTS",
    "NO_ASSOCIATIONS_FOUND",
    "READ",
    "Decoded",
    "Labelled",
    "Operation",
    "Pair",
    "ReadInput",
    "encode_pairs",
]

I = TypeVar("I")  # noqa: E741 - an input, as in aiokafka's builders
R = TypeVar("R")

#: A default association input: ``(from_id, to_id)`` as canonical decimal strings.
Pair = tuple[str, str]

#: A labelled input: ``(from_id, to_id, types)``, the types distinct and checked.
Labelled = tuple[str, str, tuple[AssociationSpec, ...]]
#: A read input: ``(from_id, after)``; ``after`` is None for the first page.
ReadInput = tuple[str, str | None]

#: The most ids one ``batch/read`` may carry: HubSpot rejects more (docs/hubspot.md).
MAX_READ_INPUTS = 1000
#: The sub-category of the error some accounts answer for a record without
#: associations (docs/hubspot.md): an empty list, not a failure.
NO_ASSOCIATIONS_FOUND = "crm.associations.NO_ASSOCIATIONS_FOUND"

#: What one answer says: results keyed by input, HubSpot's per-input errors (not
#: yet given to inputs), and the inputs that need another request (a read's
#: next page: the original input -> the input that asks for the rest), or None.
Decoded = tuple[dict[I, R], Sequence[StandardError], dict[I, I] | None]


def _pair_sides(pair: tuple[str, str, Any] | Pair) -> tuple[str, str | None]:
    return pair[0], pair[1]


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class Operation(Generic[I, R]):
    """One batch operation, as the engine needs to know it (compared by identity).

    Attributes:
        name: what events and metrics call it (``"associate_default"``, ...).
        route: the name of its path method on :class:`Routes` and of its
            template on :class:`RouteTemplates` (``"batch_create"``).
        encode: the request body for a list of distinct inputs.
        decode: results and errors of an answer (the inputs it was sent for given).
        sides: the ``(from_id, to_id or None)`` an input is known by in HubSpot's errors.
        max_inputs: the most inputs one request may carry; ``None`` for the
            client's write batch size (configured, lowered when HubSpot says so).
        absent: the result of an input that the answer is silent about, where
            silence means success; ``None`` where it means a missing result.
        merge: joins the result so far with a follow-up's (pages), or ``None``.
        one_per_record: whether a request may carry each from id once (its
            answers name the from id only, so two inputs of one record in one
            request could not be told apart: a read's first page and another
            caller's follow-up).
        share: a copy of a result for each further caller of one input, where
            results are mutable (lists), or ``None``.
        writes: whether it changes associations (ordered per pair; reads of the
            record wait for it) or reads them. A write's input starts with
            ``(from_id, to_id)``, a read's with ``from_id``: the order is kept by them.
        idempotent: whether a request may be sent again after a failure in flight.
    """

    name: str
    route: str
    encode: Callable[[Sequence[I]], bytes]
    decode: Callable[[Response, Sequence[I]], Decoded[I, R]]
    sides: Callable[[Any], tuple[str, str | None]] = _pair_sides
    max_inputs: int | None = None
    absent: Callable[[], R] | None = None
    merge: Callable[[R, R], R] | None = None
    one_per_record: bool = False
    share: Callable[[R], R] | None = None
    writes: bool = True
    idempotent: bool = True

    def __repr__(self) -> str:
        return f"<Operation {self.name}>"

    def path(self, routes: Routes, from_type: str, to_type: str) -> str:
        """The request path between two (checked) object types."""
        method: Callable[[str, str], str] = getattr(routes, self.route)
        return method(from_type, to_type)

    def template(self, templates: RouteTemplates) -> str:
        """The path template that names its requests in events and metrics."""
        template: str = getattr(templates, self.route)
        return template


# --- default associations: batch/associate/default --------------------------------------


def encode_pairs(pairs: Sequence[Pair]) -> bytes:
    """The JSON body of ``batch/associate/default`` for ``pairs``.

    Written out by hand because it is the hot path and ids are validated
    decimal strings, so nothing needs escaping; a test checks that it equals
    msgspec's encoding of :class:`~hubassoc._models.BatchAssociateDefaultRequest`.
    """
    inner = ",".join([f'{{"from":{{"id":"{f}"}},"to":{{"id":"{t}"}}}}' for f, t in pairs])
    return f'{{"inputs":[{inner}]}}'.encode()


def _decode_default(response: Response, pairs: Sequence[Pair]) -> Decoded[Pair, AssociationSpec]:
    answer = decode(DEFAULT_ASSOCIATION_BATCH_DECODER, response.body, status=response.status)
    return {(r.from_.id, r.to.id): r.association_spec for r in answer.results}, answer.errors, None


DEFAULT_ASSOCIATE: Operation[Pair, AssociationSpec] = Operation(
    name="associate_default",
    route="batch_associate_default",
    encode=encode_pairs,
    decode=_decode_default,
)


# --- labelled associations: batch/create, batch/labels/archive --------------------------


def _encode_labelled(inputs: Sequence[Labelled]) -> bytes:
    # Categories are the caller's strings: msgspec escapes them.
    return ENCODER.encode(
        BatchRequest(
            inputs=[
                PublicAssociationMultiPost(
                    from_=PublicObjectId(id=f), to=PublicObjectId(id=t), types=list(types)
                )
                for f, t, types in inputs
            ]
        )
    )


def _decode_created(
    response: Response, inputs: Sequence[Labelled]
) -> Decoded[Labelled, LabelsBetweenObjectPair]:
    answer = decode(LABELS_BETWEEN_BATCH_DECODER, response.body, status=response.status)
    by_pair = {(r.from_object_id, r.to_object_id): r for r in answer.results}
    results = {}
    for item in inputs:
        # The pair as asked, else as answered from the other side (one association).
        result = by_pair.get((item[0], item[1])) or by_pair.get((item[1], item[0]))
        if result is not None:
            results[item] = result
    return results, answer.errors, None


def _decode_void(response: Response, inputs: Sequence[Any]) -> Decoded[Any, None]:
    """An archive's answer: no body (``v4``'s 204), or a batch whose errors are
    the inputs that failed (date versions); every other input succeeded."""
    if not response.body.strip():
        return {}, (), None
    answer = decode(VOID_BATCH_DECODER, response.body, status=response.status)
    return {}, answer.errors, None


def _none() -> None:
    return None


def _own_labels(result: LabelsBetweenObjectPair) -> LabelsBetweenObjectPair:
    """The same answer with a ``labels`` list of its own (for a further caller)."""
    return msgspec.structs.replace(result, labels=list(result.labels))


ASSOCIATE: Operation[Labelled, LabelsBetweenObjectPair] = Operation(
    name="associate",
    route="batch_create",
    encode=_encode_labelled,
    decode=_decode_created,
    share=_own_labels,
)

ARCHIVE_LABELS: Operation[Labelled, None] = Operation(
    name="archive_labels",
    route="batch_labels_archive",
    encode=_encode_labelled,
    decode=_decode_void,
    absent=_none,
)


# --- batch/archive: a from id's pairs in one input with a ``to`` list -------------------


def _encode_archive(pairs: Sequence[Pair]) -> bytes:
    grouped: dict[str, list[str]] = {}
    for from_id, to_id in pairs:
        grouped.setdefault(from_id, []).append(f'{{"id":"{to_id}"}}')
    # Ids are validated decimal strings: nothing to escape.
    inner = ",".join(
        f'{{"from":{{"id":"{from_id}"}},"to":[{",".join(to)}]}}' for from_id, to in grouped.items()
    )
    return f'{{"inputs":[{inner}]}}'.encode()


ARCHIVE: Operation[Pair, None] = Operation(
    name="archive", route="batch_archive", encode=_encode_archive, decode=_decode_void, absent=_none
)


# --- batch/read: every page of every record ---------------------------------------------


def _encode_read(inputs: Sequence[ReadInput]) -> bytes:
    return ENCODER.encode(
        BatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=i, after=after) for i, after in inputs]
        )
    )


def _decode_read(
    response: Response, inputs: Sequence[ReadInput]
) -> Decoded[ReadInput, list[MultiAssociatedObjectWithLabel]]:
    answer = decode(ASSOCIATION_READ_BATCH_DECODER, response.body, status=response.status)
    by_id = {item[0]: item for item in inputs}
    results: dict[ReadInput, list[MultiAssociatedObjectWithLabel]] = {}
    more: dict[ReadInput, ReadInput] = {}
    for result in answer.results:
        item = by_id.get(result.from_.id)
        if item is None:
            continue  # about a record not asked for here
        if item in results:  # one record's page in several results
            results[item].extend(result.to)
        else:
            results[item] = list(result.to)
        following = result.paging.next if result.paging is not None else None
        if following is not None:
            if following.after == item[1]:
                # The same cursor again would ask for the same page forever.
                raise DecodingError(
                    "a batch read answer repeats the cursor it was asked with",
                    status=response.status,
                )
            more[item] = (item[0], following.after)
    # A record without associations may come back as an error: it is an empty list.
    errors = [e for e in answer.errors if not _no_associations(e)]
    return results, errors, more


def _no_associations(error: StandardError) -> bool:
    """Whether ``error`` only says its record has no associations (``subCategory``
    as a string, as HubSpot sends it, or an object, as its spec types it)."""
    sub = error.sub_category
    if isinstance(sub, dict):
        return NO_ASSOCIATIONS_FOUND in sub.values()
    return sub == NO_ASSOCIATIONS_FOUND


def _read_sides(item: ReadInput) -> tuple[str, str | None]:
    return item[0], None


def _extend(
    so_far: list[MultiAssociatedObjectWithLabel], page: list[MultiAssociatedObjectWithLabel]
) -> list[MultiAssociatedObjectWithLabel]:
    so_far.extend(page)
    return so_far


READ: Operation[ReadInput, list[MultiAssociatedObjectWithLabel]] = Operation(
    name="read",
    route="batch_read",
    max_inputs=MAX_READ_INPUTS,
    encode=_encode_read,
    decode=_decode_read,
    sides=_read_sides,
    absent=list,
    merge=_extend,
    one_per_record=True,
    share=list,
    writes=False,
)

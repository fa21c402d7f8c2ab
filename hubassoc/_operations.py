"""What is specific to each batch operation, as small declarative descriptions.

The engine (:mod:`hubassoc._sender` sends, :mod:`hubassoc._coalescer`
batches) is written once; an :class:`Operation` tells it everything that
differs between ``batch/associate/default``, ``batch/create``,
``batch/archive``, ``batch/labels/archive`` and ``batch/read``: where the
request goes, how many inputs one request may carry, how a list of inputs
becomes a body, how an answer becomes results keyed by input (and per-input
errors), whether an input may need another request (a read's next page), and
whether a request is safe to send again.

An input is a hashable tuple of canonical decimal strings (and, for the
operations that take types, a tuple of :class:`AssociationSpec`); identical
inputs waiting together are sent once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hubassoc._models import (
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    AssociationSpec,
    StandardError,
    decode,
)
from hubassoc._routes import Routes, RouteTemplates
from hubassoc._transport import Response

__all__ = ["DEFAULT_ASSOCIATE", "Decoded", "Operation", "Pair", "encode_pairs"]

I = TypeVar("I")  # noqa: E741 - an input, as in aiokafka's builders
R = TypeVar("R")

#: A default association input: ``(from_id, to_id)`` as canonical decimal strings.
Pair = tuple[str, str]

#: What one answer says: results keyed by input, HubSpot's per-input errors (not
#: yet given to inputs), and the inputs that need another request (a read's
#: next page: the original input -> the input that asks for the rest), or None.
Decoded = tuple[dict[I, R], Sequence[StandardError], dict[I, I] | None]


@dataclass(frozen=True, slots=True, eq=False)
class Operation(Generic[I, R]):
    """One batch operation, as the engine needs to know it (compared by identity).

    Attributes:
        name: what events and metrics call it (``"associate_default"``, ...).
        path: the request path for ``(routes, from_type, to_type)``.
        template: the path template, from the version's :class:`RouteTemplates`.
        max_inputs: the most inputs one request may carry; ``None`` for the
            client's write batch size (configured, lowered when HubSpot says so).
        encode: the request body for a list of distinct inputs.
        decode: results and errors of an answer (the inputs it was sent for given).
        sides: the ``(from_id, to_id or None)`` an input is known by in HubSpot's errors.
        absent: the result of an input that the answer is silent about, where
            silence means success; ``None`` where it means a missing result.
        merge: joins the result so far with a follow-up's (pages), or ``None``.
        share: a copy of a result for each further caller of one input, where
            results are mutable (lists), or ``None``.
        writes: whether it changes associations (ordered per pair; reads of the
            record wait for it) or reads them.
        idempotent: whether a request may be sent again after a failure in flight.
    """

    name: str
    path: Callable[[Routes, str, str], str]
    template: Callable[[RouteTemplates], str]
    max_inputs: int | None
    encode: Callable[[Sequence[I]], bytes]
    decode: Callable[[Response, Sequence[I]], Decoded[I, R]]
    sides: Callable[[I], tuple[str, str | None]]
    absent: Callable[[], R] | None = None
    merge: Callable[[R, R], R] | None = None
    share: Callable[[R], R] | None = None
    writes: bool = True
    idempotent: bool = True

    def __repr__(self) -> str:
        return f"<Operation {self.name}>"


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


def _pair_sides(pair: tuple[str, str, Any] | Pair) -> tuple[str, str | None]:
    return pair[0], pair[1]


DEFAULT_ASSOCIATE: Operation[Pair, AssociationSpec] = Operation(
    name="associate_default",
    path=Routes.batch_associate_default,
    template=lambda templates: templates.batch_associate_default,
    max_inputs=None,
    encode=encode_pairs,
    decode=_decode_default,
    sides=_pair_sides,
)

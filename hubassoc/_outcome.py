"""What a batch call did for each of its inputs, and how HubSpot's errors map to inputs.

HubSpot answers a batch with ``results`` and per-input ``errors`` whose shape
varies (``docs/hubspot.md``): an error per side (``context: {"fromObjectId": [..]}``
or ``{"toObjectId": [..]}``), one error for many inputs (``{"ids": [..]}``),
or an error that names no id at all. :func:`attribute` maps them: an input
with a matching result succeeded (matched on ids, never on position); an
input without one takes the first error whose context names one of its ids,
and failing that, the error that names nobody, or a synthesised one. So no
input is ever left without an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

from hubassoc._errors import BatchItemError, HubSpotError
from hubassoc._models import StandardError

__all__ = ["BatchOutcome", "attribute", "item_error"]

K = TypeVar("K")
R = TypeVar("R")

#: The category of the error given to an input that got neither a result nor an error.
MISSING_RESULT = "MISSING_RESULT"


class BatchOutcome(Generic[K, R]):
    """Per input of a batch call, either its result or its :class:`BatchItemError`.

    Inputs are keyed as the client normalised them (for default associations,
    ``(from_id, to_id)`` as strings); duplicates appear once. Iterating yields
    ``(input, result_or_error)`` in input order.
    """

    __slots__ = ("errors", "inputs", "results")

    def __init__(
        self, inputs: Sequence[K], results: dict[K, R], errors: dict[K, HubSpotError]
    ) -> None:
        #: The distinct inputs, in the order given.
        self.inputs: Sequence[K] = inputs
        #: Results of the inputs that succeeded.
        self.results: dict[K, R] = results
        #: Errors of the inputs that failed: a :class:`BatchItemError` where HubSpot
        #: named the input, or the whole-call error of the request that carried it.
        self.errors: dict[K, HubSpotError] = errors

    def __repr__(self) -> str:
        return (
            f"<BatchOutcome inputs={len(self.inputs)} succeeded={len(self.results)} "
            f"failed={len(self.errors)}>"
        )

    def __len__(self) -> int:
        return len(self.inputs)

    def __iter__(self) -> Iterator[tuple[K, R | HubSpotError]]:
        results, errors = self.results, self.errors
        for key in self.inputs:
            yield key, (results[key] if key in results else errors[key])

    @property
    def ok(self) -> bool:
        """Whether every input succeeded."""
        return not self.errors

    def result(self, key: K) -> R:
        """The result of input ``key``.

        Raises:
            HubSpotError: that input failed (usually a :class:`BatchItemError`).
            KeyError: ``key`` was not an input of this batch.
        """
        try:
            return self.results[key]
        except KeyError:
            raise self.errors[key] from None

    def raise_for_errors(self) -> None:
        """Raise the first input's error if any input failed.

        Raises:
            HubSpotError: the first failed input's error (all are in :attr:`errors`).
        """
        for key in self.inputs:
            error = self.errors.get(key)
            if error is not None:
                raise error


def item_error(
    error: StandardError, key: object, *, correlation_id: str | None = None
) -> BatchItemError:
    """The :class:`BatchItemError` of input ``key`` from HubSpot's ``StandardError``."""
    status = int(error.status) if error.status.isdigit() else None
    return BatchItemError(
        error.message or error.category or "the input failed",
        input=key,
        status=status,
        correlation_id=correlation_id,
        category=error.category or None,
        sub_category=error.sub_category,
        context=error.context,
    )


def _named_ids(error: StandardError) -> tuple[set[str], set[str], set[str]]:
    """The ids an error's context names: (from side, to side, either side)."""
    from_ids: set[str] = set()
    to_ids: set[str] = set()
    any_ids: set[str] = set()
    contexts = [error.context, *(detail.context for detail in error.errors)]
    for context in contexts:
        for name, values in context.items():
            lowered = name.lower()
            if lowered.startswith("from"):
                from_ids.update(values)
            elif lowered.startswith("to"):
                to_ids.update(values)
            else:
                any_ids.update(values)
    return from_ids, to_ids, any_ids


def attribute(
    inputs: Sequence[K],
    results: Mapping[K, R],
    errors: Sequence[StandardError],
    *,
    sides: Callable[[K], tuple[str, str | None]],
    correlation_id: str | None = None,
    absent: Callable[[], R] | None = None,
) -> tuple[dict[K, R], dict[K, HubSpotError]]:
    """Give every input its result or its error.

    ``results`` holds the answer's results keyed like ``inputs``; ``sides``
    tells the ids an input is known by, ``(from_side, to_side)`` (the to side
    may be ``None``). ``absent`` makes the result of an input that no result
    and no error speaks of, where the answer means success by silence (an
    archive's empty answer, a read of a record without associations);
    without it such an input gets a ``MISSING_RESULT`` error.
    """
    if not errors:
        try:
            # The common answer: every input has its result.
            return {key: results[key] for key in inputs}, {}
        except KeyError:
            pass
    succeeded: dict[K, R] = {}
    unanswered: list[K] = []
    for key in inputs:
        result = results.get(key)
        if result is None:
            unanswered.append(key)
        else:
            succeeded[key] = result
    failed: dict[K, HubSpotError] = {}
    if not unanswered:
        return succeeded, failed

    named = [(error, _named_ids(error)) for error in errors]
    anonymous = next((e for e, ids in named if not any(ids)), None)
    for key in unanswered:
        from_id, to_id = sides(key)
        for error, (from_ids, to_ids, any_ids) in named:
            if (
                from_id in from_ids
                or from_id in any_ids
                or (to_id is not None and (to_id in to_ids or to_id in any_ids))
            ):
                failed[key] = item_error(error, key, correlation_id=correlation_id)
                break
        else:
            # An error that names other inputs is theirs; only one that names
            # nobody can be this input's.
            if anonymous is None and absent is not None:
                succeeded[key] = absent()
            elif anonymous is None:
                failed[key] = BatchItemError(
                    "HubSpot answered the batch without a result or an error for this input",
                    input=key,
                    category=MISSING_RESULT,
                    correlation_id=correlation_id,
                )
            else:
                failed[key] = item_error(anonymous, key, correlation_id=correlation_id)
    return succeeded, failed

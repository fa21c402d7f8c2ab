"""Sending default-association batches: sizing, splitting, bisection, per-pair answers.

Both :meth:`AssociationsClient.batch_associate_default` and the coalescing
engine send through :class:`DefaultBatchSender`, so both get:

* batches of at most the learned maximum size; a whole-batch 400 (or 413)
  that says the batch is too large is answered by splitting it and
  remembering the smaller size for later batches;
* isolation by bisection of a whole-batch 400 that names no input, so one
  poisoned pair fails alone and the rest go through (within a request budget,
  so a failure that is really about every pair does not cost 2n requests);
* at most ``max_concurrency`` requests in flight;
* per-pair results and errors, matched on ids (:func:`hubassoc._outcome.attribute`).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Sequence

from hubassoc._errors import BatchItemError, HubSpotError, InvalidRequestError
from hubassoc._events import Emitter, ItemsFailed
from hubassoc._models import (
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    AssociationSpec,
    decode,
)
from hubassoc._outcome import attribute
from hubassoc._redaction import Redactor
from hubassoc._routes import Routes
from hubassoc._transport import RequestFunction

__all__ = ["DefaultBatchSender", "Pair", "PairAnswers", "encode_pairs"]

#: A default association input: ``(from_id, to_id)`` as canonical decimal strings.
Pair = tuple[str, str]
#: What a batch did for its pairs: results of those that succeeded, errors of the rest
#: (a :class:`BatchItemError`, or the whole-call error of the request that carried it).
PairAnswers = tuple[dict[Pair, AssociationSpec], dict[Pair, HubSpotError]]

_TOO_LARGE = re.compile(
    r"(exceed|too (?:large|many|big)|max(?:imum)? (?:batch|input)|batch size|limit of)",
    re.IGNORECASE,
)
_LIMIT_NUMBER = re.compile(r"(?:maximum|max|limit)\D{0,40}?(\d{1,6})", re.IGNORECASE)


def encode_pairs(pairs: Sequence[Pair]) -> bytes:
    """The JSON body of ``batch/associate/default`` for ``pairs``.

    Written out by hand because it is the hot path and ids are validated
    decimal strings, so nothing needs escaping; a test checks that it equals
    msgspec's encoding of :class:`~hubassoc._models.BatchAssociateDefaultRequest`.
    """
    inner = ",".join([f'{{"from":{{"id":"{f}"}},"to":{{"id":"{t}"}}}}' for f, t in pairs])
    return f'{{"inputs":[{inner}]}}'.encode()


def _pair_sides(pair: Pair) -> tuple[str, str | None]:
    return pair


def too_large_limit(error: InvalidRequestError, size: int) -> int | None:
    """If ``error`` says a batch of ``size`` is too large, the size to use instead."""
    if error.status == 413:
        return max(1, size // 2)
    if error.status != 400 or not _TOO_LARGE.search(error.message):
        return None
    match = _LIMIT_NUMBER.search(error.message)
    if match:
        stated = int(match.group(1))
        if 1 <= stated < size:
            return stated
    return max(1, size // 2)


class _Budget:
    """Requests a bisection may still spend."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


class DefaultBatchSender:
    """Sends default-association batches for one client; see the module docstring."""

    __slots__ = (
        "_emit",
        "_max_batch_size",
        "_redactor",
        "_request",
        "_routes",
        "_slots",
        "max_concurrency",
    )

    def __init__(
        self,
        request: RequestFunction,
        routes: Routes,
        *,
        max_batch_size: int,
        max_concurrency: int,
        redactor: Redactor | None = None,
        emit: Emitter | None = None,
    ) -> None:
        self._request = request
        self._routes = routes
        self._max_batch_size = max_batch_size
        #: Requests in flight at once: the one limit of the client (the
        #: coalescer dispatches no more batches than this).
        self.max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self._redactor = redactor
        self._emit = emit

    def __repr__(self) -> str:
        return (
            f"<DefaultBatchSender max_batch_size={self._max_batch_size} "
            f"in_flight={self.max_concurrency - self._slots._value}/{self.max_concurrency}>"
        )

    @property
    def max_batch_size(self) -> int:
        """The largest batch sent: as configured, or smaller once the server said so."""
        return self._max_batch_size

    async def send(self, from_type: str, to_type: str, pairs: Sequence[Pair]) -> PairAnswers:
        """Associate ``pairs`` (distinct, validated) and say what happened to each.

        Where the pairs went out in several requests (more than the batch size,
        or split after a too-large answer), a request that failed whole gives
        its error to each of its pairs, so the other requests' results are kept.

        Raises:
            HubSpotError: every pair failed with whole-call errors
                (authentication, daily limit, server or transport failure once
                retries are spent, a 4xx other than 400): the first of them.
        """
        budget = _Budget(4 * math.ceil(math.log2(len(pairs) + 1)) + 4)
        results, errors = await self._send(from_type, to_type, pairs, budget)
        if not results and not any(isinstance(e, BatchItemError) for e in errors.values()):
            raise errors[pairs[0]]  # every pair failed whole: nothing to keep
        return results, errors

    async def _send_parts(
        self, from_type: str, to_type: str, parts: Sequence[Sequence[Pair]], budget: _Budget
    ) -> PairAnswers:
        """Send several parts at once; a part that fails whole fails only its own pairs."""
        answers = await asyncio.gather(
            *(self._send(from_type, to_type, part, budget) for part in parts),
            return_exceptions=True,
        )
        merged_results: dict[Pair, AssociationSpec] = {}
        merged_errors: dict[Pair, HubSpotError] = {}
        for part, answer in zip(parts, answers, strict=True):
            if isinstance(answer, HubSpotError):
                merged_errors.update(dict.fromkeys(part, answer))
            elif isinstance(answer, BaseException):
                raise answer
            else:
                merged_results.update(answer[0])
                merged_errors.update(answer[1])
        return merged_results, merged_errors

    async def _send(
        self, from_type: str, to_type: str, pairs: Sequence[Pair], budget: _Budget
    ) -> PairAnswers:
        size = self._max_batch_size
        if len(pairs) > size:
            chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
            return await self._send_parts(from_type, to_type, chunks, budget)
        try:
            return await self._post(from_type, to_type, pairs)
        except InvalidRequestError as error:
            smaller = too_large_limit(error, len(pairs))
            if smaller is not None and len(pairs) > 1:
                self._max_batch_size = min(self._max_batch_size, smaller)
                return await self._send(from_type, to_type, pairs, budget)
            if error.status != 400:
                raise
            return await self._bisect(from_type, to_type, pairs, budget, error)

    async def _bisect(
        self,
        from_type: str,
        to_type: str,
        pairs: Sequence[Pair],
        budget: _Budget,
        error: InvalidRequestError,
    ) -> PairAnswers:
        """Find the pairs a whole-batch 400 that named nobody was about."""
        if len(pairs) == 1 or budget.left < 2:
            errors: dict[Pair, HubSpotError] = {
                pair: _whole_batch_item_error(error, pair) for pair in pairs
            }
            self._failed_items(errors)
            return {}, errors
        budget.left -= 2
        middle = len(pairs) // 2
        return await self._send_parts(from_type, to_type, (pairs[:middle], pairs[middle:]), budget)

    async def _post(self, from_type: str, to_type: str, pairs: Sequence[Pair]) -> PairAnswers:
        routes = self._routes
        path = routes.batch_associate_default(from_type, to_type)
        body = encode_pairs(pairs)
        async with self._slots:
            response = await self._request(
                "POST",
                path,
                route=routes.templates.batch_associate_default,
                batch_size=len(pairs),
                body=body,
            )
        answer = decode(DEFAULT_ASSOCIATION_BATCH_DECODER, response.body, status=response.status)
        by_pair = {(r.from_.id, r.to.id): r.association_spec for r in answer.results}
        results, errors = attribute(
            pairs,
            by_pair,
            answer.errors,
            sides=_pair_sides,
            correlation_id=response.headers.get("X-HubSpot-Correlation-Id"),
        )
        if errors:
            self._failed_items(errors)
        return results, errors

    def _failed_items(self, errors: dict[Pair, HubSpotError]) -> None:
        """Scrub secrets from per-input errors (a server may echo the token into
        them) and tell the event callback what failed."""
        redactor = self._redactor
        if redactor is not None:
            for error in errors.values():
                redactor.scrub(error)
        if self._emit is not None:
            route = self._routes.templates.batch_associate_default
            counts = Counter(error.category or "UNKNOWN" for error in errors.values())
            for category, count in counts.items():
                self._emit(ItemsFailed(route=route, category=category, count=count))


def _whole_batch_item_error(error: InvalidRequestError, pair: Pair) -> BatchItemError:
    item = BatchItemError(
        error.message,
        input=pair,
        status=error.status,
        correlation_id=error.correlation_id,
        category=error.category,
        sub_category=error.sub_category,
        context=error.context,
        request_error=error,
    )
    item.__cause__ = error
    return item

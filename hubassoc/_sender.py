"""Sending the batches of every operation: sizing, splitting, bisection, pages, per-input answers.

The coalescing engine and the explicit batches of writes send through one
:class:`BatchSender`, whatever the :class:`~hubassoc._operations.Operation`,
so every operation gets:

* requests of at most the operation's input limit (the learned write batch
  size, or the operation's own cap); a whole-batch 400 (or 413) that says the
  batch is too large is answered by splitting it and remembering the smaller
  size for later requests;
* isolation by bisection of a whole-batch 400 that names no input, so one
  poisoned input fails alone and the rest go through (within a request budget,
  so a failure that is really about every input does not cost 2n requests);
* the follow-ups of inputs whose answer says there is more (a read's next
  page), for the coalescer to ask together with other inputs; and, where
  answers name records only, each record at most once per request;
* at most ``max_concurrency`` requests in flight, across every operation;
* per-input results and errors, matched on ids (:func:`hubassoc._outcome.attribute`),
  with secrets scrubbed from per-input errors.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, TypeVar

from hubassoc._errors import BatchItemError, HubSpotError, InvalidRequestError
from hubassoc._events import Emitter, ItemsFailed
from hubassoc._operations import Operation
from hubassoc._outcome import attribute
from hubassoc._redaction import Redactor
from hubassoc._routes import Routes
from hubassoc._transport import RequestFunction

__all__ = ["Answers", "BatchSender", "too_large_limit"]

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")

#: What a batch did for its inputs: results of those that succeeded, errors of the
#: rest (a :class:`BatchItemError`, or the whole-call error of the request that
#: carried it), and the inputs whose answer has another page (input -> the input
#: that asks for it; their result so far is in the results).
Answers = tuple[dict[I, R], dict[I, HubSpotError], dict[I, I]]

_TOO_LARGE = re.compile(
    r"(exceed|too (?:large|many|big)|max(?:imum)? (?:batch|input)|batch size|limit of)",
    re.IGNORECASE,
)
_LIMIT_NUMBER = re.compile(r"(?:maximum|max|limit)\D{0,40}?(\d{1,6})", re.IGNORECASE)


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


class BatchSender:
    """Sends the batches of every operation for one client; see the module docstring."""

    __slots__ = (
        "_caps",
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
        # Operations with a cap of their own (reads): the cap, lowered if HubSpot says so.
        self._caps: dict[Operation[Any, Any], int] = {}
        #: Requests in flight at once: the one limit of the client (the
        #: coalescer dispatches no more batches than this).
        self.max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self._redactor = redactor
        self._emit = emit

    def __repr__(self) -> str:
        return (
            f"<BatchSender max_batch_size={self._max_batch_size} "
            f"in_flight={self.max_concurrency - self._slots._value}/{self.max_concurrency}>"
        )

    @property
    def max_batch_size(self) -> int:
        """The largest write batch sent: as configured, or smaller once the server said so."""
        return self._max_batch_size

    def size_for(self, op: Operation[Any, Any]) -> int:
        """The most inputs one request of ``op`` carries now."""
        if op.max_inputs is None:
            return self._max_batch_size
        return self._caps.get(op, op.max_inputs)

    def _learn(self, op: Operation[Any, Any], smaller: int) -> None:
        if op.max_inputs is None:
            self._max_batch_size = min(self._max_batch_size, smaller)
        else:
            self._caps[op] = min(self.size_for(op), smaller)

    async def send(
        self, op: Operation[I, R], from_type: str, to_type: str, inputs: Sequence[I]
    ) -> Answers[I, R]:
        """Send ``inputs`` (distinct, validated) and say what happened to each.

        Where the inputs went out in several requests (more than the batch
        size, or split after a too-large answer), a request that failed whole
        gives its error to each of its inputs, so the other requests' results
        are kept. An input whose answer has another page is in the results
        with its first page and in the follow-ups: asking for the rest is the
        coalescer's (so that the follow-ups of many batches share requests).

        Raises:
            HubSpotError: every input failed with whole-call errors
                (authentication, daily limit, server or transport failure once
                retries are spent, a 4xx other than 400): the first of them.
        """
        budget = _Budget(4 * math.ceil(math.log2(len(inputs) + 1)) + 4)
        answers = await self._send(op, from_type, to_type, inputs, budget)
        results, errors = answers[0], answers[1]
        if not results and not any(isinstance(e, BatchItemError) for e in errors.values()):
            raise errors[inputs[0]]  # every input failed whole: nothing to keep
        return answers

    async def _send_parts(
        self,
        op: Operation[I, R],
        types: tuple[str, str],
        parts: Sequence[Sequence[I]],
        budget: _Budget,
    ) -> Answers[I, R]:
        """Send several parts at once; a part that fails whole fails only its own inputs."""
        answers = await asyncio.gather(
            *(self._send(op, *types, part, budget) for part in parts),
            return_exceptions=True,
        )
        results: dict[I, R] = {}
        errors: dict[I, HubSpotError] = {}
        more: dict[I, I] = {}
        for part, answer in zip(parts, answers, strict=True):
            if isinstance(answer, HubSpotError):
                errors.update(dict.fromkeys(part, answer))
            elif isinstance(answer, BaseException):
                raise answer
            else:
                results.update(answer[0])
                errors.update(answer[1])
                more.update(answer[2])
        return results, errors, more

    async def _send(
        self,
        op: Operation[I, R],
        from_type: str,
        to_type: str,
        inputs: Sequence[I],
        budget: _Budget,
    ) -> Answers[I, R]:
        if op.one_per_record:
            later = _repeated_records(op, inputs)
            if later:  # each record once per request: the repeats go in another
                first = [item for item in inputs if item not in later]
                return await self._send_parts(
                    op, (from_type, to_type), (first, list(later)), budget
                )
        size = self.size_for(op)
        if len(inputs) > size:
            chunks = [inputs[i : i + size] for i in range(0, len(inputs), size)]
            return await self._send_parts(op, (from_type, to_type), chunks, budget)
        try:
            return await self._post(op, from_type, to_type, inputs)
        except InvalidRequestError as error:
            smaller = too_large_limit(error, len(inputs))
            if smaller is not None and len(inputs) > 1:
                self._learn(op, smaller)
                return await self._send(op, from_type, to_type, inputs, budget)
            if error.status != 400:
                raise
            return await self._bisect(op, (from_type, to_type), inputs, budget, error)

    async def _bisect(
        self,
        op: Operation[I, R],
        types: tuple[str, str],
        inputs: Sequence[I],
        budget: _Budget,
        error: InvalidRequestError,
    ) -> Answers[I, R]:
        """Find the inputs a whole-batch 400 that named nobody was about."""
        if len(inputs) == 1 or budget.left < 2:
            errors: dict[I, HubSpotError] = {
                item: _whole_batch_item_error(error, item) for item in inputs
            }
            self._failed_items(op, errors)
            return {}, errors, {}
        budget.left -= 2
        middle = len(inputs) // 2
        return await self._send_parts(op, types, (inputs[:middle], inputs[middle:]), budget)

    async def _post(
        self, op: Operation[I, R], from_type: str, to_type: str, inputs: Sequence[I]
    ) -> Answers[I, R]:
        body = op.encode(inputs)
        async with self._slots:
            response = await self._request(
                "POST",
                op.path(self._routes, from_type, to_type),
                route=op.template(self._routes.templates),
                batch_size=len(inputs),
                body=body,
                idempotent=op.idempotent,
            )
        by_input, answer_errors, more = op.decode(response, inputs)
        results, errors = attribute(
            inputs,
            by_input,
            answer_errors,
            sides=op.sides,
            correlation_id=response.headers.get("X-HubSpot-Correlation-Id"),
            absent=op.absent,
        )
        if errors:
            self._failed_items(op, errors)
            if more:
                more = {item: nxt for item, nxt in more.items() if item in results}
        return results, errors, more or {}

    def _failed_items(self, op: Operation[I, R], errors: dict[I, HubSpotError]) -> None:
        """Scrub secrets from per-input errors (a server may echo the token into
        them) and tell the event callback what failed."""
        redactor = self._redactor
        if redactor is not None:
            for error in errors.values():
                redactor.scrub(error)
        if self._emit is not None:
            route = op.template(self._routes.templates)
            counts = Counter(error.category or "UNKNOWN" for error in errors.values())
            for category, count in counts.items():
                self._emit(
                    ItemsFailed(route=route, category=category, count=count, operation=op.name)
                )


def _repeated_records(op: Operation[I, R], inputs: Sequence[I]) -> dict[I, None]:
    """The inputs whose from id an earlier input has (in order), as an ordered set."""
    seen: set[str] = set()
    repeated: dict[I, None] = {}
    for item in inputs:
        record = op.sides(item)[0]
        if record in seen:
            repeated[item] = None
        else:
            seen.add(record)
    return repeated


def _whole_batch_item_error(error: InvalidRequestError, item: object) -> BatchItemError:
    failure = BatchItemError(
        error.message,
        input=item,
        status=error.status,
        correlation_id=error.correlation_id,
        category=error.category,
        sub_category=error.sub_category,
        context=error.context,
        request_error=error,
    )
    failure.__cause__ = error
    return failure

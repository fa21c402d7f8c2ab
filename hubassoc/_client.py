"""The client: direct calls, explicit batches, and coalesced single awaits.

:class:`AssociationsClient` builds and owns its parts, each passed only what
it uses: one :class:`~hubassoc._pacing.Pacer` (the rolling window, alone or
shared through a :class:`~hubassoc.RedisBudget`), one
:class:`~hubassoc._transport.Transport` (session, token, one retry loop), one
:class:`~hubassoc._sender.BatchSender` (batch sizing, splitting, pages,
per-input answers, the one concurrency limit) and one
:class:`~hubassoc._coalescer.Coalescer` shared by every batch operation (each
an :class:`~hubassoc._operations.Operation` description), and the limit
:class:`~hubassoc._configurations.Configurations` and label
:class:`~hubassoc._labels.Labels` calls. Its lifecycle is
explicit: usable from construction, closed by :meth:`AssociationsClient.aclose`
or leaving ``async with``, and never reopened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiohttp

from hubassoc._auth import TokenProvider, token_source
from hubassoc._coalescer import BatchKey, Coalescer
from hubassoc._configurations import Configurations
from hubassoc._errors import BatchItemError, ClientClosedError, DecodingError, HubSpotError
from hubassoc._events import BatchSettled, EventCallback
from hubassoc._inputs import check_ids, check_labelled, check_pairs
from hubassoc._labels import Labels
from hubassoc._models import (
    ASSOCIATION_PAGE_DECODER,
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    ENCODER,
    HIGH_USAGE_REPORT_DECODER,
    LABELS_BETWEEN_DECODER,
    AssociationSpec,
    DefaultAssociation,
    HighUsageReport,
    LabelsBetweenObjectPair,
    MultiAssociatedObjectWithLabel,
    decode,
)
from hubassoc._oauth import OAuthTokens
from hubassoc._operations import (
    ARCHIVE,
    ARCHIVE_LABELS,
    ASSOCIATE,
    DEFAULT_ASSOCIATE,
    READ,
    Labelled,
    Operation,
    Pair,
)
from hubassoc._options import ClientOptions
from hubassoc._outcome import BatchOutcome, item_error
from hubassoc._pacing import PacingView, RateLimit
from hubassoc._retry import RetryPolicy
from hubassoc._sender import BatchSender
from hubassoc._transport import Response, TransportStats
from hubassoc._validation import check_pair, check_record_id, check_type_pair, check_types

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from hubassoc._redis_budget import RedisBudget

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "AssociationsClient"]

logger = logging.getLogger("hubassoc")

I = TypeVar("I")  # noqa: E741 - an input of a batch operation
R = TypeVar("R")
K = TypeVar("K")
#: A record id as callers may give it (normalised to a canonical decimal string).
RecordId = str | int
#: The association types of a call: one, or a non-empty sequence of them.
Types = AssociationSpec | Sequence[AssociationSpec]
#: The inputs of the explicit batches of pairs: ``(from_id, to_id)``.
PairInputs = Iterable[tuple[RecordId, RecordId]]
#: The inputs of the labelled explicit batches: ``(from_id, to_id, types)``.
LabelledInputs = Iterable[tuple[RecordId, RecordId, Types]]

#: HubSpot's API host.
DEFAULT_BASE_URL = "https://api.hubapi.com"
#: The API version used unless told otherwise.
DEFAULT_API_VERSION = "2026-03"


class AssociationsClient:
    """An asyncio client for HubSpot's CRM associations: default and labelled
    associations, removals, complete reads, label definitions and limit configurations.

    Args:
        access_token: a private-app or OAuth token, or a token provider (an
            object with an async ``get_token``, such as :class:`hubassoc.OAuthTokens`);
            by default the ``HUBSPOT_ACCESS_TOKEN`` environment variable. No
            token ever appears in a repr, log line, event or error.
        base_url: HubSpot's host, or a HubSpot-compatible one (a proxy, the
            sandbox). Plain ``http://`` is refused except to loopback.
        api_version: ``"v4"`` (legacy paths) or a date version ``"YYYY-MM"``.
        timeout: seconds for one attempt, connection to last byte.
        max_retries: retries after the first attempt (see :class:`RetryPolicy`).
        retry: a full :class:`RetryPolicy`; overrides ``max_retries``.
        max_retry_wait: the longest wait a server can ask for before a retry
            (``Retry-After`` on a 429 or 503): a longer one is not slept, the
            call fails at once with the error, carrying ``retry_after``.
        max_response_bytes: the largest response body read; a larger one fails
            its request with :class:`ResponseTooLargeError`, unread.
        session: an :class:`aiohttp.ClientSession` to use; it is never closed
            by the client. Without one the client makes and closes its own.
        max_batch_size: inputs per write batch request (``batch/associate/default``,
            ``batch/create``, ``batch/archive``, ``batch/labels/archive``);
            reads carry up to 1,000 records, HubSpot's limit.
        max_concurrency: requests in flight at once.
        rate_limit: a :class:`RateLimit` to hold to; ``None`` (the default) to
            start at the Free tier and follow HubSpot's headers; ``False`` not
            to pace at all (for a server without limits).
        shared_budget: a :class:`hubassoc.RedisBudget` to share one rolling
            window (and its pauses, learned limit and daily stop) with every
            client on the same key, in any process on any host.
        linger: seconds a coalesced call may wait for companions.
        max_pending: coalesced callers admitted at once; more wait for room.
        close_timeout: the longest :meth:`aclose` waits for pending work; then
            what never left fails with :class:`ClientClosedError`.
        on_event: a callable given each :mod:`event <hubassoc.events>` as it
            happens (requests, waits, 429s, retries, failures, the daily stop,
            token refreshes); see ``hubassoc.events.combine`` for several.
        tracing: make an OpenTelemetry span per request attempt when
            ``opentelemetry-api`` is installed (nothing happens without it):
            ``True`` on the global tracer provider, a ``TracerProvider`` for
            that one, ``False`` for none.

    Raises:
        ValueError, TypeError: an argument is invalid, or no token was given.
    """

    def __init__(
        self,
        access_token: str | TokenProvider | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 30.0,
        max_retries: int = 5,
        retry: RetryPolicy | None = None,
        max_retry_wait: float = 60.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        session: aiohttp.ClientSession | None = None,
        max_batch_size: int = 100,
        max_concurrency: int = 8,
        rate_limit: RateLimit | Literal[False] | None = None,
        shared_budget: RedisBudget | None = None,
        linger: float = 0.005,
        max_pending: int = 10_000,
        close_timeout: float = 60.0,
        on_event: EventCallback | None = None,
        tracing: bool | TracerProvider = True,
    ) -> None:
        # Every argument is checked, by name, before anything is built.
        options = ClientOptions.check(token_source(access_token), locals())
        self._routes = options.routes
        self._tokens = options.tokens
        self._emit = emit = options.emit
        self._close_timeout = options.close_timeout
        self._pacer = options.pacer()
        self._transport = options.transport(self._pacer)
        self._sender = BatchSender(
            self._transport.request,
            self._routes,
            max_batch_size=options.max_batch_size,
            max_concurrency=options.max_concurrency,
            redactor=self._transport.redactor,
            emit=emit,
        )
        self._coalescer = Coalescer(
            self._sender,
            self._pacer,
            linger=options.linger,
            max_pending=options.max_pending,
            emit=emit,
        )
        self._closed = False
        self._closer: asyncio.Task[None] | None = None
        # Batch keys already validated: the hot path looks them up once (the
        # default associations by object types alone, the others with their operation).
        self._type_pairs: dict[tuple[str, str], BatchKey] = {}
        self._keys: dict[BatchKey, BatchKey] = {}
        # Direct calls (not coalesced) under way, so that aclose() can wait for them.
        self._direct_calls = 0
        self._direct_calls_idle: asyncio.Event | None = None
        #: The association limit configuration calls.
        self.configurations = Configurations(self._request, self._routes, self._transport.redactor)
        #: The association label definition calls.
        self.labels = Labels(self._request, self._routes, self._transport.redactor)

    def __repr__(self) -> str:
        if not hasattr(self, "_coalescer"):  # __init__ refused its arguments
            return "<AssociationsClient (not built)>"
        state = "closed" if self._closed else "open"
        return (
            f"<AssociationsClient {state} {self._transport!r} "
            f"api_version={self._routes.api_version!r} {self._coalescer!r}>"
        )

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> AssociationsClient:
        self._check_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop intake, send every pending association, wait for it, then close.

        Waits at most ``close_timeout`` for pending work; what has not left by
        then (or when the close is cancelled) fails with
        :class:`ClientClosedError`, what is in flight is abandoned, and the
        session is closed all the same. No session is created once closing
        has begun. A session passed in by the caller is left open. Calling it
        again after it finished does nothing; after a cancelled close it
        finishes the job.
        """
        self._closed = True
        closer = self._closer
        if closer is None:
            closer = self._closer = asyncio.get_running_loop().create_task(self._close())
        try:
            await asyncio.shield(closer)
        except asyncio.CancelledError:
            # The caller gave up waiting: stop now rather than in the background.
            self._abort()
            raise

    async def _close(self) -> None:
        try:
            try:
                await asyncio.wait_for(self._drain(), self._close_timeout)
            except TimeoutError:
                logger.warning(
                    "aclose: pending work did not finish within close_timeout=%gs; "
                    "failing what is left",
                    self._close_timeout,
                )
        finally:
            self._abort()
            await self._transport.aclose()
            await self._pacer.aclose()
            if isinstance(self._tokens, OAuthTokens):
                self._tokens._unbind()

    async def _drain(self) -> None:
        await self._coalescer.aclose()
        # Direct calls already under way finish before the session goes.
        while self._direct_calls:
            self._direct_calls_idle = asyncio.Event()
            await self._direct_calls_idle.wait()

    def _abort(self) -> None:
        """Nothing more leaves: callers waiting get a ClientClosedError."""
        self._transport.close_intake()
        self._coalescer.abort()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def _direct_call_done(self) -> None:
        self._direct_calls -= 1
        if not self._direct_calls and self._direct_calls_idle is not None:
            self._direct_calls_idle.set()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("the client is closed; create a new AssociationsClient")

    # --- introspection ------------------------------------------------------------------

    @property
    def api_version(self) -> str:
        """The API version in the paths (``"v4"`` or ``"YYYY-MM"``)."""
        return self._routes.api_version

    @property
    def stats(self) -> TransportStats:
        """The counters as they stand now (requests, retries, 429s, answers by status): a
        read-only snapshot; read it again for newer figures."""
        return self._transport.stats

    @property
    def pacing(self) -> PacingView:
        """A read-only view of the pacing in force (limit, share, margin, pauses)."""
        return PacingView(self._pacer)

    @property
    def max_batch_size(self) -> int:
        """Inputs per batch request: as configured, or less once HubSpot said so."""
        return self._sender.max_batch_size

    @property
    def pending(self) -> int:
        """Coalesced calls admitted and not yet answered."""
        return self._coalescer.pending

    async def _request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        batch_size: int = 0,
        body: bytes | None = None,
        idempotent: bool = True,
    ) -> Response:
        self._check_open()
        self._direct_calls += 1
        try:
            return await self._transport.request(
                method, path, route=route, batch_size=batch_size, body=body, idempotent=idempotent
            )
        finally:
            self._direct_call_done()

    # --- default associations -----------------------------------------------------------

    async def associate_default(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> AssociationSpec:
        """Associate two records with the default type, batched with other callers.

        Waits at most ``linger`` for companions, then goes out in one
        ``batch/associate/default`` request with them. Cancelling the await
        gives up the wait only: the pair may still be associated.

        Returns:
            The association made (its category and type id).

        Raises:
            ValueError, TypeError: an object type or id is invalid (nothing is sent).
            ClientClosedError: the client is closed, or closed before the pair left.
            DailyLimitError: HubSpot's daily limit was reached (now or earlier).
            BatchItemError: HubSpot failed this pair (a record not found, say).
            HubSpotError: the request that carried it failed whole.
        """
        return await self.submit_default(from_type, from_id, to_type, to_id)

    def submit_default(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> asyncio.Future[AssociationSpec]:
        """Queue one default association and return a future of its result.

        The same as :meth:`associate_default` without a coroutine: for code
        that fans out many pairs at once (``await asyncio.gather(*futures)``),
        where wrapping each call in a task costs asyncio more than hubassoc's
        whole batching does. Call it from a running event loop; pass the
        future to ``gather``/``wait``/``wait_for`` or await it (``create_task``
        takes coroutines only). Cancelling the future gives up the wait only.

        Raises:
            ValueError, TypeError: at once, for an invalid object type or id
                (nothing is queued).
            ClientClosedError: at once, if the client is closed.
            DailyLimitError: at once, if HubSpot's daily limit was reached.

        The future's own exception (when awaited) is one of those of
        :meth:`associate_default`.
        """
        try:
            key = self._type_pairs[from_type, to_type]
        except (KeyError, TypeError):  # not seen yet, or not even hashable
            types = check_type_pair(from_type, to_type)
            key = (DEFAULT_ASSOCIATE, *types)
            if len(self._type_pairs) < 1024:
                self._type_pairs[types] = key
        # check_pair written out: the hot path saves the call.
        pair = (check_record_id(from_id, "from_id"), check_record_id(to_id, "to_id"))
        return self._coalescer.enqueue(key, pair)

    def _key(self, op: Operation[Any, Any], from_type: str, to_type: str) -> BatchKey:
        """The batch key of ``op`` between two object types, checked once per triple."""
        try:
            return self._keys[op, from_type, to_type]
        except (KeyError, TypeError):  # not seen yet, or not even hashable
            key = (op, *check_type_pair(from_type, to_type))
            if len(self._keys) < 4096:
                self._keys[key] = key
            return key

    # --- labelled associations, removal and reads, coalesced ----------------------------

    async def associate(
        self, from_type: str, from_id: RecordId, to_type: str, to_id: RecordId, types: Types
    ) -> LabelsBetweenObjectPair:
        """Associate two records with ``types`` (labels are types), batched with other callers.

        Goes out in one ``batch/create`` request with other callers' pairs of
        the same object types after at most ``linger``. Sent after every
        earlier-submitted write on the same pair has settled (order per pair).

        Returns:
            What HubSpot answered for the pair: its ids and its labels.

        Raises:
            ValueError, TypeError: an object type, id or ``types`` (one
                :class:`AssociationSpec` or a non-empty sequence of them) is
                invalid (nothing is sent).
            ClientClosedError, DailyLimitError, BatchItemError, HubSpotError:
                as for :meth:`associate_default`.
        """
        return await self.submit_associate(from_type, from_id, to_type, to_id, types)

    def submit_associate(
        self, from_type: str, from_id: RecordId, to_type: str, to_id: RecordId, types: Types
    ) -> asyncio.Future[LabelsBetweenObjectPair]:
        """:meth:`associate` as a future, like :meth:`submit_default` (same errors at once)."""
        return self._submit_labelled(ASSOCIATE, (from_type, from_id, to_type, to_id), types)

    async def archive(
        self, from_type: str, from_id: RecordId, to_type: str, to_id: RecordId
    ) -> None:
        """Remove every association (every type, labels included) between two records,
        batched with other callers in one ``batch/archive`` request.

        Sent after every earlier-submitted write on the same pair has settled.

        Raises:
            ValueError, TypeError: an object type or id is invalid (nothing is sent).
            ClientClosedError, DailyLimitError, BatchItemError, HubSpotError:
                as for :meth:`associate_default`.
        """
        return await self.submit_archive(from_type, from_id, to_type, to_id)

    def submit_archive(
        self, from_type: str, from_id: RecordId, to_type: str, to_id: RecordId
    ) -> asyncio.Future[None]:
        """:meth:`archive` as a future, like :meth:`submit_default` (same errors at once)."""
        return self._coalescer.enqueue(
            self._key(ARCHIVE, from_type, to_type), check_pair(from_id, to_id)
        )

    async def archive_labels(
        self, from_type: str, from_id: RecordId, to_type: str, to_id: RecordId, types: Types
    ) -> None:
        """Remove the association ``types`` named (and only those) between two
        records, batched with other callers in one ``batch/labels/archive`` request.

        Removing the default (unlabelled) type removes every label too (HubSpot's
        rule). Sent after every earlier-submitted write on the same pair has
        settled. Raises what :meth:`associate` raises.
        """
        return await self.submit_archive_labels(from_type, from_id, to_type, to_id, types)

    def submit_archive_labels(
        self, from_type: str, from_id: RecordId, to_type: str, to_id: RecordId, types: Types
    ) -> asyncio.Future[None]:
        """:meth:`archive_labels` as a future, like :meth:`submit_default`."""
        return self._submit_labelled(ARCHIVE_LABELS, (from_type, from_id, to_type, to_id), types)

    def _submit_labelled(
        self, op: Operation[Labelled, R], pair: tuple[str, RecordId, str, RecordId], types: Types
    ) -> asyncio.Future[R]:
        from_type, from_id, to_type, to_id = pair
        key = self._key(op, from_type, to_type)
        item = check_pair(from_id, to_id)
        return self._coalescer.enqueue(key, (*item, check_types(types)))

    async def get_associations(
        self, from_type: str, from_id: str | int, to_type: str
    ) -> list[MultiAssociatedObjectWithLabel]:
        """Every record of ``to_type`` associated with one record, with every type between them.

        Coalesced with other callers' reads into ``batch/read`` requests (up to
        1,000 records each); every page is followed (the follow-ups of many
        records share requests), so nothing past the first page is lost.
        Identical reads waiting together are asked once; each caller gets a
        list of its own. Waits for this client's earlier-submitted writes from
        that record to ``to_type`` (read your own writes).

        Returns:
            The associated records (``[]`` for a record without associations).

        Raises:
            ValueError, TypeError: an object type or id is invalid (nothing is sent).
            ClientClosedError, DailyLimitError, BatchItemError, HubSpotError:
                as for :meth:`associate_default`.
        """
        return await self.submit_get_associations(from_type, from_id, to_type)

    def submit_get_associations(
        self, from_type: str, from_id: str | int, to_type: str
    ) -> asyncio.Future[list[MultiAssociatedObjectWithLabel]]:
        """:meth:`get_associations` as a future, like :meth:`submit_default`."""
        key = self._key(READ, from_type, to_type)
        return self._coalescer.enqueue(key, (check_record_id(from_id, "from_id"), None))

    async def put_default(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> DefaultAssociation:
        """Associate two records with the default type in one ``PUT`` of its own.

        The answer is checked to be about the pair sent.

        Returns:
            The association made, in the direction asked for where HubSpot
            answered both (its ``association_spec`` is the type made).

        Raises:
            ValueError, TypeError: an object type or id is invalid (nothing is sent).
            BatchItemError: HubSpot answered 2xx with an error for the pair.
            DecodingError: the answer is about records that were not sent, or
                has no result for the pair.
            HubSpotError: the call failed (see the error tree in the README).
        """
        from_type, to_type = check_type_pair(from_type, to_type)
        pair = check_pair(from_id, to_id)
        path = self._routes.put_default(from_type, pair[0], to_type, pair[1])
        response = await self._request(
            "PUT", path, route=self._routes.templates.put_default, batch_size=1
        )
        answer = decode(DEFAULT_ASSOCIATION_BATCH_DECODER, response.body, status=response.status)
        correlation_id = response.headers.get("X-HubSpot-Correlation-Id")
        redactor = self._transport.redactor
        if answer.errors:
            raise redactor.scrub(item_error(answer.errors[0], pair, correlation_id=correlation_id))
        # Results in either direction are about this pair (HubSpot may answer
        # both); anything else is an answer to some other request.
        allowed = {pair, (pair[1], pair[0])}
        seen = {(r.from_.id, r.to.id) for r in answer.results}
        if not seen <= allowed or (pair not in seen and (pair[1], pair[0]) not in seen):
            raise redactor.scrub(
                DecodingError(
                    "the answer to a single PUT is not about the pair sent "
                    f"({len(answer.results)} result(s) about other records, or none)",
                    status=response.status,
                    correlation_id=correlation_id,
                )
            )
        # The result in the direction asked for, else the reverse one.
        by_pair = {(r.from_.id, r.to.id): r for r in answer.results}
        result = by_pair.get(pair)
        return by_pair[pair[1], pair[0]] if result is None else result

    # --- direct single calls: labelled associations, removal, reads, usage report -------

    async def put(
        self, from_type: str, from_id: RecordId, to_type: str, to_id: RecordId, types: Types
    ) -> LabelsBetweenObjectPair:
        """Associate two records with ``types`` (labels included) in one ``PUT`` of its own.

        ``types`` is one :class:`AssociationSpec` or a non-empty sequence of
        them; duplicates are sent once. The answer is checked to be about the
        pair sent.

        Returns:
            The pair and every label it now has.

        Raises:
            ValueError, TypeError: an object type, id or ``types`` is invalid (nothing is sent).
            DecodingError: the answer is not a pair's labels, or is about other records.
            HubSpotError: the call failed, e.g. ``InvalidRequestError`` for an
                unknown type id or record.
        """
        from_type, to_type = check_type_pair(from_type, to_type)
        pair = check_pair(from_id, to_id)
        body = ENCODER.encode(list(check_types(types)))
        response = await self._request(
            "PUT",
            self._routes.put_labelled(from_type, pair[0], to_type, pair[1]),
            route=self._routes.templates.put_labelled,
            batch_size=1,
            body=body,
        )
        result = decode(LABELS_BETWEEN_DECODER, response.body, status=response.status)
        # Either direction is about this pair; anything else answers some other request.
        if (result.from_object_id, result.to_object_id) not in (pair, pair[::-1]):
            raise self._transport.redactor.scrub(
                DecodingError(
                    "the answer to a labelled PUT is not about the pair sent",
                    status=response.status,
                    correlation_id=response.headers.get("X-HubSpot-Correlation-Id"),
                )
            )
        return result

    async def delete(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> None:
        """Remove every association (every type, labels included) between two records.

        Raises:
            ValueError, TypeError: an object type or id is invalid (nothing is sent).
            HubSpotError: the call failed.
        """
        from_type, to_type = check_type_pair(from_type, to_type)
        pair = check_pair(from_id, to_id)
        path = self._routes.delete(from_type, pair[0], to_type, pair[1])
        await self._request("DELETE", path, route=self._routes.templates.delete, batch_size=1)

    def iter_associations(
        self, from_type: str, from_id: str | int, to_type: str, *, page_size: int = 500
    ) -> AsyncIterator[MultiAssociatedObjectWithLabel]:
        """Every record of ``to_type`` associated with one record, page after page.

        The per-record ``GET``, asking for ``page_size`` records a page and
        following every ``after`` cursor to the last page. Arguments are
        checked here, before iteration starts: ``async for record in
        client.iter_associations("contacts", 1, "companies")``.

        Raises:
            ValueError, TypeError: an object type, id or ``page_size`` (1 to
                500) is invalid, or the API version has no per-record read
                (``2026-09`` on: use ``get_associations``); nothing is sent.

        While iterating:
            DecodingError: a page is not a page of associations, or repeats its cursor.
            HubSpotError: a page's request failed.
        """
        if not self._routes.has_list_associations:
            raise ValueError(
                f"iter_associations: API version {self.api_version!r} has no per-record "
                "association read (it ended with 2026-09); use get_associations or "
                "batch_read"
            )
        if type(page_size) is not int:
            raise TypeError(
                f"page_size must be an int, not {type(page_size).__name__}: {page_size!r}"
            )
        if not 1 <= page_size <= 500:
            raise ValueError(f"page_size {page_size!r} is not from 1 to 500")
        from_type, to_type = check_type_pair(from_type, to_type)
        return self._pages(from_type, check_record_id(from_id, "from_id"), to_type, page_size)

    async def _pages(
        self, from_type: str, from_id: str, to_type: str, page_size: int
    ) -> AsyncIterator[MultiAssociatedObjectWithLabel]:
        after: str | None = None
        while True:
            path = self._routes.list_associations(
                from_type, from_id, to_type, limit=page_size, after=after
            )
            response = await self._request(
                "GET", path, route=self._routes.templates.list_associations
            )
            page = decode(ASSOCIATION_PAGE_DECODER, response.body, status=response.status)
            for record in page.results:
                yield record
            following = page.paging.next if page.paging is not None else None
            if following is None:
                return
            if following.after == after:
                # The same cursor again would ask for the same page forever.
                raise DecodingError(
                    "a page of associations repeats the cursor it was asked with",
                    status=response.status,
                    correlation_id=response.headers.get("X-HubSpot-Correlation-Id"),
                )
            after = following.after

    async def high_usage_report(self, user_id: int) -> HighUsageReport:
        """Ask HubSpot to email a user the report of records near their association limits.

        Raises:
            ValueError, TypeError: ``user_id`` is not an int from 1 to 2**31-1
                (nothing is sent).
            DecodingError: the answer is not a report acknowledgement.
            HubSpotError: the call failed.
        """
        if type(user_id) is not int:
            raise TypeError(f"user_id must be an int, not {type(user_id).__name__}: {user_id!r}")
        if not 1 <= user_id <= 2**31 - 1:
            raise ValueError(f"user_id {user_id!r} is not an int from 1 to 2**31-1")
        # Not idempotent: each request enqueues one more report email.
        response = await self._request(
            "POST",
            self._routes.high_usage_report(user_id),
            route=self._routes.templates.high_usage_report,
            idempotent=False,
        )
        return decode(HIGH_USAGE_REPORT_DECODER, response.body, status=response.status)

    # --- explicit batches ---------------------------------------------------------------

    async def batch_associate_default(
        self, from_type: str, to_type: str, pairs: PairInputs
    ) -> BatchOutcome[Pair, AssociationSpec]:
        """Associate many pairs of records, in requests of at most ``max_batch_size``.

        Ids are normalised to decimal strings and duplicates are sent once, so
        the outcome is keyed by ``(from_id, to_id)`` strings.

        Returns:
            Per distinct pair, its association or its error: a
            :class:`BatchItemError` where HubSpot failed that pair, or the
            whole-call error (``ServerError``, ``DailyLimitError``, ...) of the
            request that carried it when other requests of the call succeeded.
            So nothing that succeeded is lost to an exception.

        Raises:
            ValueError, TypeError: an object type or a pair is invalid (nothing is sent).
            HubSpotError: every request failed whole (the first such error),
                e.g. ``AuthenticationError`` for a refused token.
        """
        return await self._pairs_batch(DEFAULT_ASSOCIATE, from_type, to_type, pairs)

    async def batch_associate(
        self, from_type: str, to_type: str, inputs: LabelledInputs
    ) -> BatchOutcome[Pair, LabelsBetweenObjectPair]:
        """Associate many pairs, each with its types (``batch/create``), in requests
        of at most ``max_batch_size``.

        ``inputs`` are ``(from_id, to_id, types)``; the types of a pair given
        more than once are merged (union, first-seen order).

        Returns:
            Per distinct ``(from_id, to_id)``, HubSpot's answer for the pair or
            its error, as for :meth:`batch_associate_default`.

        Raises:
            ValueError, TypeError: an object type or an input is invalid (nothing is sent).
            HubSpotError: every request failed whole (the first such error).
        """
        return await self._labelled_batch(ASSOCIATE, from_type, to_type, inputs)

    async def batch_archive(
        self, from_type: str, to_type: str, pairs: PairInputs
    ) -> BatchOutcome[Pair, None]:
        """Remove every association between each pair (``batch/archive``; a from
        id's pairs travel as one input with a ``to`` list).

        Returns per distinct ``(from_id, to_id)`` ``None`` or its error, and
        raises, as :meth:`batch_associate_default` does.
        """
        return await self._pairs_batch(ARCHIVE, from_type, to_type, pairs)

    async def batch_archive_labels(
        self, from_type: str, to_type: str, inputs: LabelledInputs
    ) -> BatchOutcome[Pair, None]:
        """Remove the named types between each pair (``batch/labels/archive``).

        ``inputs`` as for :meth:`batch_associate` (types of a repeated pair merged).

        Returns:
            Per distinct ``(from_id, to_id)``, ``None`` or its error.

        Raises:
            ValueError, TypeError: an object type or an input is invalid (nothing is sent).
            HubSpotError: every request failed whole (the first such error).
        """
        return await self._labelled_batch(ARCHIVE_LABELS, from_type, to_type, inputs)

    async def batch_read(
        self, from_type: str, to_type: str, ids: Iterable[str | int]
    ) -> BatchOutcome[str, list[MultiAssociatedObjectWithLabel]]:
        """Every association of each record (``batch/read``, 1,000 records a request,
        every page of every record followed).

        Returns:
            Per distinct from id, its associated records (``[]`` for none) or its error.

        Raises:
            ValueError, TypeError: an object type or an id is invalid (nothing is sent).
            HubSpotError: every request failed whole (the first such error).
        """
        key = self._batch_key(READ, from_type, to_type)
        unique = check_ids(ids)
        # Through the coalescer, where pages are followed together with other reads'.
        enqueue = self._coalescer.enqueue
        answers = await asyncio.gather(
            *[enqueue(key, (i, None)) for i in unique], return_exceptions=True
        )
        return _gathered(unique, answers)

    async def _pairs_batch(
        self, op: Operation[Pair, R], from_type: str, to_type: str, pairs: PairInputs
    ) -> BatchOutcome[Pair, R]:
        key = self._batch_key(op, from_type, to_type)
        unique = list(dict.fromkeys(check_pairs(pairs)))
        results, errors = await self._send_batch(key, unique)
        return BatchOutcome(unique, results, errors)

    async def _labelled_batch(
        self,
        op: Operation[Labelled, R],
        from_type: str,
        to_type: str,
        inputs: LabelledInputs,
    ) -> BatchOutcome[Pair, R]:
        key = self._batch_key(op, from_type, to_type)
        merged = check_labelled(inputs)
        results, errors = await self._send_batch(key, [(*p, t) for p, t in merged.items()])
        return BatchOutcome(
            list(merged),
            {(k[0], k[1]): v for k, v in results.items()},
            {(k[0], k[1]): v for k, v in errors.items()},
        )

    def _batch_key(self, op: Operation[Any, Any], from_type: str, to_type: str) -> BatchKey:
        self._check_open()
        return self._key(op, from_type, to_type)

    async def _send_batch(
        self, key: BatchKey, inputs: list[I]
    ) -> tuple[dict[I, Any], dict[I, HubSpotError]]:
        """Send an explicit batch of writes through the sender (not coalesced) and report it."""
        if not inputs:
            return {}, {}
        op, from_type, to_type = key
        self._direct_calls += 1
        try:
            results, errors, _ = await self._sender.send(op, from_type, to_type, inputs)
        except HubSpotError:
            # Every request failed whole: the inputs failed all the same.
            self._batch_settled(key, len(inputs), 0)
            raise
        finally:
            self._direct_call_done()
        self._batch_settled(key, len(inputs), len(results))
        return results, errors

    def _batch_settled(self, key: BatchKey, inputs: int, succeeded: int) -> None:
        if self._emit is not None:
            self._emit(
                BatchSettled(
                    from_type=key[1],
                    to_type=key[2],
                    pairs=inputs,
                    succeeded=succeeded,
                    failed=inputs - succeeded,
                    pending=self._coalescer.pending,
                    operation=key[0].name,
                )
            )


def _gathered(keys: list[K], answers: list[Any]) -> BatchOutcome[K, Any]:
    """The outcome of coalesced calls gathered with ``return_exceptions``.

    Raises:
        HubSpotError: every call failed with a whole-call error (the first one),
            as an explicit batch whose every request failed whole does.
    """
    results: dict[K, Any] = {}
    errors: dict[K, HubSpotError] = {}
    for key, answer in zip(keys, answers, strict=True):
        if isinstance(answer, HubSpotError):
            errors[key] = answer
        elif isinstance(answer, BaseException):
            raise answer
        else:
            results[key] = answer
    if errors and not results and not any(isinstance(e, BatchItemError) for e in errors.values()):
        raise errors[keys[0]]
    return BatchOutcome(keys, results, errors)

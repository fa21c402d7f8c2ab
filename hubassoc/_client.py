"""The client: direct calls, explicit batches, and coalesced single awaits.

:class:`AssociationsClient` builds and owns its parts, each passed only what
it uses: one :class:`~hubassoc._pacing.Pacer` (the rolling window, alone or
shared through a :class:`~hubassoc.RedisBudget`), one
:class:`~hubassoc._transport.Transport` (session, token, one retry loop), one
:class:`~hubassoc._default_batches.DefaultBatchSender` (batch sizing,
per-pair answers, the concurrency limit), one
:class:`~hubassoc._coalescer.Coalescer`, and the limit
:class:`~hubassoc._configurations.Configurations` calls. Its lifecycle is
explicit: usable from construction, closed by :meth:`AssociationsClient.aclose`
or leaving ``async with``, and never reopened.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import aiohttp

from hubassoc._auth import StaticToken, TokenProvider, token_source
from hubassoc._coalescer import BatchKey, Coalescer
from hubassoc._configurations import Configurations
from hubassoc._errors import ClientClosedError, DecodingError, HubSpotError
from hubassoc._events import BatchSettled, Emitter, EventCallback
from hubassoc._labels import Labels
from hubassoc._models import (
    ASSOCIATION_PAGE_DECODER,
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    ENCODER,
    HIGH_USAGE_REPORT_DECODER,
    LABELS_BETWEEN_DECODER,
    AssociationSpec,
    BatchResponse,
    DefaultAssociation,
    HighUsageReport,
    LabelsBetweenObjectPair,
    MultiAssociatedObjectWithLabel,
    decode,
)
from hubassoc._oauth import OAuthTokens
from hubassoc._operations import DEFAULT_ASSOCIATE, Pair
from hubassoc._outcome import BatchOutcome, item_error
from hubassoc._pacing import Pacer, PacingView, RateLimit
from hubassoc._retry import RetryPolicy
from hubassoc._routes import Routes
from hubassoc._sender import BatchSender
from hubassoc._tracing import make_tracer
from hubassoc._transport import Response, Transport, TransportStats, check_base_url
from hubassoc._validation import check_object_type, check_record_id, check_types

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from hubassoc._redis_budget import RedisBudget

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "AssociationsClient"]

logger = logging.getLogger("hubassoc")

#: HubSpot's API host.
DEFAULT_BASE_URL = "https://api.hubapi.com"
#: The API version used unless told otherwise.
DEFAULT_API_VERSION = "2026-03"


def _positive_int(name: str, value: object) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(f"{name} must be an int >= 1, not {value!r}")
    return value


def _non_negative_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


def _positive_seconds(name: str, value: object) -> float:
    seconds = _non_negative_seconds(name, value)
    if seconds == 0:
        raise ValueError(f"{name} must be > 0")
    return seconds


def _budget_key_for(tokens: StaticToken | TokenProvider) -> str:
    """The shared budget's default key: per HubSpot account for OAuth tokens
    (known once the first refresh said which), per token for a static one.

    A token's key is a keyed, truncated hash: it identifies the token to
    processes that hold it and lets nobody recover it from Redis.

    Raises:
        ValueError: a custom token provider, whose tokens rotate and say no
            account (:func:`_check_budget` refuses it at construction).
    """
    if isinstance(tokens, OAuthTokens) and tokens.hub_id is not None:
        return f"hub-{tokens.hub_id}"
    if isinstance(tokens, StaticToken):
        digest = hashlib.blake2b(
            tokens.token.encode(), digest_size=12, person=b"hubassoc-budget"
        ).hexdigest()
        return f"token-{digest}"
    raise ValueError("no default budget key for this token provider: pass RedisBudget(key=...)")


class AssociationsClient:
    """An asyncio client for HubSpot's CRM default associations and limit configurations.

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
        max_batch_size: inputs per ``batch/associate/default`` request.
        max_concurrency: requests in flight at once.
        rate_limit: a :class:`RateLimit` to hold to; ``None`` (the default) to
            start at the Free tier and follow HubSpot's headers; ``False`` not
            to pace at all (for a server without limits).
        shared_budget: a :class:`hubassoc.RedisBudget` to share one rolling
            window (and its pauses, learned limit and daily stop) with every
            client on the same key, in any process on any host.
        linger: seconds a coalesced pair may wait for companions.
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
        tokens = token_source(access_token)
        url = check_base_url(base_url)
        self._routes = Routes(api_version)
        timeout = _positive_seconds("timeout", timeout)
        if retry is None:
            if type(max_retries) is not int:
                raise TypeError(f"max_retries must be an int, not {max_retries!r}")
            retry = RetryPolicy(max_retries=max_retries)
        elif not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        max_retry_wait = _non_negative_seconds("max_retry_wait", max_retry_wait)
        max_response_bytes = _positive_int("max_response_bytes", max_response_bytes)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(
                f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
            )
        max_batch_size = _positive_int("max_batch_size", max_batch_size)
        max_concurrency = _positive_int("max_concurrency", max_concurrency)
        max_pending = _positive_int("max_pending", max_pending)
        linger = _non_negative_seconds("linger", linger)
        self._close_timeout = _positive_seconds("close_timeout", close_timeout)
        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be callable, not {on_event!r}")
        emit = Emitter(on_event) if on_event is not None else None
        tracer = make_tracer(tracing, server_address=url.host, server_port=url.port)
        if shared_budget is not None:
            _check_budget(shared_budget, tokens, rate_limit)
        if rate_limit is False:
            limit, adaptive = None, False
        elif rate_limit is None:
            limit, adaptive = None, True
        elif isinstance(rate_limit, RateLimit):
            limit, adaptive = rate_limit, False
        else:
            raise TypeError(f"rate_limit must be a RateLimit, None or False, not {rate_limit!r}")
        pacer = Pacer(
            limit,
            adaptive=adaptive,
            budget=shared_budget,
            default_key=(lambda: _budget_key_for(tokens)) if shared_budget is not None else None,
            emit=emit,
        )
        self._pacer = pacer
        self._transport = Transport(
            base_url=url,
            tokens=tokens,
            session=session,
            timeout=timeout,
            retry=retry,
            pacer=pacer,
            max_retry_wait=max_retry_wait,
            max_response_bytes=max_response_bytes,
            connection_limit=max(max_concurrency, 10),
            emit=emit,
            tracer=tracer,
        )
        if isinstance(tokens, OAuthTokens):
            # It refreshes through this client's base URL, session, timeout and
            # size cap, and reports through its events.
            tokens.bind(self._transport.post_form, emit=emit)
        self._tokens = tokens
        self._emit = emit
        self._sender = BatchSender(
            self._transport.request,
            self._routes,
            max_batch_size=max_batch_size,
            max_concurrency=max_concurrency,
            redactor=self._transport.redactor,
            emit=emit,
        )
        self._coalescer = Coalescer(
            self._sender, pacer, linger=linger, max_pending=max_pending, emit=emit
        )
        self._closed = False
        self._closer: asyncio.Task[None] | None = None
        # Object-type pairs already validated: the hot path looks them up once.
        self._type_pairs: dict[tuple[str, str], BatchKey] = {}
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
                self._tokens.unbind()

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
        """Live counters: requests, retries, 429s, answers by status."""
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
            types = (
                check_object_type(from_type, "from_type"),
                check_object_type(to_type, "to_type"),
            )
            key = (DEFAULT_ASSOCIATE, *types)
            if len(self._type_pairs) < 1024:
                self._type_pairs[types] = key
        pair = (check_record_id(from_id, "from_id"), check_record_id(to_id, "to_id"))
        return self._coalescer.enqueue(key, pair)

    async def put_default(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> BatchResponse[DefaultAssociation]:
        """Associate two records with the default type in one ``PUT`` of its own.

        The answer is checked to be about the pair sent.

        Raises:
            ValueError, TypeError: an object type or id is invalid (nothing is sent).
            BatchItemError: HubSpot answered 2xx with an error for the pair.
            DecodingError: the answer is about records that were not sent, or
                has no result for the pair.
            HubSpotError: the call failed (see the error tree in the README).
        """
        from_type = check_object_type(from_type, "from_type")
        to_type = check_object_type(to_type, "to_type")
        pair = (check_record_id(from_id, "from_id"), check_record_id(to_id, "to_id"))
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
        return answer

    # --- direct single calls: labelled associations, removal, reads, usage report -------

    async def put(
        self,
        from_type: str,
        from_id: str | int,
        to_type: str,
        to_id: str | int,
        types: AssociationSpec | Sequence[AssociationSpec],
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
        from_type = check_object_type(from_type, "from_type")
        to_type = check_object_type(to_type, "to_type")
        pair = (check_record_id(from_id, "from_id"), check_record_id(to_id, "to_id"))
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
        from_type = check_object_type(from_type, "from_type")
        to_type = check_object_type(to_type, "to_type")
        path = self._routes.delete(
            from_type, check_record_id(from_id, "from_id"), to_type, check_record_id(to_id, "to_id")
        )
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
        return self._pages(
            check_object_type(from_type, "from_type"),
            check_record_id(from_id, "from_id"),
            check_object_type(to_type, "to_type"),
            page_size,
        )

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

    async def batch_associate_default(
        self,
        from_type: str,
        to_type: str,
        pairs: Iterable[tuple[str | int, str | int]],
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
        self._check_open()
        from_type = check_object_type(from_type, "from_type")
        to_type = check_object_type(to_type, "to_type")
        unique = list(dict.fromkeys(_check_pairs(pairs)))
        if not unique:
            return BatchOutcome([], {}, {})
        self._direct_calls += 1
        try:
            results, errors = await self._sender.send(DEFAULT_ASSOCIATE, from_type, to_type, unique)
        except HubSpotError:
            # Every request failed whole: the pairs failed all the same.
            self._batch_settled(from_type, to_type, len(unique), 0)
            raise
        finally:
            self._direct_call_done()
        self._batch_settled(from_type, to_type, len(unique), len(results))
        return BatchOutcome(unique, results, errors)

    def _batch_settled(self, from_type: str, to_type: str, pairs: int, succeeded: int) -> None:
        if self._emit is not None:
            self._emit(
                BatchSettled(
                    from_type=from_type,
                    to_type=to_type,
                    pairs=pairs,
                    succeeded=succeeded,
                    failed=pairs - succeeded,
                    pending=self._coalescer.pending,
                )
            )


def _check_budget(
    budget: RedisBudget, tokens: StaticToken | TokenProvider, rate_limit: object
) -> None:
    from hubassoc._redis_budget import RedisBudget

    if not isinstance(budget, RedisBudget):
        raise TypeError(
            f"shared_budget must be a hubassoc.RedisBudget, not {type(budget).__name__}"
        )
    if rate_limit is False:
        raise ValueError("shared_budget paces requests: it cannot go with rate_limit=False")
    if budget.key is None and not isinstance(tokens, StaticToken | OAuthTokens):
        raise ValueError(
            "a shared budget with a custom token provider needs a key: "
            "RedisBudget(..., key='my-app') (tokens rotate, so they cannot name the budget)"
        )


def _check_pairs(pairs: Iterable[tuple[str | int, str | int]]) -> list[Pair]:
    """Validate and normalise every pair; an error names the offending index."""
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Iterable):
        raise TypeError(
            f"pairs must be an iterable of (from_id, to_id), not {type(pairs).__name__}"
        )
    checked: list[Pair] = []
    append = checked.append
    index = 0
    try:
        for index, pair in enumerate(pairs):  # noqa: B007 - index is reported on error
            if type(pair) is not tuple or len(pair) != 2:
                if isinstance(pair, str | bytes) or not isinstance(pair, tuple | list):
                    raise ValueError(f"expected a (from_id, to_id) pair, not {pair!r}")
                if len(pair) != 2:
                    raise ValueError(f"expected a (from_id, to_id) pair, not {pair!r}")
            from_id, to_id = pair
            # Inline fast path for the common case, plain digit strings that are
            # canonical and in range; anything else goes through check_record_id.
            if not (
                type(from_id) is str
                and type(to_id) is str
                and 0 < len(from_id) < 19
                and 0 < len(to_id) < 19
                and from_id.isdigit()
                and to_id.isdigit()
                and from_id.isascii()
                and to_id.isascii()
                and (from_id[0] != "0" or len(from_id) == 1)
                and (to_id[0] != "0" or len(to_id) == 1)
            ):
                from_id = check_record_id(from_id, "from_id")
                to_id = check_record_id(to_id, "to_id")
            append((from_id, to_id))
    except (TypeError, ValueError) as exc:
        # The per-pair checks name no index (formatting one per pair would
        # cost more than the check); say which pair it was here.
        raise type(exc)(f"pairs[{index}]: {exc}") from None
    return checked

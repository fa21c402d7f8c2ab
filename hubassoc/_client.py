"""The client: direct calls, explicit batches, and coalesced single awaits.

:class:`AssociationsClient` owns one :class:`~hubassoc._transport.Transport`
(session, token, retries), one :class:`~hubassoc._pacing.Pacer` (the rolling
window), one :class:`~hubassoc._default_batches.DefaultBatchSender` (batch
sizing and per-pair answers) and one :class:`~hubassoc._coalescer.Coalescer`.
Its lifecycle is explicit: usable from construction, closed by
:meth:`AssociationsClient.aclose` or leaving ``async with``, and never
reopened.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterable
from typing import Literal

import aiohttp

from hubassoc._coalescer import Coalescer
from hubassoc._configurations import Configurations
from hubassoc._default_batches import DefaultBatchSender, Pair
from hubassoc._errors import ClientClosedError
from hubassoc._models import (
    DEFAULT_ASSOCIATION_BATCH_DECODER,
    AssociationSpec,
    BatchResponse,
    DefaultAssociation,
    decode,
)
from hubassoc._outcome import BatchOutcome
from hubassoc._pacing import Pacer, RateLimit
from hubassoc._retry import RetryPolicy
from hubassoc._routes import Routes
from hubassoc._transport import Response, Transport, TransportStats, check_base_url
from hubassoc._validation import check_object_type, check_record_id

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "TOKEN_ENV", "AssociationsClient"]

#: HubSpot's API host.
DEFAULT_BASE_URL = "https://api.hubapi.com"
#: The API version a client uses unless told otherwise.
DEFAULT_API_VERSION = "2026-03"
#: The environment variable the access token is read from by default.
TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"


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


def _check_token(access_token: str | None) -> str:
    token = access_token if access_token is not None else os.environ.get(TOKEN_ENV)
    if token is None or token == "":
        raise ValueError(
            f"no HubSpot access token: pass access_token=... or set {TOKEN_ENV} "
            "(a private app token or an OAuth access token)"
        )
    if not isinstance(token, str):
        raise TypeError(f"access_token must be a str, not {type(token).__name__}")
    # The token goes into a header: anything that could split the header is
    # refused, without echoing the token.
    if not token.isascii() or any(c.isspace() or not c.isprintable() for c in token):
        raise ValueError("the access token contains whitespace or control characters")
    return token


class AssociationsClient:
    """An asyncio client for HubSpot's CRM default associations and limit configurations.

    Args:
        access_token: a private-app or OAuth token; by default the
            ``HUBSPOT_ACCESS_TOKEN`` environment variable. It never appears in a
            repr, log line or error.
        base_url: HubSpot's host, or a HubSpot-compatible one (a proxy, the
            sandbox). Plain ``http://`` is refused except to loopback.
        api_version: ``"v4"`` (legacy paths) or a date version ``"YYYY-MM"``.
        timeout: seconds for one attempt, connection to last byte.
        max_retries: retries after the first attempt (see :class:`RetryPolicy`).
        retry: a full :class:`RetryPolicy`; overrides ``max_retries``.
        session: an :class:`aiohttp.ClientSession` to use; it is never closed
            by the client. Without one the client makes and closes its own.
        max_batch_size: inputs per ``batch/associate/default`` request.
        max_concurrency: requests in flight at once.
        rate_limit: a :class:`RateLimit` to hold to; ``None`` (the default) to
            start at the Free tier and follow HubSpot's headers; ``False`` not
            to pace at all (for a server without limits).
        linger: seconds a coalesced pair may wait for companions.
        max_pending: coalesced callers admitted at once; more wait for room.

    Raises:
        ValueError, TypeError: an argument is invalid, or no token was given.
    """

    def __init__(
        self,
        access_token: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 30.0,
        max_retries: int = 5,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        max_batch_size: int = 100,
        max_concurrency: int = 8,
        rate_limit: RateLimit | Literal[False] | None = None,
        linger: float = 0.005,
        max_pending: int = 10_000,
    ) -> None:
        token = _check_token(access_token)
        url = check_base_url(base_url)
        self._routes = Routes(api_version)
        timeout = _non_negative_seconds("timeout", timeout)
        if timeout == 0:
            raise ValueError("timeout must be > 0")
        if retry is None:
            if type(max_retries) is not int:
                raise TypeError(f"max_retries must be an int, not {max_retries!r}")
            retry = RetryPolicy(max_retries=max_retries)
        elif not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(
                f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
            )
        max_batch_size = _positive_int("max_batch_size", max_batch_size)
        max_concurrency = _positive_int("max_concurrency", max_concurrency)
        max_pending = _positive_int("max_pending", max_pending)
        linger = _non_negative_seconds("linger", linger)
        if rate_limit is False:
            pacer = Pacer(None)
        elif rate_limit is None:
            pacer = Pacer(None, adaptive=True)
        elif isinstance(rate_limit, RateLimit):
            pacer = Pacer(rate_limit)
        else:
            raise TypeError(f"rate_limit must be a RateLimit, None or False, not {rate_limit!r}")
        self._transport = Transport(
            base_url=url,
            token=token,
            session=session,
            timeout=timeout,
            retry=retry,
            pacer=pacer,
            connection_limit=max(max_concurrency, 10),
        )
        self._sender = DefaultBatchSender(
            self._transport,
            self._routes,
            max_batch_size=max_batch_size,
            max_concurrency=max_concurrency,
        )
        self._coalescer = Coalescer(
            self._sender,
            linger=linger,
            max_pending=max_pending,
            max_concurrency=max_concurrency,
        )
        self._closed = False
        # Object-type pairs already validated: the hot path looks them up once.
        self._type_pairs: dict[tuple[str, str], tuple[str, str]] = {}
        # Direct calls (not coalesced) under way, so that aclose() can wait for them.
        self._direct_calls = 0
        self._direct_calls_idle: asyncio.Event | None = None
        self.configurations = Configurations(self)

    def __repr__(self) -> str:
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

        A session passed in by the caller is left open. Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        try:
            await self._coalescer.aclose()
            # Direct calls already under way finish before the session goes.
            if self._direct_calls:
                self._direct_calls_idle = asyncio.Event()
                await self._direct_calls_idle.wait()
        finally:
            await self._transport.aclose()

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
    def pacer(self) -> Pacer:
        """The pacer every request waits for (its repr shows the limit in force)."""
        return self._transport.pacer

    @property
    def max_batch_size(self) -> int:
        """Inputs per batch request: as configured, or less once HubSpot said so."""
        return self._sender.max_batch_size

    @property
    def pending(self) -> int:
        """Coalesced calls admitted and not yet answered."""
        return self._coalescer.pending

    async def _request(
        self, method: str, path: str, *, body: bytes | None = None, idempotent: bool = True
    ) -> Response:
        self._check_open()
        self._direct_calls += 1
        try:
            return await self._transport.request(method, path, body=body, idempotent=idempotent)
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
            ClientClosedError: the client is closed.
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
            key = (check_object_type(from_type, "from_type"), check_object_type(to_type, "to_type"))
            if len(self._type_pairs) < 1024:
                self._type_pairs[key] = key
        pair = (check_record_id(from_id, "from_id"), check_record_id(to_id, "to_id"))
        return self._coalescer.enqueue(key, pair)

    async def put_default(
        self, from_type: str, from_id: str | int, to_type: str, to_id: str | int
    ) -> BatchResponse[DefaultAssociation]:
        """Associate two records with the default type in one ``PUT`` of its own.

        Raises:
            ValueError, TypeError: an object type or id is invalid (nothing is sent).
            HubSpotError: the call failed; see :mod:`hubassoc._errors`.
        """
        path = self._routes.put_default(
            check_object_type(from_type, "from_type"),
            check_record_id(from_id, "from_id"),
            check_object_type(to_type, "to_type"),
            check_record_id(to_id, "to_id"),
        )
        response = await self._request("PUT", path)
        return decode(DEFAULT_ASSOCIATION_BATCH_DECODER, response.body, status=response.status)

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
            results, errors = await self._sender.send(from_type, to_type, unique)
        finally:
            self._direct_call_done()
        return BatchOutcome(unique, results, errors)


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

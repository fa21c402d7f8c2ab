"""One HTTP exchange with HubSpot, in one retry loop, and the translation of failures.

This is the one place where aiohttp's exceptions and HubSpot's error statuses
become :mod:`hubassoc` errors (re-raised ``from`` the original), and the one
place that puts the access token on the wire. Every attempt, retries
included, waits for the :class:`~hubassoc._pacing.Pacer` (which alone reads
the rate-limit headers), so the rolling-window guarantee covers retries too.

What a server sends is untrusted: a body larger than ``max_response_bytes``
is refused without being held, a wait longer than ``max_retry_wait`` is not
slept (the call fails at once, carrying ``retry_after``), and every secret is
scrubbed from every field of every error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from hubassoc._auth import StaticToken, TokenProvider
from hubassoc._errors import (
    AuthenticationError,
    ClientClosedError,
    DailyLimitError,
    HubSpotError,
    InvalidRequestError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)
from hubassoc._events import Emitter, RequestAnswered, RequestSent, RetryScheduled
from hubassoc._models import ERROR_DECODER, RATE_LIMIT_DECODER, Error, RateLimitErrorBody
from hubassoc._pacing import Pacer
from hubassoc._redaction import Redactor
from hubassoc._retry import Failure, RetryPolicy, parse_retry_after

__all__ = ["RequestFunction", "Response", "Transport", "TransportStats", "check_base_url"]

logger = logging.getLogger("hubassoc")

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_EXPIRED = "EXPIRED_AUTHENTICATION"
_CHUNK = 65536


@dataclass(slots=True)
class TransportStats:
    """Counters of what went over the wire, for progress bars and summaries."""

    requests: int = 0  #: attempts sent (retries included)
    retries: int = 0  #: attempts that were retries
    rate_limited: int = 0  #: 429 answers seen
    by_status: dict[int, int] = field(default_factory=dict)  #: answers per HTTP status


@dataclass(frozen=True, slots=True)
class Response:
    """A successful (2xx) answer: its status, headers and raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class RequestFunction(Protocol):
    """What the sender sends through: :meth:`hubassoc._transport.Transport.request`."""

    def __call__(
        self,
        method: str,
        path: str,
        *,
        route: str,
        batch_size: int = ...,
        body: bytes | None = ...,
        idempotent: bool = ...,
    ) -> Awaitable[Response]: ...


def check_base_url(base_url: str) -> URL:
    """Return ``base_url`` as a URL, refusing plain ``http://`` to anything but loopback.

    Raises:
        ValueError: not an absolute http(s) URL, or plain http to a remote host
            (the token would travel in clear text).
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url {base_url!r} is not an absolute http(s) URL")
    if url.query_string or url.fragment or url.user or url.password:
        raise ValueError("base_url must not have a query, fragment or credentials")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValueError(
            f"base_url {base_url!r} uses plain http to a remote host; the access token "
            "would travel in clear text. Use https (plain http is allowed only to loopback)."
        )
    return url.with_path(url.path.rstrip("/"))


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Transport:
    """Sends requests to HubSpot with pacing and retries; puts the token on the wire.

    The session is created lazily inside the running loop unless one is given;
    a given session is used and never closed. Once :meth:`close_intake` is
    called no session is created and no attempt starts.
    """

    __slots__ = (
        "_base",
        "_closing",
        "_emit",
        "_headers",
        "_owns_session",
        "_rand",
        "_session",
        "_timeout",
        "_tokens",
        "_urls",
        "connection_limit",
        "max_response_bytes",
        "max_retry_wait",
        "pacer",
        "redactor",
        "retry",
        "stats",
        "tracer",
    )

    def __init__(
        self,
        *,
        base_url: URL,
        tokens: StaticToken | TokenProvider,
        session: aiohttp.ClientSession | None,
        timeout: float,
        retry: RetryPolicy,
        pacer: Pacer,
        max_retry_wait: float = 60.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        connection_limit: int = 100,
        emit: Emitter | None = None,
        tracer: Any = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._base = str(base_url)
        self._tokens = tokens
        self.redactor = Redactor()
        if isinstance(tokens, StaticToken):
            self.redactor.add(tokens.token)
        self._session = session
        self._owns_session = session is None
        self._closing = False
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._rand = rand
        self._urls: dict[str, URL] = {}
        self._emit = emit
        # The headers of the token last used: rebuilt only when the token changes.
        self._headers: tuple[str, dict[str, str]] = ("", {})
        self.tracer = tracer
        self.connection_limit = connection_limit
        self.max_retry_wait = max_retry_wait
        self.max_response_bytes = max_response_bytes
        self.retry = retry
        self.pacer = pacer
        self.stats = TransportStats()

    def __repr__(self) -> str:
        # Never the token or the headers that carry it.
        state = " closing" if self._closing else ""
        return (
            f"<Transport {self._base}{state} retries={self.retry.max_retries} pacer={self.pacer!r}>"
        )

    # --- lifecycle ----------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closing:
            raise ClientClosedError("the client was closed before this request was sent")
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self.connection_limit)
            session = self._session = aiohttp.ClientSession(connector=connector)
        return session

    def close_intake(self) -> None:
        """From now on no attempt starts and no session is created."""
        self._closing = True

    @property
    def closing(self) -> bool:
        """Whether :meth:`close_intake` was called."""
        return self._closing

    async def aclose(self) -> None:
        """Stop intake and close the session if this transport made it (idempotent)."""
        self._closing = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    # --- the exchange -------------------------------------------------------------------

    def _url(self, method: str, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            # Parsing a URL costs more than the rest of a request's bookkeeping;
            # batch paths (POST) repeat, so keep those; single PUT paths don't.
            url = URL(self._base + path, encoded=True)
            if method == "POST" and len(self._urls) < 1024:
                self._urls[path] = url
        return url

    async def _token(self, rejected: str | None = None) -> str:
        tokens = self._tokens
        if isinstance(tokens, StaticToken):
            return tokens.token
        token = await tokens.get_token(rejected=rejected)
        if not isinstance(token, str) or not token:
            raise AuthenticationError("the token provider returned no access token")
        self.redactor.add(token)
        return token

    def _headers_for(self, token: str) -> dict[str, str]:
        cached_token, headers = self._headers
        if token is not cached_token:
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
            self._headers = (token, headers)
        return headers

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body, refused once it passes ``max_response_bytes`` (never held whole)."""
        cap = self.max_response_bytes
        length = resp.content_length
        if length is not None and length > cap:
            resp.close()
            raise ResponseTooLargeError(
                f"the response body is {length} bytes, more than max_response_bytes={cap}",
                status=resp.status,
                size=length,
            )
        chunks: list[bytes] = []
        size = 0
        content = resp.content
        while True:
            chunk = await content.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                resp.close()
                raise ResponseTooLargeError(
                    f"the response body is larger than max_response_bytes={cap} "
                    f"(refused after {size} bytes)",
                    status=resp.status,
                    size=size,
                )
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        batch_size: int = 0,
        body: bytes | None = None,
        idempotent: bool = True,
    ) -> Response:
        """Send one request (with retries) and return its 2xx answer.

        ``path`` must already be validated and percent-encoded; ``route`` is
        its template (no ids), for events, spans and logs.

        Raises:
            AuthenticationError, InvalidRequestError, RateLimitError,
            DailyLimitError, ServerError, TransportError, ResponseTooLargeError:
            see :mod:`hubassoc._errors`.
            ClientClosedError: the client closed before the request left.
        """
        session = self._get_session()
        url = self._url(method, path)
        pacer, policy, stats, emit = self.pacer, self.retry, self.stats, self._emit
        rejected_once = False
        attempt = 0
        while True:
            token = await self._token()
            sent_at = await pacer.acquire()
            if self._closing:
                raise ClientClosedError("the client was closed before this request was sent")
            stats.requests += 1
            if attempt:
                stats.retries += 1
            if emit is not None:
                limit = pacer.limit
                emit(
                    RequestSent(
                        method=method,
                        route=route,
                        attempt=attempt + 1,
                        batch_size=batch_size,
                        in_window=pacer.in_window() if limit is not None else None,
                        limit=limit.requests if limit is not None else None,
                    )
                )
            span = None
            if self.tracer is not None:
                span = self.tracer.start(method, route, batch_size, attempt + 1)
            started = time.perf_counter()
            try:
                async with session.request(
                    method,
                    url,
                    data=body,
                    headers=self._headers_for(token),
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as resp:
                    status = resp.status
                    headers = resp.headers
                    payload = await self._read(resp)
            except ResponseTooLargeError as too_large:
                pacer.observe(sent_at, status, headers)
                self._answered(
                    emit,
                    span,
                    method,
                    route,
                    attempt,
                    batch_size,
                    status,
                    started,
                    too_large,
                    headers,
                )
                raise
            except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
                if isinstance(exc, RuntimeError) and not self._closing:
                    if span is not None:
                        self.tracer.end(span, None, None, type(exc).__name__)
                    raise
                pacer.failed(sent_at)
                lost = self._transport_error(exc, method, route, attempt)
                self._answered(
                    emit, span, method, route, attempt, batch_size, None, started, lost, None
                )
                if self._closing:
                    raise ClientClosedError(
                        "the client was closed while this request was in flight; "
                        "HubSpot may have acted on it"
                    ) from exc
                failure = Failure(
                    None, request_sent=not isinstance(exc, aiohttp.ClientConnectorError)
                )
                if policy.should_retry(failure, attempt, idempotent=idempotent):
                    delay = policy.delay(failure, attempt, self._rand)
                    self._retrying(
                        emit,
                        method,
                        route,
                        attempt,
                        "timeout" if isinstance(exc, TimeoutError) else "connection",
                        delay,
                    )
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
                raise lost from exc
            except BaseException as exc:
                # Cancelled (a caller's timeout): the span is current in the
                # caller's context and must not outlive the attempt.
                if span is not None:
                    self.tracer.end(span, None, None, type(exc).__name__)
                raise

            by_status = stats.by_status
            by_status[status] = by_status.get(status, 0) + 1
            pacer.observe(sent_at, status, headers)
            if 200 <= status < 300:
                self._answered(
                    emit, span, method, route, attempt, batch_size, status, started, None, headers
                )
                return Response(status, headers, payload)

            error = self.redactor.scrub(self._error_from(status, headers, payload))
            self._answered(
                emit, span, method, route, attempt, batch_size, status, started, error, headers
            )
            if (
                status == 401
                and error.category == _EXPIRED
                and not rejected_once
                and not isinstance(self._tokens, StaticToken)
            ):
                # The token expired in flight: one refresh, one resend (not a retry).
                rejected_once = True
                await self._token(rejected=token)
                continue
            failure = Failure(
                status,
                retry_after=parse_retry_after(headers),
                interval=_interval(headers),
                policy_name=error.policy_name if isinstance(error, RateLimitError) else None,
            )
            delay = policy.delay(failure, attempt, self._rand)
            if status == 429:
                stats.rate_limited += 1
                daily: DailyLimitError | None = (
                    error if isinstance(error, DailyLimitError) else None
                )
                # A rolling-window 429 holds everybody, not just this request;
                # never longer than max_retry_wait.
                pacer.rate_limited(failure.policy_name, min(delay, self.max_retry_wait), daily)
                if daily is not None:
                    raise error
            if policy.should_retry(failure, attempt, idempotent=idempotent):
                if delay > self.max_retry_wait:
                    logger.warning(
                        "%s %s -> %d asks to wait %.0fs, more than max_retry_wait=%.0fs: "
                        "failing now",
                        method,
                        route,
                        status,
                        delay,
                        self.max_retry_wait,
                        extra={"hubassoc_route": route, "hubassoc_status": status},
                    )
                    _set_retry_after(error, delay)
                    raise error
                self._retrying(emit, method, route, attempt, str(status), delay)
                if status != 429:  # after a 429 the pacer already holds us
                    await asyncio.sleep(delay)
                attempt += 1
                continue
            logger.debug(
                "%s %s -> %d (attempt %d), giving up",
                method,
                route,
                status,
                attempt + 1,
                extra={"hubassoc_route": route, "hubassoc_status": status},
            )
            raise error

    def _answered(
        self,
        emit: Emitter | None,
        span: Any,
        method: str,
        route: str,
        attempt: int,
        batch_size: int,
        status: int | None,
        started: float,
        error: HubSpotError | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        debug = logger.isEnabledFor(logging.DEBUG)
        if emit is None and span is None and not debug:
            return  # nobody listens: the common case pays for nothing
        seconds = time.perf_counter() - started
        correlation_id = None
        if error is not None:
            correlation_id = error.correlation_id
        elif headers is not None:
            correlation_id = headers.get("X-HubSpot-Correlation-Id")
            if correlation_id is not None:
                correlation_id = self.redactor.text(correlation_id)[:128]
        error_name = type(error).__name__ if error is not None else None
        if span is not None:
            self.tracer.end(span, status, correlation_id, error_name)
        if emit is not None:
            emit(
                RequestAnswered(
                    method=method,
                    route=route,
                    attempt=attempt + 1,
                    batch_size=batch_size,
                    status=status,
                    seconds=seconds,
                    error=error_name,
                    correlation_id=correlation_id,
                )
            )
        if debug:
            logger.debug(
                "%s %s -> %s in %.3fs (attempt %d)",
                method,
                route,
                status if status is not None else error_name,
                seconds,
                attempt + 1,
                extra={
                    "hubassoc_event": "RequestAnswered",
                    "hubassoc_method": method,
                    "hubassoc_route": route,
                    "hubassoc_status": status,
                    "hubassoc_attempt": attempt + 1,
                    "hubassoc_batch_size": batch_size,
                    "hubassoc_seconds": seconds,
                    "hubassoc_correlation_id": correlation_id,
                },
            )

    def _retrying(
        self,
        emit: Emitter | None,
        method: str,
        route: str,
        attempt: int,
        reason: str,
        delay: float,
    ) -> None:
        if emit is not None:
            emit(
                RetryScheduled(
                    method=method, route=route, reason=reason, attempt=attempt + 1, delay=delay
                )
            )
        logger.debug(
            "%s %s: %s; retry %d in %.3fs",
            method,
            route,
            reason,
            attempt + 1,
            delay,
            extra={
                "hubassoc_event": "RetryScheduled",
                "hubassoc_route": route,
                "hubassoc_reason": reason,
                "hubassoc_attempt": attempt + 1,
                "hubassoc_delay": delay,
            },
        )

    async def post_form(self, path: str, form: Mapping[str, str]) -> tuple[int, bytes]:
        """POST a form to ``path`` on the base URL (the OAuth token endpoint): no pacing,
        no bearer token, the same timeout and size cap; returns (status, body).

        Raises:
            TransportError: no answer arrived.
            ResponseTooLargeError: the body passed ``max_response_bytes``.
            ClientClosedError: the client is closed.
        """
        session = self._get_session()
        try:
            async with session.post(
                URL(self._base + path, encoded=True),
                data=dict(form),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                return resp.status, await self._read(resp)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._transport_error(exc, "POST", path, 0) from exc

    def _transport_error(
        self, exc: BaseException, method: str, route: str, attempt: int
    ) -> TransportError:
        kind = "timed out" if isinstance(exc, TimeoutError) else "failed"
        detail = self.redactor.text(str(exc)) or type(exc).__name__
        return TransportError(f"{method} {route} {kind} after {attempt + 1} attempt(s): {detail}")

    def _error_from(
        self, status: int, headers: CIMultiDictProxy[str] | Mapping[str, str], payload: bytes
    ) -> HubSpotError:
        """Turn a non-2xx answer into the matching error (never raises itself)."""
        header_correlation = headers.get("X-HubSpot-Correlation-Id")
        if header_correlation is not None:
            header_correlation = header_correlation[:128]
        if status == 429:
            limit_body = _lenient(RATE_LIMIT_DECODER.decode, payload, RateLimitErrorBody())
            cls = DailyLimitError if limit_body.policy_name == "DAILY" else RateLimitError
            message = limit_body.message or "rate limit reached"
            if cls is DailyLimitError:
                message += " (the daily limit resets at midnight in the account's time zone)"
            return cls(
                message,
                status=status,
                correlation_id=limit_body.correlation_id or header_correlation,
                category=limit_body.error_type,
                policy_name=limit_body.policy_name,
                retry_after=parse_retry_after(headers),
            )
        body = _lenient(ERROR_DECODER.decode, payload, None)
        if body is None:
            message = f"HTTP {status}" + (
                " (an HTML error page)" if payload[:64].lstrip()[:1] == b"<" else ""
            )
            body = Error(message=message)
        kwargs: dict[str, Any] = {
            "status": status,
            "correlation_id": body.correlation_id or header_correlation,
            "category": body.category or None,
            "sub_category": body.sub_category,
            "context": body.context,
        }
        message = body.message or f"HTTP {status}"
        if status in (401, 403):
            return AuthenticationError(message, **kwargs)
        if status >= 500:
            return ServerError(message, retry_after=parse_retry_after(headers), **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(message, **kwargs)
        return HubSpotError(f"unexpected answer: {message}", **kwargs)


def _set_retry_after(error: HubSpotError, delay: float) -> None:
    if isinstance(error, RateLimitError | ServerError) and error.retry_after is None:
        error.retry_after = delay


def _lenient(decode: Callable[[bytes], Any], payload: bytes, default: Any) -> Any:
    """Decode an error body if it is one we know; error pages are often not JSON."""
    try:
        return decode(payload)
    except Exception:
        return default


def _interval(headers: Mapping[str, str]) -> float | None:
    text = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if text is None:
        return None
    try:
        return max(0.0, int(text) / 1000)
    except ValueError:
        return None

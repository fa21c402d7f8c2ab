"""Requests to HubSpot, layered as httpx layers them: auth flow, retries, one exchange.

:meth:`Transport.request` reads from the outside in: the auth flow (a 401
``EXPIRED_AUTHENTICATION`` from a token provider earns one refresh and one
resend); the retry loop (:func:`hubassoc._retry.retrying`, shared with the
OAuth token endpoint); one attempt: the token, the
:class:`~hubassoc._pacing.Pacer` (which alone reads the rate-limit headers,
so its window covers retries too), one exchange, and a non-2xx answer turned
into an error (:mod:`hubassoc._answers`), scrubbed of every secret. The
:class:`~hubassoc._reporting.Reporter` counts, emits, traces and logs each attempt.

One exchange (:meth:`Transport._send_single_request`) is the one place where
aiohttp's and the operating system's exceptions become :mod:`hubassoc` errors
(``from`` the original); a body larger than ``max_response_bytes`` is refused
as it arrives, never held whole. The session is made lazily inside the running
loop unless one is given; a given session is used and never closed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from ipaddress import ip_address
from typing import TYPE_CHECKING, NoReturn, Protocol

import aiohttp
from yarl import URL

from hubassoc._answers import error_from, failure_from
from hubassoc._auth import StaticToken
from hubassoc._errors import (
    AuthenticationError,
    ClientClosedError,
    DailyLimitError,
    HubSpotError,
    ResponseTooLargeError,
    TransportError,
)
from hubassoc._pacing import Pacer
from hubassoc._redaction import Redactor
from hubassoc._reporting import Call, Reporter, TransportStats
from hubassoc._retry import AttemptFailed, Failure, Retrying, retrying

if TYPE_CHECKING:
    from hubassoc._auth import TokenProvider
    from hubassoc._events import Emitter
    from hubassoc._retry import RetryPolicy
    from hubassoc._tracing import RequestTracer

__all__ = ["RequestFunction", "Response", "Transport", "TransportStats", "check_base_url"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_CACHED_URLS = 1024
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_CHUNK = 65536


class TransportSettings(Protocol):
    """What the transport reads of the client's checked options (``ClientOptions``)."""

    @property
    def url(self) -> URL: ...
    @property
    def tokens(self) -> StaticToken | TokenProvider: ...
    @property
    def session(self) -> aiohttp.ClientSession | None: ...
    @property
    def timeout(self) -> float: ...
    @property
    def max_concurrency(self) -> int: ...
    @property
    def max_response_bytes(self) -> int: ...
    @property
    def max_retry_wait(self) -> float: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def emit(self) -> Emitter | None: ...
    @property
    def tracer(self) -> RequestTracer | None: ...


@dataclass(frozen=True, slots=True)
class Response:
    """An answer: its status, headers and raw body (a 2xx one, once out of the transport)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(eq=False)
class Unanswered(Exception):
    """An exchange with no answer to act on: ``error`` is what the caller may get (a
    TransportError, or a ResponseTooLargeError for an answer refused unread, whose
    ``status`` and ``headers`` come along); ``reason`` names it for the retry loop."""

    error: HubSpotError
    reason: str
    request_sent: bool = True
    status: int | None = None
    headers: Mapping[str, str] | None = None


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
    """Sends requests to HubSpot with auth, pacing and retries (see the module docstring)."""

    __slots__ = (
        "_base",
        "_connection_limit",
        "_owns_session",
        "_report",
        "_session",
        "_timeout",
        "_tokens",
        "_urls",
        "closing",
        "max_response_bytes",
        "max_retry_wait",
        "pacer",
        "redactor",
        "retry",
    )

    def __init__(self, options: TransportSettings, pacer: Pacer) -> None:
        self._base = str(options.url)
        self._tokens = tokens = options.tokens
        self.redactor = Redactor()
        if isinstance(tokens, StaticToken):
            self.redactor.add(tokens.token, keep=True)
        self._session = options.session
        self._owns_session = options.session is None
        self._timeout = aiohttp.ClientTimeout(total=options.timeout)
        self._connection_limit = max(options.max_concurrency, 10)
        self.max_response_bytes = options.max_response_bytes
        self.closing = False
        self._report = Reporter(pacer, self.redactor, options.emit, options.tracer)
        self._urls: dict[str, URL] = {}
        self.max_retry_wait = options.max_retry_wait
        self.retry = options.retry
        self.pacer = pacer

    def __repr__(self) -> str:
        # Never the token or the headers that carry it.
        state = " closing" if self.closing else ""
        return (
            f"<Transport {self._base}{state} retries={self.retry.max_retries} pacer={self.pacer!r}>"
        )

    def close_intake(self) -> None:
        """From now on no attempt starts and no session is made (``closing``)."""
        self.closing = True

    async def aclose(self) -> None:
        """Stop intake and close the session if this transport made it (idempotent)."""
        self.closing = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    @property
    def stats(self) -> TransportStats:
        """The counters as they stand now (a read-only snapshot)."""
        return self._report.stats()

    # --- the auth flow ------------------------------------------------------------------

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

        ``path`` is validated and percent-encoded; ``route``, its template (no
        ids), names it in events, spans and logs.

        Raises:
            HubSpotError: any of :mod:`hubassoc._errors`' (ClientClosedError:
                the client closed before the request left).
        """
        if self.closing:
            raise ClientClosedError("the client was closed before this request was sent")
        call = Call(method, self._url(method, path), route, batch_size, body)
        how = Retrying(
            self.retry,
            self.max_retry_wait,
            f"{method} {route}",
            idempotent=idempotent,
            on_retry=self._report.on_retry(method, route),
        )
        return await self._send_handling_auth(call, how)

    async def _send_handling_auth(self, call: Call, how: Retrying) -> Response:
        """The request with its retries; after a 401 ``EXPIRED_AUTHENTICATION`` from a
        token provider, one refresh and one resend (not a retry: same attempt number)."""
        try:
            return await retrying(lambda number: self._attempt(call, number), how)
        except AuthenticationError as error:
            expired = (error.status, error.category) == (401, "EXPIRED_AUTHENTICATION")
            if not expired or isinstance(self._tokens, StaticToken):
                raise
        await self._token(rejected=call.token)
        return await retrying(lambda number: self._attempt(call, number), how, call.number)

    async def _token(self, rejected: str | None = None) -> str:
        tokens = self._tokens
        if isinstance(tokens, StaticToken):
            return tokens.token
        token = await tokens.get_token(rejected=rejected)
        if not isinstance(token, str) or not token:
            raise AuthenticationError("the token provider returned no access token")
        self.redactor.add(token)
        return token

    # --- one attempt --------------------------------------------------------------------

    async def _attempt(self, call: Call, number: int) -> Response:
        """Sign, pace, exchange, and read the answer of attempt ``number``.

        Raises:
            AttemptFailed: a non-2xx answer, or none (the retry loop decides).
            ResponseTooLargeError, ClientClosedError: never retried.
        """
        call.number = number
        call.token = token = await self._token()
        sent_at = await self.pacer.acquire()
        if self.closing:
            raise ClientClosedError("the client was closed before this request was sent")
        self._report.sent(call)
        try:
            response = await self._send_single_request(
                call.method,
                call.url,
                data=call.body,
                headers={"Authorization": f"Bearer {token}", **_JSON},
                route=call.route,
                attempt=number,
            )
        except Unanswered as lost:
            self._unanswered(call, lost, sent_at)
        except BaseException as exc:
            self._report.abandoned(call, exc)
            raise
        return self._answered(call, response, sent_at)

    def _unanswered(self, call: Call, lost: Unanswered, sent_at: float) -> NoReturn:
        if lost.status is None:
            self.pacer.failed(sent_at)
        else:
            assert lost.headers is not None
            self.pacer.observe(sent_at, lost.status, lost.headers)
        self._report.answered(call, lost.status, lost.error, lost.headers)
        if lost.status is not None:
            raise lost.error  # an answer refused unread: asking again would be no better
        if self.closing:
            raise ClientClosedError(
                "the client was closed while this request was in flight; "
                "HubSpot may have acted on it"
            ) from lost.__cause__
        failure = Failure(None, request_sent=lost.request_sent)
        raise AttemptFailed(lost.error, failure, lost.reason) from lost.__cause__

    def _answered(self, call: Call, response: Response, sent_at: float) -> Response:
        status, headers = response.status, response.headers
        self._report.by_status[status] = self._report.by_status.get(status, 0) + 1
        self.pacer.observe(sent_at, status, headers)
        if 200 <= status < 300:
            self._report.answered(call, status, None, headers)
            return response
        error = self.redactor.scrub(error_from(status, headers, response.body))
        self._report.answered(call, status, error, headers)
        failure = failure_from(status, headers, error)
        if status == 429:
            # It holds everybody, not just this request (never longer than max_retry_wait),
            # so the loop does not sleep.
            self._report.rate_limited += 1
            delay = min(self.retry.delay(failure, call.number), self.max_retry_wait)
            daily = error if isinstance(error, DailyLimitError) else None
            self.pacer.rate_limited(failure.policy_name, delay, daily)
        raise AttemptFailed(error, failure, str(status), held=status == 429)

    async def post_form(self, path: str, form: Mapping[str, str]) -> Response:
        """POST ``form`` to ``path`` once, unpaced and unsigned, and return the answer
        whatever its status: the OAuth token endpoint's request, which it retries.

        Raises:
            TransportError, ResponseTooLargeError, ClientClosedError.
        """
        try:
            return await self._send_single_request(
                "POST",
                URL(self._base + path, encoded=True),
                data=dict(form),
                headers={"Accept": "application/json"},
                route=path,
            )
        except Unanswered as lost:
            raise lost.error from lost.__cause__

    # --- one exchange -------------------------------------------------------------------

    def _session_now(self) -> aiohttp.ClientSession:
        """The session, made now if none was given or made yet (never once closing)."""
        if self.closing:
            raise ClientClosedError("the client was closed before this request was sent")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def _send_single_request(
        self,
        method: str,
        url: URL,
        *,
        data: bytes | Mapping[str, str] | None,
        headers: Mapping[str, str],
        route: str,
        attempt: int | None = None,
    ) -> Response:
        """Send one request (``data``: a raw body, or a form) and read its answer, whatever
        its status; ``route`` and ``attempt`` (``None``: not counted here) name it in errors.

        Raises:
            Unanswered: no answer arrived, or its body passed ``max_response_bytes``.
            ClientClosedError, RuntimeError: the client, or else the session, is closed.
        """
        try:
            async with self._session_now().request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                return Response(resp.status, resp.headers, await self._read(resp))
        except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
            # A RuntimeError is a closed session: ours during a close, else a bug.
            if isinstance(exc, ClientClosedError) or (
                isinstance(exc, RuntimeError) and not self.closing
            ):
                raise
            raise self._lost(exc, f"{method} {route}", attempt) from exc

    def _lost(self, exc: BaseException, request: str, attempt: int | None) -> Unanswered:
        """The one translation of a failed exchange into a hubassoc error."""
        timed_out = isinstance(exc, TimeoutError)
        kind = "timed out" if timed_out else "failed"
        detail = self.redactor.text(str(exc)) or type(exc).__name__
        after = "" if attempt is None else f" after {attempt + 1} attempt(s)"
        error = TransportError(f"{request} {kind}{after}: {detail}")
        sent = not isinstance(exc, aiohttp.ClientConnectorError)
        return Unanswered(error, "timeout" if timed_out else "connection", sent)

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body, refused once it passes ``max_response_bytes`` (never held whole)."""
        if resp.content_length is not None and resp.content_length > self.max_response_bytes:
            raise self._too_large(resp, resp.content_length, "")
        chunks: list[bytes] = []
        size = 0
        while chunk := await resp.content.read(_CHUNK):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise self._too_large(resp, size, "at least ")
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self, resp: aiohttp.ClientResponse, size: int, bound: str) -> Unanswered:
        resp.close()
        cap = self.max_response_bytes
        message = f"the response body is {bound}{size} bytes, more than max_response_bytes={cap}"
        error = ResponseTooLargeError(message, status=resp.status, size=size)
        return Unanswered(error, "too large", True, resp.status, resp.headers)

    def _url(self, method: str, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            # Parsing a URL costs more than the rest of a request's bookkeeping;
            # batch paths (POST) repeat, so keep those; single PUT paths don't.
            url = URL(self._base + path, encoded=True)
            if method == "POST" and len(self._urls) < _CACHED_URLS:
                self._urls[path] = url
        return url

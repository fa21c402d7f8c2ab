"""One HTTP exchange: send one request, read a bounded body, translate what went wrong.

The one place where aiohttp's and the operating system's exceptions become
:mod:`hubassoc` errors: an exchange with no answer to act on raises
:class:`Unanswered` (the transport decides whether it is retried), ``from``
the original. A body larger than ``max_response_bytes`` is refused as it
arrives, never held whole. The session is made lazily inside the running loop
unless one is given; a given session is used and never closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from hubassoc._errors import ClientClosedError, HubSpotError, ResponseTooLargeError, TransportError
from hubassoc._redaction import Redactor

__all__ = ["Exchange", "Response", "Unanswered"]

_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class Response:
    """An answer: its status, headers and raw body (a 2xx one, once out of the transport)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(eq=False)
class Unanswered(Exception):
    """An exchange with no answer to act on (internal: it never reaches a caller).

    Attributes:
        error: what the caller gets: a :class:`~hubassoc.TransportError` (no
            answer) or a :class:`~hubassoc.ResponseTooLargeError` (refused).
        reason: ``"timeout"``, ``"connection"`` or ``"too large"``.
        request_sent: ``False`` where the connection failed before the request left.
        status, headers: those of an answer refused unread, else ``None``.
    """

    error: HubSpotError
    reason: str
    request_sent: bool = True
    status: int | None = None
    headers: Mapping[str, str] | None = None


class Exchange:
    """Sends one request on the session and reads its answer; owns the session's lifecycle.

    Args:
        session: a session to use (never closed here), or ``None`` to make one.
        timeout: seconds for one exchange, connection to last byte.
        max_response_bytes: the largest body read.
        connection_limit: the connector's limit, for a session made here.
        redactor: scrubs secrets out of the texts of aiohttp's exceptions.

    Once ``closing`` is set no session is made (nor, by the transport, any attempt).
    """

    __slots__ = (
        "_connection_limit",
        "_owns_session",
        "_redactor",
        "_session",
        "_timeout",
        "closing",
        "max_response_bytes",
    )

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        timeout: float,
        max_response_bytes: int,
        connection_limit: int,
        redactor: Redactor,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self.closing = False
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connection_limit = connection_limit
        self._redactor = redactor
        self.max_response_bytes = max_response_bytes

    def __repr__(self) -> str:
        state = "closing" if self.closing else "open" if self._session is not None else "idle"
        return f"<Exchange {state} max_response_bytes={self.max_response_bytes}>"

    def _session_now(self) -> aiohttp.ClientSession:
        """The session, made now if none was given or made yet (never once closing)."""
        if self.closing:
            raise ClientClosedError("the client was closed before this request was sent")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def aclose(self) -> None:
        """Stop intake and close the session if it was made here (idempotent)."""
        self.closing = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def send(
        self,
        method: str,
        url: URL,
        *,
        data: bytes | Mapping[str, str] | None,
        headers: Mapping[str, str],
        route: str,
        attempt: int | None = None,
    ) -> Response:
        """Send one request and read its answer, whatever its status.

        ``data`` is a raw body, or a mapping sent form-encoded; ``route`` and
        ``attempt`` (0 for the first; ``None``: not counted here) name it in errors.

        Raises:
            Unanswered: no answer arrived, or its body passed ``max_response_bytes``.
            ClientClosedError: the client is closed.
            RuntimeError: the session was closed under us while the client is open.
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
        detail = self._redactor.text(str(exc)) or type(exc).__name__
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

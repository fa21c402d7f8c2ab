"""One HTTP exchange with HubSpot: pacing, retries, and the translation of failures.

This is the one place where aiohttp's exceptions and HubSpot's error statuses
become :mod:`hubassoc` errors (re-raised ``from`` the original), and the one
place that holds the access token. Every attempt, retries included, waits for
the :class:`~hubassoc._pacing.Pacer`, so the rolling-window guarantee covers
retries too.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from hubassoc._errors import (
    AuthenticationError,
    DailyLimitError,
    HubSpotError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    TransportError,
)
from hubassoc._models import ERROR_DECODER, RATE_LIMIT_DECODER, Error, RateLimitErrorBody
from hubassoc._pacing import Pacer
from hubassoc._retry import Failure, RetryPolicy, parse_retry_after

__all__ = ["Response", "Transport", "TransportStats", "check_base_url"]

logger = logging.getLogger("hubassoc")

_REDACTED = "[redacted]"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


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
    if url.query_string or url.fragment:
        raise ValueError(f"base_url {base_url!r} must not have a query or fragment")
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
    """Sends requests to HubSpot with pacing and retries; holds the token.

    The session is created lazily inside the running loop unless one is given;
    a given session is used and never closed.
    """

    __slots__ = (
        "_base",
        "_headers",
        "_owns_session",
        "_rand",
        "_session",
        "_timeout",
        "_token",
        "_urls",
        "connection_limit",
        "pacer",
        "retry",
        "stats",
    )

    def __init__(
        self,
        *,
        base_url: URL,
        token: str,
        session: aiohttp.ClientSession | None,
        timeout: float,
        retry: RetryPolicy,
        pacer: Pacer,
        connection_limit: int = 100,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._base = str(base_url)
        self._token = token
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._rand = rand
        self._urls: dict[str, URL] = {}
        self.connection_limit = connection_limit
        self.retry = retry
        self.pacer = pacer
        self.stats = TransportStats()

    def __repr__(self) -> str:
        # Never the token or the headers that carry it.
        return f"<Transport {self._base} retries={self.retry.max_retries} pacer={self.pacer!r}>"

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the token replaced by ``[redacted]``."""
        if self._token and self._token in text:
            return text.replace(self._token, _REDACTED)
        return text

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self.connection_limit)
            session = self._session = aiohttp.ClientSession(connector=connector)
        return session

    async def aclose(self) -> None:
        """Close the session if this transport made it."""
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        idempotent: bool = True,
    ) -> Response:
        """Send one request (with retries) and return its 2xx answer.

        ``path`` must already be validated and percent-encoded.

        Raises:
            AuthenticationError, InvalidRequestError, RateLimitError,
            DailyLimitError, ServerError, TransportError: see :mod:`hubassoc._errors`.
        """
        session = self._get_session()
        url = self._urls.get(path)
        if url is None:
            # Parsing a URL costs more than the rest of a request's bookkeeping;
            # batch paths (POST) repeat, so keep those; single PUT paths don't.
            url = URL(self._base + path, encoded=True)
            if method == "POST" and len(self._urls) < 1024:
                self._urls[path] = url
        pacer, policy, stats = self.pacer, self.retry, self.stats
        attempt = 0
        while True:
            sent_at = await pacer.acquire()
            stats.requests += 1
            if attempt:
                stats.retries += 1
            try:
                async with session.request(
                    method,
                    url,
                    data=body,
                    headers=self._headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as resp:
                    payload = await resp.read()
                    status = resp.status
                    headers = resp.headers
            except (TimeoutError, aiohttp.ClientError) as exc:
                failure = Failure(
                    None, request_sent=not isinstance(exc, aiohttp.ClientConnectorError)
                )
                if policy.should_retry(failure, attempt, idempotent=idempotent):
                    delay = policy.delay(failure, attempt, self._rand)
                    logger.debug(
                        "%s %s: %s; retry %d in %.3fs",
                        method,
                        path,
                        type(exc).__name__,
                        attempt + 1,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
                raise self._transport_error(exc, method, path, attempt) from exc

            by_status = stats.by_status
            by_status[status] = by_status.get(status, 0) + 1
            pacer.observe(sent_at, headers)
            if 200 <= status < 300:
                logger.debug("%s %s -> %d (attempt %d)", method, path, status, attempt + 1)
                if pacer.observe_daily_remaining(headers):
                    pacer.stop_for_the_day(
                        DailyLimitError(
                            "HubSpot's daily request limit is spent "
                            "(X-HubSpot-RateLimit-Daily-Remaining: 0); it resets at "
                            "midnight in the account's time zone",
                            status=status,
                            policy_name="DAILY",
                        )
                    )
                return Response(status, headers, payload)

            error = self._error_from(status, headers, payload)
            failure = Failure(
                status,
                retry_after=parse_retry_after(headers),
                interval=_interval(headers),
                policy_name=error.policy_name if isinstance(error, RateLimitError) else None,
            )
            if status == 429:
                stats.rate_limited += 1
                if isinstance(error, DailyLimitError):
                    pacer.stop_for_the_day(error)
                    logger.warning("%s %s -> 429 DAILY: stopping", method, path)
                    raise error
                # A rolling-window 429 stops everybody, not just this request.
                pacer.pause(policy.delay(failure, attempt, self._rand))
            if policy.should_retry(failure, attempt, idempotent=idempotent):
                delay = policy.delay(failure, attempt, self._rand)
                logger.debug(
                    "%s %s -> %d; retry %d in %.3fs", method, path, status, attempt + 1, delay
                )
                if status != 429:  # after a 429 the pacer already holds us
                    await asyncio.sleep(delay)
                attempt += 1
                continue
            logger.debug("%s %s -> %d (attempt %d), giving up", method, path, status, attempt + 1)
            raise error

    def _transport_error(
        self, exc: BaseException, method: str, path: str, attempt: int
    ) -> TransportError:
        kind = "timed out" if isinstance(exc, asyncio.TimeoutError) else "failed"
        detail = self.redact(str(exc)) or type(exc).__name__
        return TransportError(
            f"{method} {path} {kind} after {attempt + 1} attempt(s): {detail}",
        )

    def _error_from(
        self, status: int, headers: CIMultiDictProxy[str] | Mapping[str, str], payload: bytes
    ) -> HubSpotError:
        """Turn a non-2xx answer into the matching error (never raises itself)."""
        header_correlation = headers.get("X-HubSpot-Correlation-Id")
        if status == 429:
            limit_body = _lenient(RATE_LIMIT_DECODER.decode, payload, RateLimitErrorBody())
            cls = DailyLimitError if limit_body.policy_name == "DAILY" else RateLimitError
            message = self.redact(limit_body.message or "rate limit reached")
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
        message = self.redact(body.message or f"HTTP {status}")
        if status in (401, 403):
            return AuthenticationError(message, **kwargs)
        if status >= 500:
            return ServerError(message, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(message, **kwargs)
        return HubSpotError(f"unexpected answer: {message}", **kwargs)


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

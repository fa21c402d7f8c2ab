"""Access tokens for public (OAuth) apps: refreshed ahead of expiry, one refresh at a time.

:class:`OAuthTokens` serves its cached token with no I/O while it is fresh and
refreshes it a margin before it expires, as HubSpot advises: one request to
the token endpoint however many callers wait, its outcome shared. The client
binds it to its transport (:meth:`~hubassoc._transport.Transport.post_form`);
its retries are the client's one loop (:func:`hubassoc._retry.retrying`). Every
text from the token endpoint passes the provider's
:class:`~hubassoc._redaction.Redactor`: a server may echo the form it was sent.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import re
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal, TypeAlias

import msgspec

from hubassoc._answers import error_type, failure_from, lenient
from hubassoc._auth import TokenProvider, check_credential
from hubassoc._errors import (
    AuthenticationError,
    ClientClosedError,
    DecodingError,
    HubSpotError,
    RateLimitError,
    ServerError,
    TransportError,
    fresh_copy,
)
from hubassoc._events import Event, TokenRefreshed, TokenRefreshFailed
from hubassoc._redaction import Redactor
from hubassoc._retry import (
    AttemptFailed,
    Failure,
    Retrying,
    RetryPolicy,
    parse_retry_after,
    retrying,
)
from hubassoc._transport import Response
from hubassoc._validation import check_seconds

__all__ = [
    "DEFAULT_REFRESH_RETRY",
    "EmitEvent",
    "OAuthTokens",
    "OnRefresh",
    "PostForm",
    "RefreshedTokens",
    "TokenProvider",
]

logger = logging.getLogger("hubassoc")

#: Posts a form to a path on the client's base URL, once; returns the answer.
#: Raises :class:`~hubassoc.TransportError` when no answer arrives.
PostForm: TypeAlias = Callable[[str, Mapping[str, str]], Awaitable[Response]]
#: Takes one event (the client's event emitter).
EmitEvent: TypeAlias = Callable[[Event], object]

#: Retries of a refresh after a 5xx, 429 or network failure: three, a few seconds at most.
DEFAULT_REFRESH_RETRY = RetryPolicy(
    max_retries=3, backoff_base=0.5, backoff_cap=5.0, rate_limit_wait=2.0
)

_PATHS = {"v3": "/oauth/v3/token", "v1": "/oauth/v1/token"}
_MAX_CREDENTIAL = 1024  # characters of a client id, secret or refresh token
_MAX_ANSWER = 64 * 1024  # bytes of a token answer
_MAX_LIFETIME = 366 * 86400.0  # seconds; anything longer is not an access token
_MAX_MESSAGE = 300  # characters of a server message kept in an error
_CATEGORY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_CORRELATION_ID = re.compile(r"[A-Za-z0-9\-]{1,64}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")

_REVOKED = " (the refresh token is wrong or revoked: the app must be authorized again)"

Reason = Literal["first", "expiry", "rejected"]
_WHAT_FAILED: dict[type[HubSpotError], str] = {
    ServerError: "the OAuth token endpoint failed",
    RateLimitError: "the OAuth token endpoint is rate limited",
    AuthenticationError: "HubSpot refused to refresh the OAuth access token",
}


@dataclass(frozen=True, slots=True)
class RefreshedTokens:
    """What one successful refresh produced, handed to ``on_refresh``.

    Attributes:
        access_token: the new access token (secret, not in the repr).
        refresh_token: the refresh token to use from now on (secret, not in the
            repr): a new one where the answer rotated it, else the one used.
        refresh_token_rotated: whether the answer carried a new refresh token
            (the one to persist).
        expires_in: the access token's lifetime in seconds, as the answer said.
        hub_id: the HubSpot account, where the answer named it.
        scopes: the scopes the answer listed (empty where it listed none).
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    refresh_token_rotated: bool
    expires_in: float
    hub_id: int | None
    scopes: tuple[str, ...]


#: What ``on_refresh`` may be: a plain or an async callable of :class:`RefreshedTokens`.
OnRefresh: TypeAlias = Callable[[RefreshedTokens], object | Awaitable[object]]


class _Answer(msgspec.Struct, frozen=True, kw_only=True):
    """A token endpoint's success answer; ``hub_id`` and scopes are read leniently."""

    access_token: str
    expires_in: Annotated[float, msgspec.Meta(gt=0, le=_MAX_LIFETIME)]
    refresh_token: str | None = None
    hub_id: Any = None
    scopes: Any = None
    scope: Any = None


class _ErrorAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """A token endpoint's error answer: HubSpot's fields and OAuth 2's, all optional."""

    status: Any = None
    message: Any = None
    category: Any = None
    correlation_id: Any = msgspec.field(default=None, name="correlationId")
    error: Any = None
    error_description: Any = None


_ANSWER_DECODER = msgspec.json.Decoder(_Answer)
_ERROR_DECODER = msgspec.json.Decoder(_ErrorAnswer)


def _ignore(event: Event) -> None:
    """The event sink of a provider bound without one."""


class OAuthTokens:
    """The access token of one installed public app, refreshed before it expires.

    One instance serves one client; each HubSpot account needs its own, since
    each installation has its own refresh token.

    Args:
        client_id: the app's client id.
        client_secret: the app's client secret.
        refresh_token: the installation's refresh token.
        on_refresh: called with a :class:`RefreshedTokens` after each successful
            refresh, before waiting callers get the new token (plain or async);
            persist a rotated refresh token here. An exception from it is logged
            (redacted) and does not fail the refresh.
        token_endpoint: ``"v3"`` (``POST /oauth/v3/token``) or ``"v1"``
            (``/oauth/v1/token``, which HubSpot retires on 2027-02-16).
        refresh_margin: seconds before expiry to refresh. ``None`` (the
            default): ``min(60, 10% of the lifetime)``. Never more than half
            the lifetime, so a short-lived token is not refreshed on every call.
        failure_cooldown: seconds a refused refresh is remembered: calls in
            that time fail at once with the same error, without a request.
        retry: retries after a 5xx, 429 or network failure of the token
            endpoint (default: :data:`DEFAULT_REFRESH_RETRY`); a wait a
            ``Retry-After`` asks for is capped by the client's ``max_retry_wait``.

    Raises:
        ValueError, TypeError: an argument is invalid (a credential's value is
            never shown in the message).
    """

    __slots__ = (
        "_emit",
        "_expires_at",
        "_form",
        "_hub_id",
        "_inflight",
        "_margin",
        "_on_refresh",
        "_path",
        "_post",
        "_redactor",
        "_refresh_at",
        "_refresh_token",
        "_refreshes",
        "_refused",
        "_retrying",
        "_token",
        "failure_cooldown",
    )

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        on_refresh: OnRefresh | None = None,
        token_endpoint: Literal["v3", "v1"] = "v3",
        refresh_margin: float | None = None,
        failure_cooldown: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        client_id = _credential(client_id, "client_id")
        secret = _credential(client_secret, "client_secret")
        self._refresh_token = _credential(refresh_token, "refresh_token")
        if on_refresh is not None and not callable(on_refresh):
            raise TypeError(f"on_refresh must be callable, not {type(on_refresh).__name__}")
        if token_endpoint not in _PATHS:
            raise ValueError(f'token_endpoint must be "v3" or "v1", not {token_endpoint!r}')
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        self._on_refresh = on_refresh
        # What every refresh posts, besides the refresh token.
        self._form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": secret,
        }
        self._path = _PATHS[token_endpoint]
        self._margin = (
            None if refresh_margin is None else check_seconds(refresh_margin, "refresh_margin")
        )
        self.failure_cooldown = check_seconds(failure_cooldown, "failure_cooldown")
        # max_wait is the client's max_retry_wait, given at _bind.
        self._retrying = Retrying(retry or DEFAULT_REFRESH_RETRY, 60.0, f"POST {self._path}")
        self._post: PostForm | None = None
        self._emit: EmitEvent = _ignore
        self._token: str | None = None
        self._refresh_at = -math.inf
        self._expires_at: float | None = None
        self._hub_id: int | None = None
        # The refusal remembered, and until when.
        self._refused: tuple[HubSpotError, float] | None = None
        self._inflight: asyncio.Task[str | HubSpotError] | None = None
        self._refreshes = 0
        # Everything a server might echo back: the secret, and each token as it comes.
        self._redactor = Redactor([secret])
        self._redactor.add(self._refresh_token)

    def __repr__(self) -> str:
        # The client id is not a secret (it is in every install URL); nothing else is shown.
        if self._refused is not None:
            state = f"failed ({type(self._refused[0]).__name__})"
        elif self._token is None:
            state = "no token yet"
        else:
            state = f"token expires at {self._expires_at:.1f}"
        return (
            f"<OAuthTokens client_id={self.client_id!r} hub_id={self._hub_id!r} "
            f"endpoint={self._path} {state} refreshes={self._refreshes}"
            f"{' refreshing' if self._inflight is not None else ''}"
            f"{'' if self._post is not None else ' unbound'}>"
        )

    @property
    def client_id(self) -> str:
        """The app's client id."""
        return self._form["client_id"]

    @property
    def hub_id(self) -> int | None:
        """The HubSpot account the tokens belong to (``None`` until a refresh names it)."""
        return self._hub_id

    @property
    def expires_at(self) -> float | None:
        """When the current access token expires, in event-loop time (``loop.time()``)."""
        return self._expires_at

    @property
    def refresh_at(self) -> float:
        """When the next call will refresh, in event-loop time (``-inf``: at once)."""
        return self._refresh_at

    @property
    def refreshes(self) -> int:
        """Successful refreshes so far."""
        return self._refreshes

    def _bind(
        self, post_form: PostForm, *, emit: EmitEvent | None = None, max_retry_wait: float = 60.0
    ) -> None:
        """Refresh through ``post_form`` (:meth:`hubassoc._transport.Transport.post_form`),
        tell ``emit`` (the client's guarded emitter), wait at most ``max_retry_wait``.

        Raises:
            ValueError: already bound to another client (:meth:`_unbind` first).
        """
        if self._post is not None and self._post != post_form:
            raise ValueError(
                "this OAuthTokens is already bound to a client; use one OAuthTokens per "
                "client (or close the first client before giving it to another)"
            )
        self._post = post_form
        self._emit = emit or _ignore
        self._retrying = replace(self._retrying, max_wait=max_retry_wait)

    def _unbind(self) -> None:
        """Release the provider from its closing client, keeping the tokens for the
        next client; a refresh in flight is cancelled."""
        self._post = None
        self._emit = _ignore
        task, self._inflight = self._inflight, None
        if task is not None:
            task.cancel()

    def reset(self, *, refresh_token: str | None = None) -> None:
        """Forget a remembered refusal, optionally with a new refresh token.

        After a user authorizes the app again, pass the new refresh token: the
        next :meth:`get_token` refreshes with it at once.

        Raises:
            ValueError, TypeError: ``refresh_token`` is not a valid credential.
        """
        if refresh_token is not None:
            self._refresh_token = _credential(refresh_token, "refresh_token")
            self._redactor.add(self._refresh_token)
            self._token = None
            self._refresh_at = -math.inf
        self._refused = None

    async def get_token(self, *, rejected: str | None = None) -> str:
        """Return a valid access token, refreshing it first if it is due.

        Args:
            rejected: a token the server just refused (401): a different one is
                returned; it is refreshed only if ``rejected`` is still current.

        Raises:
            AuthenticationError: the token endpoint refused the refresh (now or
                within ``failure_cooldown``), or its answer is not a usable token.
            ServerError, RateLimitError, TransportError: the token endpoint
                failed (5xx, 429, no answer) and the retries are spent.
            ClientClosedError: the client closed during the refresh.
            RuntimeError: the provider is not bound to a client yet.
        """
        loop = asyncio.get_running_loop()
        while True:
            token = self._token
            if token is not None and token != rejected and loop.time() < self._refresh_at:
                return token
            task = self._inflight
            if task is None:
                task = self._start(token, rejected, loop)
            try:
                # A cancelled caller must not cancel the refresh the others wait for.
                outcome = await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if task.cancelled() and current is not None and not current.cancelling():
                    # _unbind() stopped the refresh, not this caller's canceller.
                    raise ClientClosedError(
                        "the client was closed while the access token was being refreshed"
                    ) from None
                raise
            if isinstance(outcome, HubSpotError):
                raise fresh_copy(outcome)
            if outcome != rejected:
                return outcome
            # A refresh ahead of expiry failed and kept the token this caller
            # saw refused: go round again, which refreshes for the rejection.

    def _start(
        self, token: str | None, rejected: str | None, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Task[str | HubSpotError]:
        """Start the refresh every caller waits for; raise ``RuntimeError`` if unbound, or a
        copy of a refusal still remembered."""
        if self._post is None:
            raise RuntimeError(
                "OAuthTokens is not bound to a client yet: give it to an AssociationsClient"
            )
        if self._refused is not None:
            if loop.time() < self._refused[1]:
                raise fresh_copy(self._refused[0])
            self._refused = None
        reason: Reason
        if token is None:
            reason = "expiry" if self._refreshes else "first"
        else:
            reason = "rejected" if token == rejected else "expiry"
        task = self._inflight = loop.create_task(self._refresh(reason))
        task.add_done_callback(self._retrieve)
        return task

    async def _refresh(self, reason: Reason) -> str | HubSpotError:
        """Refresh once (with retries); the outcome is shared by every waiter."""
        loop = asyncio.get_running_loop()
        try:
            started, used = loop.time(), self._refresh_token
            logger.debug("refreshing the OAuth access token (%s, %s)", reason, self._path)
            try:
                answer = await self._request_token(used)
            except HubSpotError as error:
                return self._failed(error, reason, loop.time())
            tokens = self._install(answer, used, started)
            seconds = loop.time() - started
            logger.debug(
                "OAuth access token refreshed in %.3fs (%s); it expires in %.0fs (hub %s)",
                seconds,
                reason,
                answer.expires_in,
                self._hub_id,
            )
            self._emit(
                TokenRefreshed(
                    seconds=seconds,
                    expires_in=answer.expires_in,
                    hub_id=self._hub_id,
                    reason=reason,
                )
            )
            await self._call_on_refresh(tokens)
            return answer.access_token
        finally:
            if self._inflight is asyncio.current_task():
                self._inflight = None

    def _install(self, answer: _Answer, used: str, started: float) -> RefreshedTokens:
        """Serve the answer's token from now on, refreshed a margin before expiry, and
        adopt a rotated refresh token; return what ``on_refresh`` is told."""
        expires_in = answer.expires_in
        margin = (
            min(60.0, 0.1 * expires_in)
            if self._margin is None
            else min(self._margin, expires_in / 2)
        )
        # Counted from when the request left: the token may be older than its answer.
        self._token = answer.access_token
        self._redactor.add(answer.access_token)
        self._expires_at = started + expires_in
        self._refresh_at = started + expires_in - margin
        if (hub_id := _hub_id(answer.hub_id)) is not None:
            self._hub_id = hub_id
        self._refreshes += 1
        new = answer.refresh_token or used
        if new != used:
            self._redactor.add(new)
            # A reset() during the request installed another refresh token: keep that one.
            if self._refresh_token == used:
                self._refresh_token = new
        return RefreshedTokens(
            access_token=answer.access_token,
            refresh_token=self._refresh_token,
            refresh_token_rotated=new != used,
            expires_in=answer.expires_in,
            hub_id=self._hub_id,
            scopes=_scopes(answer),
        )

    async def _request_token(self, refresh_token: str) -> _Answer:
        """POST the form through the client's retry loop; the decoded success answer.

        Raises:
            AuthenticationError: refused, or an unusable answer.
            ServerError, RateLimitError, TransportError: the retry loop gave up.
        """
        post = self._post
        assert post is not None
        form = {**self._form, "refresh_token": refresh_token}
        response = await retrying(lambda number: self._attempt(post, form, number), self._retrying)
        return self._decode(response.body, response.status)

    async def _attempt(self, post: PostForm, form: Mapping[str, str], number: int) -> Response:
        """One POST: its 2xx answer.

        Raises:
            AttemptFailed: no answer, or a non-2xx one (the retry loop decides).
            AuthenticationError: the client refused the answer unread (too large).
        """
        try:
            response = await post(self._path, form)
        except TransportError as lost:
            # Not chained: the cause's text is not ours to vouch for.
            error = TransportError(
                f"refreshing the OAuth access token failed after {number + 1} "
                f"attempt(s): {self._clean(str(lost))}"
            )
            raise AttemptFailed(error, Failure(None), "connection") from None
        except DecodingError as refused:
            raise _unusable(self._clean(refused.message), refused.status) from None
        if 200 <= response.status < 300:
            return response
        answered = self._error_from(response)
        failure = failure_from(response.status, response.headers, answered)
        raise AttemptFailed(answered, failure, str(response.status))

    def _decode(self, body: bytes, status: int) -> _Answer:
        if len(body) > _MAX_ANSWER:
            raise _unusable(f"{len(body)} bytes (more than {_MAX_ANSWER})", status)
        try:
            answer = _ANSWER_DECODER.decode(body)
        except msgspec.DecodeError as exc:
            # msgspec names the path and the expected type, never the value.
            raise _unusable(self._clean(str(exc)), status) from None
        try:
            # The same checks as every credential handed to the client.
            check_credential(answer.access_token, "access_token")
            if answer.refresh_token is not None:
                _credential(answer.refresh_token, "refresh_token")
        except ValueError as exc:
            raise _unusable(str(exc), status) from None
        if answer.access_token == self._token:
            raise _unusable("it is the access token being replaced", status)
        return answer

    def _error_from(self, response: Response) -> HubSpotError:
        """The error a non-2xx answer becomes, every server text redacted: the client's
        status table decides the class, except that any other 4xx than 429 is a refusal."""
        parsed = _ErrorAnswer()
        if len(response.body) <= _MAX_ANSWER:
            parsed = lenient(_ERROR_DECODER.decode, response.body, parsed)
        message = self._clean(_first_str(parsed.message, parsed.error_description) or "")
        detail = f": {message}" if message else ""
        status_text = parsed.status if parsed.status != "error" else None
        category = self._label(_first_str(parsed.category, status_text, parsed.error), _CATEGORY)
        correlation_id = self._label(_first_str(parsed.correlation_id), _CORRELATION_ID)
        cls = error_type(response.status)
        known: dict[str, Any] = {"category": category, "correlation_id": correlation_id}
        if cls is RateLimitError or cls is ServerError:
            known["retry_after"] = parse_retry_after(response.headers)
        else:
            cls = AuthenticationError
            if category == "BAD_REFRESH_TOKEN":
                detail += _REVOKED
        return cls(f"{_WHAT_FAILED[cls]}{detail}", status=response.status, **known)

    def _failed(self, error: HubSpotError, reason: Reason, now: float) -> str | HubSpotError:
        """Record a failed refresh; return what the waiters get."""
        self._emit(TokenRefreshFailed(status=error.status, category=error.category))
        if isinstance(error, AuthenticationError):
            logger.warning("OAuth token refresh refused: %s", error)
            self._refused = (error, now + self.failure_cooldown)
            self._token = None
            self._refresh_at = -math.inf
            return error
        token, expires_at = self._token, self._expires_at
        if reason == "expiry" and token is not None and expires_at is not None and now < expires_at:
            # The token still works: keep serving it and try again a little later.
            self._refresh_at = min(now + min(5.0, (expires_at - now) / 4), expires_at)
            logger.warning(
                "OAuth token refresh failed (%s); the current token is valid for %.0fs more",
                error,
                expires_at - now,
            )
            return token
        logger.warning("OAuth token refresh failed: %s", error)
        return error

    async def _call_on_refresh(self, tokens: RefreshedTokens) -> None:
        if self._on_refresh is None:
            return
        try:
            result = self._on_refresh(tokens)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self._log_crash("on_refresh raised; the refresh itself succeeded", exc)

    def _retrieve(self, task: asyncio.Task[str | HubSpotError]) -> None:
        # Outcomes are returned, not raised: a crash (a bug) is logged even when
        # no caller was left to see it.
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._log_crash("the OAuth refresh crashed", exc)

    def _log_crash(self, what: str, exc: BaseException) -> None:
        # Formatted here to be redacted: a failed write may quote the token it was writing.
        text = "".join(traceback.format_exception(exc))
        logger.error("%s:\n%s", what, self._redactor.text(text))

    def _clean(self, text: str) -> str:
        """A server text fit for an error message: redacted (before it is cut, which
        could leave half a secret), one line, short."""
        text = _UNPRINTABLE.sub(" ", self._redactor.text(text)).strip()
        if len(text) > _MAX_MESSAGE:
            text = text[:_MAX_MESSAGE] + "..."
        return text

    def _label(self, value: str | None, shape: re.Pattern[str]) -> str | None:
        """A short identifier from the server, or ``None`` if it is odd or holds a secret."""
        if value is None or not shape.fullmatch(value) or self._redactor.mentioned_in(value):
            return None
        return value


def _credential(value: object, argument: str) -> str:
    return check_credential(value, argument, max_length=_MAX_CREDENTIAL)


def _unusable(why: str, status: int | None) -> AuthenticationError:
    return AuthenticationError(
        f"the token endpoint's answer is not a usable token: {why}", status=status
    )


def _first_str(*values: object) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


def _hub_id(value: object) -> int | None:
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        value = int(value)
    return value if type(value) is int and value >= 0 else None


def _scopes(answer: _Answer) -> tuple[str, ...]:
    value = answer.scopes if answer.scopes is not None else answer.scope
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(s for s in value if isinstance(s, str))
    return ()

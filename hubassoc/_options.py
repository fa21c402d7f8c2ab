"""The client's keyword arguments, checked in one place, and the parts built from them.

:meth:`ClientOptions.check` refuses a bad argument with ``TypeError`` or
``ValueError`` before anything is built (no session, no task, no Redis
connection); the client then builds its pacer and transport from the checked
options.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from hubassoc._auth import StaticToken, TokenProvider
from hubassoc._events import Emitter
from hubassoc._oauth import OAuthTokens
from hubassoc._pacing import Pacer, RateLimit
from hubassoc._retry import RetryPolicy
from hubassoc._routes import Routes
from hubassoc._tracing import RequestTracer, make_tracer
from hubassoc._transport import Transport, check_base_url
from hubassoc._validation import check_seconds

if TYPE_CHECKING:
    from hubassoc._redis_budget import RedisBudget

__all__ = ["ClientOptions"]


def _positive_int(name: str, value: object) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(f"{name} must be an int >= 1, not {value!r}")
    return value


def _retry_policy(retry: object, max_retries: object) -> RetryPolicy:
    if retry is None:
        if type(max_retries) is not int:
            raise TypeError(f"max_retries must be an int, not {max_retries!r}")
        return RetryPolicy(max_retries=max_retries)
    if not isinstance(retry, RetryPolicy):
        raise TypeError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
    return retry


def _pacing(rate_limit: object) -> tuple[RateLimit | None, bool]:
    """``(limit, adaptive)`` of a ``rate_limit`` argument."""
    if rate_limit is False:
        return None, False
    if rate_limit is None:
        return None, True
    if isinstance(rate_limit, RateLimit):
        return rate_limit, False
    raise TypeError(f"rate_limit must be a RateLimit, None or False, not {rate_limit!r}")


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


def budget_key_for(tokens: StaticToken | TokenProvider) -> str:
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


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """The client's keyword arguments once checked (see :class:`AssociationsClient`)."""

    tokens: StaticToken | TokenProvider
    url: URL
    routes: Routes
    timeout: float
    retry: RetryPolicy
    max_retry_wait: float
    max_response_bytes: int
    session: aiohttp.ClientSession | None
    max_batch_size: int
    max_concurrency: int
    limit: RateLimit | None
    adaptive: bool
    shared_budget: RedisBudget | None
    linger: float
    max_pending: int
    close_timeout: float
    emit: Emitter | None
    tracer: RequestTracer | None

    @classmethod
    def check(cls, tokens: StaticToken | TokenProvider, a: Mapping[str, Any]) -> ClientOptions:
        """Check the client's keyword arguments ``a`` (by name).

        Raises:
            ValueError, TypeError: an argument is invalid.
        """
        url = check_base_url(a["base_url"])
        routes = Routes(a["api_version"])
        session = a["session"]
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(
                f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
            )
        on_event = a["on_event"]
        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be callable, not {on_event!r}")
        if a["shared_budget"] is not None:
            _check_budget(a["shared_budget"], tokens, a["rate_limit"])
        return cls(
            tokens=tokens,
            url=url,
            routes=routes,
            timeout=check_seconds(a["timeout"], "timeout", positive=True),
            retry=_retry_policy(a["retry"], a["max_retries"]),
            max_retry_wait=check_seconds(a["max_retry_wait"], "max_retry_wait"),
            max_response_bytes=_positive_int("max_response_bytes", a["max_response_bytes"]),
            session=session,
            max_batch_size=_positive_int("max_batch_size", a["max_batch_size"]),
            max_concurrency=_positive_int("max_concurrency", a["max_concurrency"]),
            limit=_pacing(a["rate_limit"])[0],
            adaptive=_pacing(a["rate_limit"])[1],
            shared_budget=a["shared_budget"],
            linger=check_seconds(a["linger"], "linger"),
            max_pending=_positive_int("max_pending", a["max_pending"]),
            close_timeout=check_seconds(a["close_timeout"], "close_timeout", positive=True),
            emit=Emitter(on_event) if on_event is not None else None,
            tracer=make_tracer(a["tracing"], server_address=url.host, server_port=url.port),
        )

    def pacer(self) -> Pacer:
        """The one pacer of the client (alone, or on the shared budget)."""
        tokens, budget = self.tokens, self.shared_budget
        return Pacer(
            self.limit,
            adaptive=self.adaptive,
            budget=budget,
            default_key=(lambda: budget_key_for(tokens)) if budget is not None else None,
            emit=self.emit,
        )

    def transport(self, pacer: Pacer) -> Transport:
        """The one transport of the client, paced by ``pacer``."""
        transport = Transport(self, pacer)
        if isinstance(self.tokens, OAuthTokens):
            # It refreshes through this client's base URL, session, timeout and
            # size cap, and reports through its events.
            self.tokens._bind(
                transport.post_form, emit=self.emit, max_retry_wait=self.max_retry_wait
            )
        return transport

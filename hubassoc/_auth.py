"""Where the access token comes from: a fixed string, or a provider that refreshes it.

``AssociationsClient(access_token=...)`` takes a private-app (or OAuth) token,
or any :class:`TokenProvider` (:class:`hubassoc.OAuthTokens`, a user's own
secret-store adapter), asked before every attempt.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

__all__ = [
    "TOKEN_ENV",
    "StaticToken",
    "TokenProvider",
    "check_credential",
    "token_source",
]

#: The environment variable the access token is read from by default.
TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
#: The longest token accepted: HubSpot's tokens vary in size, up to about 300 characters.
MAX_TOKEN_LENGTH = 4096


@runtime_checkable
class TokenProvider(Protocol):
    """Supplies a currently valid access token (plug in your own secret store).

    ``get_token()`` returns a valid token, quickly when it has one.
    ``get_token(rejected=token)`` is called when HubSpot refused ``token`` as
    expired: return a different, valid one (refreshing only if ``token`` is
    still the current one, so many refused requests cause one refresh).
    Raise :class:`hubassoc.AuthenticationError` when no valid token can be had.
    """

    async def get_token(self, *, rejected: str | None = None) -> str:
        """A currently valid access token."""
        ...


def check_credential(value: object, argument: str, *, max_length: int = MAX_TOKEN_LENGTH) -> str:
    """``value`` if it can go on the wire as a token, a secret or a form field (the one
    check of every credential handed over); never echoes it.

    Raises:
        TypeError: not a str.
        ValueError: empty, longer than ``max_length``, or with whitespace,
            control or non-ASCII characters.
    """
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{argument} is empty")
    if len(value) > max_length:
        raise ValueError(f"{argument} is longer than {max_length} characters")
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise ValueError(
            f"{argument} must be printable ASCII without whitespace or control characters "
            "(value not shown)"
        )
    return value


class StaticToken:
    """A fixed token (a private app's, or an OAuth token the caller refreshes itself)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = check_credential(token, "the access token")

    def __repr__(self) -> str:
        return "<StaticToken [redacted]>"

    async def get_token(self, *, rejected: str | None = None) -> str:
        """The token; a fixed token cannot be refreshed, so ``rejected`` changes nothing."""
        return self.token


def token_source(access_token: str | TokenProvider | None) -> StaticToken | TokenProvider:
    """What the client authenticates with: a checked static token or the given provider.

    ``None`` reads ``HUBSPOT_ACCESS_TOKEN`` from the environment.

    Raises:
        ValueError, TypeError: no token, or an invalid one (never echoed).
    """
    if access_token is None:
        access_token = os.environ.get(TOKEN_ENV)
        if not access_token:
            raise ValueError(
                f"no HubSpot access token: pass access_token=... or set {TOKEN_ENV} "
                "(a private app token, an OAuth access token, or a token provider "
                "such as hubassoc.OAuthTokens)"
            )
    if isinstance(access_token, str):
        return StaticToken(access_token)
    if isinstance(access_token, TokenProvider):
        return access_token
    raise TypeError(
        "access_token must be a str or a token provider (an object with an async "
        f"get_token method), not {type(access_token).__name__}"
    )

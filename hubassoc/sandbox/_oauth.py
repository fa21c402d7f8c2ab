"""`OAuthAuthority`: the sandbox's OAuth app, its refresh tokens and the access tokens it issued.

Pure state and rules, no HTTP: the token endpoint (`TokenEndpoint`) asks it to
`grant` a refresh, the request pipeline asks it when an access token
`expires_at`. Credentials not given in the config are generated once and
kept across configuration changes and resets, so a client set up with them
keeps working. Times are loop times passed in by the caller.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ._config import SandboxConfig

__all__ = ["SCOPES", "OAuthAuthority", "OAuthCredentials", "OAuthRefusal", "TokenGrant"]

SCOPES: Final = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.custom.read",
)
"""The scopes every issued token is said to carry."""


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """What a client needs to refresh tokens against the sandbox (secrets kept out of repr)."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    """The newest valid refresh token (after a rotation, the one last handed out)."""
    hub_id: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``GET /_sandbox/oauth`` answers it."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "hub_id": self.hub_id,
        }


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A successful refresh: the token answer's fields."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    hub_id: int
    issued_at: float
    expires_at: float

    def as_json(self) -> dict[str, Any]:
        """HubSpot's token answer (snake_case)."""
        return {
            "token_type": "bearer",
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "hub_id": self.hub_id,
            "scopes": list(SCOPES),
        }


@dataclass(frozen=True, slots=True)
class OAuthRefusal:
    """A refused token request: HTTP status, HubSpot's ``status`` name and message."""

    http_status: int
    status: str
    message: str


def _refused(status: str, message: str) -> OAuthRefusal:
    return OAuthRefusal(400, status, message)


_MISSING = "missing or empty parameter: {}"
_PARAMETERS: Final = ("grant_type", "client_id", "client_secret", "refresh_token")
"""The form fields of a refresh, in the order they are checked."""


def new_access_token() -> str:
    """A random access token of about 250 characters (HubSpot allows for up to 300)."""
    return "C" + secrets.token_urlsafe(186)


def new_refresh_token() -> str:
    """A random refresh token shaped like HubSpot's (``na1-xxxx-...``)."""
    return f"na1-{uuid.uuid4()}"


class OAuthAuthority:
    """The OAuth app: credentials, valid refresh tokens, issued access tokens.

    ``in_flight`` is maintained by the token endpoint (token requests being served).
    """

    __slots__ = (
        "_access",
        "_configured_refresh",
        "_refresh_tokens",
        "client_id",
        "client_secret",
        "hub_id",
        "in_flight",
        "newest_refresh_token",
    )

    def __init__(self, config: SandboxConfig) -> None:
        self.client_id = str(uuid.uuid4())
        self.client_secret = str(uuid.uuid4())
        self.hub_id = config.oauth_hub_id
        self.newest_refresh_token = new_refresh_token()
        self._refresh_tokens = {self.newest_refresh_token}
        self._configured_refresh: str | None = None
        self._access: dict[str, float] = {}
        self.in_flight = 0
        self.configure(config)

    def __repr__(self) -> str:
        return (
            f"<OAuthAuthority client_id={self.client_id} hub_id={self.hub_id} "
            f"refresh_tokens={len(self._refresh_tokens)} access_tokens={len(self._access)} "
            f"in_flight={self.in_flight}>"
        )

    def configure(self, config: SandboxConfig) -> None:
        """Take the credentials the config names; generated ones stay otherwise."""
        if config.oauth_client_id is not None:
            self.client_id = config.oauth_client_id
        if config.oauth_client_secret is not None:
            self.client_secret = config.oauth_client_secret
        self.hub_id = config.oauth_hub_id
        refresh = config.oauth_refresh_token
        # Only a newly named refresh token replaces the valid ones: re-applying an
        # unchanged config must not undo a rotation or a revocation.
        if refresh is not None and refresh != self._configured_refresh:
            self._refresh_tokens = {refresh}
            self.newest_refresh_token = refresh
        self._configured_refresh = refresh

    @property
    def credentials(self) -> OAuthCredentials:
        """The credentials a client refreshes with."""
        return OAuthCredentials(
            self.client_id, self.client_secret, self.newest_refresh_token, self.hub_id
        )

    def grant(
        self, form: Mapping[str, str], now: float, config: SandboxConfig
    ) -> TokenGrant | OAuthRefusal:
        """Answer a refresh request's form fields at loop time `now`."""
        values = {name: form.get(name, "") for name in _PARAMETERS}
        grant_type = values["grant_type"]
        if not grant_type:
            return _refused("BAD_GRANT_TYPE", _MISSING.format("grant_type"))
        if grant_type != "refresh_token":
            return _refused(
                "BAD_GRANT_TYPE",
                f"unsupported grant_type {grant_type!r}: the sandbox only refreshes tokens",
            )
        for name in _PARAMETERS[1:]:
            if not values[name]:
                return _refused("MISSING_PARAMETER", _MISSING.format(name))
        if not secrets.compare_digest(values["client_id"], self.client_id):
            return _refused("BAD_CLIENT_ID", "missing or unknown client id")
        if not secrets.compare_digest(values["client_secret"], self.client_secret):
            return _refused("BAD_CLIENT_SECRET", "missing or invalid client secret")
        used = values["refresh_token"]
        if used not in self._refresh_tokens:
            return _refused("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        refresh = used
        if config.oauth_rotate_refresh_tokens:
            refresh = new_refresh_token()
            self._refresh_tokens.discard(used)
            self._refresh_tokens.add(refresh)
            self.newest_refresh_token = refresh
        lifetime = config.oauth_token_lifetime
        access = new_access_token()
        expires_at = now + lifetime
        self._access[access] = expires_at
        return TokenGrant(
            access_token=access,
            refresh_token=refresh,
            expires_in=max(1, math.ceil(lifetime)),
            hub_id=self.hub_id,
            issued_at=now,
            expires_at=expires_at,
        )

    def expires_at(self, access_token: str) -> float | None:
        """Loop time at which an issued access token expires; ``None`` if never issued."""
        return self._access.get(access_token)

    def revoke(self, refresh_token: str | None = None) -> int:
        """Retire one refresh token, or every one (``None``); returns how many were valid."""
        if refresh_token is None:
            count = len(self._refresh_tokens)
            self._refresh_tokens.clear()
            return count
        if refresh_token in self._refresh_tokens:
            self._refresh_tokens.discard(refresh_token)
            return 1
        return 0

    def expire_access_tokens(self, now: float) -> int:
        """Make every access token still valid at `now` expire now; returns how many."""
        live = [token for token, expiry in self._access.items() if expiry > now]
        for token in live:
            self._access[token] = now
        return len(live)

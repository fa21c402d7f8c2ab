"""Where a run sends its pairs: HubSpot (or a compatible host), or the built-in sandbox.

:func:`connect` is the only place the backfill builds an
:class:`~hubassoc.AssociationsClient`, from the public API alone: the
credentials (a token, or ``--oauth``: an :class:`~hubassoc.OAuthTokens`
refreshed as it goes), the pacing (``--rate-limit``; ``--redis``: one
:class:`~hubassoc.RedisBudget` shared with the app's other processes), and
``--sandbox`` (started here, closed here). The client checks its own
arguments: a base URL, API version or token it refuses is a usage error.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from hubassoc import (
    DEFAULT_BASE_URL,
    AssociationsClient,
    OAuthTokens,
    RedisBudget,
    RefreshedTokens,
    TokenProvider,
)
from hubassoc.backfill._job import Credentials, Job, OAuthCredentials, UsageError
from hubassoc.backfill._options import REFRESH_TOKEN_ENV
from hubassoc.backfill._redact import Redactor
from hubassoc.events import EventCallback

__all__ = ["SANDBOX_RATE_LIMIT", "Target", "connect"]

#: The built-in sandbox holds to HubSpot's Free tier, so that pacing is real.
SANDBOX_RATE_LIMIT: Final = (100, 10.0)

_logger = logging.getLogger("hubassoc.backfill")


@dataclass(frozen=True, slots=True)
class Target:
    """An open client, and what to call its other end in messages."""

    client: AssociationsClient
    description: str


async def _start_sandbox(oauth: bool) -> Any:
    from hubassoc.sandbox import Sandbox

    options: dict[str, Any] = {"rate_limit": SANDBOX_RATE_LIMIT}
    if oauth:
        # Only the access tokens its OAuth endpoints issue are accepted.
        options.update(token=None, oauth=True, oauth_only=True)
    else:
        options["token"] = secrets.token_urlsafe(24)
    sandbox = Sandbox(**options)
    await sandbox.start()
    return sandbox


def _oauth_tokens(oauth: OAuthCredentials, redactor: Redactor) -> OAuthTokens:
    """``OAuthTokens`` for the app; each token it refreshes is redacted from then on."""
    warned = False

    def on_refresh(tokens: RefreshedTokens) -> None:
        nonlocal warned
        redactor.add(tokens.access_token, tokens.refresh_token)
        if tokens.refresh_token_rotated and not warned:
            warned = True
            _logger.warning(
                "HubSpot issued a new refresh token; the one in %s may stop working: "
                "store the app's current refresh token there before the next run",
                REFRESH_TOKEN_ENV,
            )

    return OAuthTokens(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        refresh_token=oauth.refresh_token,
        on_refresh=on_refresh,
    )


@contextlib.asynccontextmanager
async def connect(
    job: Job, redactor: Redactor, on_event: EventCallback | None = None
) -> AsyncIterator[Target]:
    """Start the sandbox if asked, then open the client the run sends with.

    Closes both (and a shared budget) on the way out.

    Raises:
        UsageError: the client refuses an argument (a base URL, an API
            version, a token), or the shared budget its Redis URL.
    """
    options = job.options
    credentials = job.credentials
    sandbox: Any = None
    budget: RedisBudget | None = None
    try:
        base_url = options.base_url or DEFAULT_BASE_URL
        description = base_url
        if options.sandbox:
            sandbox = await _start_sandbox(options.oauth)
            base_url = sandbox.url
            requests, per = SANDBOX_RATE_LIMIT
            description = (
                f"the built-in sandbox (Free-tier pacing: {requests} requests per {per:g} s)"
            )
            if options.oauth:
                app = sandbox.oauth_credentials
                oauth = OAuthCredentials(app.client_id, app.client_secret, app.refresh_token)
                credentials = Credentials(oauth=oauth, redis_url=credentials.redis_url)
                description += " as an OAuth app"
            else:
                credentials = Credentials(token=sandbox.token, redis_url=credentials.redis_url)
            redactor.add(*credentials.secrets())
        access_token: str | TokenProvider | None = credentials.token
        if credentials.oauth is not None:
            access_token = _oauth_tokens(credentials.oauth, redactor)
        if credentials.redis_url is not None:
            try:
                budget = RedisBudget(credentials.redis_url, key=options.budget_key or None)
            except (ValueError, TypeError, ModuleNotFoundError) as exc:
                raise UsageError(f"--redis: {exc}") from None
        try:
            client = AssociationsClient(
                access_token,
                base_url=base_url,
                api_version=options.api_version,
                max_batch_size=options.batch_size,
                max_concurrency=options.concurrency,
                rate_limit=options.rate_limit,
                shared_budget=budget,
                on_event=on_event,
            )
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from None
        async with client:
            yield Target(client, description)
    finally:
        if budget is not None:
            await budget.aclose()
        if sandbox is not None:
            await sandbox.close()

"""A HubSpot-compatible CRM Associations server on a local port, for tests and benchmarks.

It serves every association operation, for the legacy ``v4`` paths and the
date-versioned ones (``2026-03``, ``2026-09``, ...), with each version's status
codes and shapes (docs/hubspot.md): default associate (batch and single PUT),
labelled create (``batch/create`` and the labelled PUT), ``batch/archive`` and
DELETE (every type between two records), ``batch/labels/archive`` (the named
types; the default type takes the labels with it), reads (``batch/read``, at
most 1,000 inputs, and the per-record GET, not on 2026-09) paged per record at
``read_page_size`` with ``paging.next.after``, label definitions per object
type pair (type ids from 1000 up), the high-usage report and the association
limit configurations. Associations are stored per pair with their types: every
pair carries the default type, only pairs with labels cost more. They go both
ways: a pair written from one side is read (with that side's types) and
removed from either. It checks
the bearer token, enforces a rolling-window and a daily rate limit, injects
latency and faults (at random rates or as an exact script), and can play the
awkward parts of HubSpot on purpose: per-input "not found" errors in several
shapes, batches that fail whole, results out of order, unknown fields.

Object types are checked as HubSpot checks them: standard object names
(``contacts``/``contact``, ``companies``, ``line_items``, ``postal_mail``, ...),
objectTypeIds (``0-1``, ``2-1234567``) and custom object names
(``p1234_widget``) are accepted; anything else (``companys``) gets a 400
"Unable to infer object type from: companys" in HubSpot's ``Error`` shape.

With ``oauth=True`` it is also a public app's OAuth server: ``POST
/oauth/v3/token`` (and the older ``/oauth/v1/token``) refresh tokens from a
form-encoded ``grant_type=refresh_token`` body with the app's ``client_id``,
``client_secret`` and ``refresh_token`` (`Sandbox.oauth_credentials`; random
unless the ``oauth_*`` options name them) and answer HubSpot's snake_case
token JSON with a long random access token. API calls accept it as a bearer
token until ``oauth_token_lifetime`` seconds have passed, then answer 401
``EXPIRED_AUTHENTICATION``. Refresh tokens can rotate
(``oauth_rotate_refresh_tokens``) and be revoked (`Sandbox.revoke_refresh_token`);
a refused refresh is a 400 in HubSpot's OAuth error shape (``BAD_REFRESH_TOKEN``,
``BAD_CLIENT_ID``, ``BAD_CLIENT_SECRET``, ``BAD_GRANT_TYPE``,
``MISSING_PARAMETER``). Token calls need no bearer token and are not counted
as API requests; `SandboxStats` counts them (``oauth_*`` fields).

A client that disconnects cancels its request wherever it is (latency
included), and a reset is final: a request that arrived before it stores and
counts nothing that the reset left behind.

For the client's redaction tests, ``echo_authorization=True`` makes it
hostile: every error it answers (whole-call errors of every status, 429s,
faults, per-input errors inside 200/207 answers, OAuth token errors) repeats
the request's ``Authorization`` value and bare token in every string field and
in the ``X-HubSpot-Correlation-Id`` header.

Latency is a round trip: half of ``latency`` (plus its own jitter draw from
``[0, jitter / 2]``) is spent before a request arrives and is counted in the
rate-limit window, the other half after it was answered, so arrival times
jitter as they do over a network.

It shares no code with the client, so it tests the client against an
independent reading of the specs.

Introspection and control go through ``/_sandbox/``: every call there needs
``Authorization: Bearer <control token>`` (`Sandbox.control_headers`; the
``control_token`` option, default the API ``token``) and every POST or DELETE
a ``Content-Type: application/json`` body (``{}`` will do), else 401 or 415.
``hubassoc sandbox`` refuses a non-loopback ``--host`` without
``--allow-remote``.

- ``GET /_sandbox/stats``: the counters (`SandboxStats`);
- ``GET /_sandbox/associations?from=..&to=..&id=..``: one record's associations
  with their types (`Sandbox.associations`); ``POST /_sandbox/associations``
  ``{"from", "to", "rows": [[fromId, toId(, [[category, typeId], ...])], ...],
  "associations": {fromId: [toId, ...]}, "ranges": [[fromId, firstToId,
  count], ...]}`` (any of the three): store associations without API calls
  (`Sandbox.seed_associations`), ``{"seeded": n}``;
  ``POST /_sandbox/labels`` ``{"from", "to", "label", "name"?, "inverseLabel"?}``:
  define a label (`Sandbox.define_label`);
- ``GET /_sandbox/store?from=..&to=..``: stored pairs, ``{"fromObjectType",
  "toObjectType", "count", "pairs": [[fromId, toId], ...]}``;
- ``GET /_sandbox/sends?from=..&to=..``: how often each pair was sent (as
  `Sandbox.send_counts`), ``{"fromObjectType", "toObjectType", "count"``
  (distinct pairs), ``"total"`` (sends), ``"sends": [[fromId, toId, times], ...]}``;
  needs the ``track_sends`` option, else 409;
- ``POST /_sandbox/reset``; ``GET|POST /_sandbox/config``;
  ``GET|POST|DELETE /_sandbox/script``; ``GET /_sandbox/arrivals``;
- ``GET /_sandbox/oauth``: ``{"enabled", "client_id", "client_secret",
  "refresh_token", "hub_id"}``; ``POST /_sandbox/oauth/revoke`` (body ``{}`` or
  ``{"refresh_token": ...}``): ``{"revoked": n}``; ``POST /_sandbox/oauth/expire``:
  expire every issued access token now, ``{"expired": n}``.

Example::

    async with Sandbox(rate_limit=(100, 10.0), read_page_size=100) as sandbox:
        sandbox.seed_associations("contacts", "companies", [(1, i) for i in range(1, 2001)])
        ...  # point a client at sandbox.url with sandbox.token
        assert sandbox.stats().peak_window <= 100
        assert len(sandbox.associations("contacts", "companies", 1)) == 2000
"""

from ._app import SandboxApp
from ._config import ErrorStyle, FaultKind, SandboxConfig, SandboxOptions
from ._faults import PASS, Fault, ScriptEntry
from ._oauth import OAuthCredentials
from ._sandbox import Sandbox
from ._stats import SandboxStats

__all__ = [
    "PASS",
    "ErrorStyle",
    "Fault",
    "FaultKind",
    "OAuthCredentials",
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxOptions",
    "SandboxStats",
    "ScriptEntry",
]

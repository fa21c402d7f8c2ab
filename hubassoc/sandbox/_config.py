"""The sandbox's options: one frozen dataclass, changed by replacing it.

`SandboxConfig` holds every behaviour switch of the sandbox (auth token, rate
limits, latency, fault rates, the not-found and poison rules, response
quirks). `SandboxOptions` is the same set of names as keyword arguments, used
to type ``Sandbox(**options)`` and ``Sandbox.configure(**options)``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, get_args

__all__ = [
    "FAULT_KINDS",
    "ErrorStyle",
    "FaultKind",
    "SandboxConfig",
    "SandboxOptions",
    "config_from_json",
    "config_to_json",
    "parse_fault_rates",
    "parse_rate_limit",
]

ErrorStyle = Literal["per_side", "ids", "none"]
"""How per-input "object not found" errors name the failing inputs.

``per_side``: one error per failing side, ``context`` ``{"fromObjectId": [id]}``
or ``{"toObjectId": [id]}``; ``ids``: one error, ``context`` ``{"ids": [...]}``
listing every failing id; ``none``: one error whose context names no id, so a
client has to diff the results against its inputs.
"""

FaultKind = Literal["502", "503", "504", "423", "429", "477", "reset"]
"""Random fault kinds: an HTTP status (502 is an HTML page, the others JSON) or
``reset`` (the connection is dropped without an answer)."""

FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)

# A record id in the not-found / poison rules: "13" (any object type) or
# "contacts:13" / "0-1:13" (that object type only).
_RULE_ID = re.compile(r"(?:([^:\s]+):)?([0-9]{1,19})")


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """Every behaviour switch of the sandbox, with HubSpot-like defaults.

    Raises `ValueError` (from ``__post_init__``) for out-of-range values. Sets
    given as any iterable are normalised to `frozenset` of strings, and fault
    rates to a plain `dict`.
    """

    token: str | None = field(default="sandbox-token", repr=False)
    """Bearer token every API call may carry; ``None`` turns the check off (unless
    ``oauth`` is on, which then accepts only the access tokens it issued)."""

    control_token: str | None = field(default=None, repr=False)
    """Bearer token the ``/_sandbox/`` control endpoints require (``None``: the same
    as ``token``; when both are ``None`` the control endpoints are open)."""

    rate_limit: tuple[int, float] | None = None
    """``(requests, window_seconds)`` of the rolling-window limit (HubSpot: 100/10 s
    to 250/10 s), or ``None`` for no limit."""

    daily_limit: int | None = None
    """Requests admitted before every further call gets a ``DAILY`` 429."""

    latency: float = 0.0
    """Round-trip seconds of each request: half on the way in (before it arrives
    and is counted in the rate-limit window), half on the way out (see `one_way_trips`)."""

    jitter: float = 0.0
    """Extra round-trip latency up to ``jitter`` seconds per request: each one-way
    trip adds its own uniform draw from ``[0, jitter / 2]``, so arrivals jitter too."""

    faults: Mapping[str, float] = field(default_factory=dict)
    """Probability per request of each `FaultKind`, e.g. ``{"503": 0.01, "reset": 0.01}``."""

    seed: int | None = 0
    """Seed of the random source behind faults, jitter and shuffling
    (``None``: seeded from the OS)."""

    max_batch_size: int | None = 2000
    """Largest batch accepted; a larger one gets a whole-call 400 (``None``: no limit)."""

    not_found_ids: AbstractSet[str] = frozenset()
    """Record ids that do not exist: ``"13"`` (any type) or ``"contacts:13"``."""

    poison_ids: AbstractSet[str] = frozenset()
    """Ids that make a whole batch fail with a 400 naming no input."""

    error_style: ErrorStyle = "per_side"
    """How per-input not-found errors identify the inputs (see `ErrorStyle`)."""

    shuffle_results: bool = False
    """Return batch results in random order (clients must match on ids)."""

    extra_fields: bool = False
    """Add unknown fields (``sandboxTrace``) at every level of every JSON answer."""

    subcategory_object: bool = False
    """Send ``subCategory`` as an object (as the spec types it) instead of a string."""

    peak_window_seconds: float = 10.0
    """Window of the ``peak_window`` statistic when no rate limit is set."""

    count_rejected: bool = False
    """Whether requests refused with a rolling-window 429 still fill the window
    (a harsher server); by default only admitted requests do."""

    track_sends: bool = False
    """Count how often each individual pair was sent (costs memory per pair)."""

    read_page_size: int = 500
    """Most associated records one read page holds, in ``batch/read`` answers and
    the per-record GET (whose ``limit`` caps it further); more set ``paging.next.after``."""

    no_associations_errors: bool = False
    """Report a record ``batch/read`` finds no associations for as a per-input error
    (``crm.associations.NO_ASSOCIATIONS_FOUND``, as users report HubSpot does) instead
    of leaving it out of the results (as the spec shows)."""

    numeric_object_ids: bool = False
    """Write ``toObjectId`` (reads) and ``fromObjectId``/``toObjectId`` (labelled creates)
    as JSON numbers, as HubSpot's older specs typed them, instead of the strings the
    current specs declare."""

    rate_limit_headers: bool = True
    """Send the ``X-HubSpot-RateLimit-*`` headers when a limit is set; ``False`` limits
    without saying so (for clients that must cope with answers that carry none)."""

    echo_authorization: bool = False
    """Hostile mode for redaction tests: every error answer repeats the request's
    ``Authorization`` value and bare token in every string field, the correlation
    id header included (token errors also repeat the refresh token and client
    secret sent); see `echo_secrets`."""

    oauth: bool = False
    """Serve HubSpot's token endpoints (``POST /oauth/v3/token``, ``/oauth/v1/token``)
    and accept the access tokens they issue as bearer tokens until they expire."""

    oauth_client_id: str | None = None
    """The OAuth app's client id (``None``: a random one, see `Sandbox.oauth_credentials`)."""

    oauth_client_secret: str | None = field(default=None, repr=False)
    """The OAuth app's client secret (``None``: a random one)."""

    oauth_refresh_token: str | None = field(default=None, repr=False)
    """The installed refresh token (``None``: a random one). Setting it again
    replaces every valid refresh token with this one."""

    oauth_hub_id: int = 1234567
    """The ``hub_id`` token answers name."""

    oauth_token_lifetime: float = 1800.0
    """Seconds an issued access token is accepted (HubSpot: 30 minutes). Fractions
    are allowed for tests; ``expires_in`` announces it rounded up to whole seconds."""

    oauth_rotate_refresh_tokens: bool = False
    """Whether a refresh answers a new refresh token and retires the one it used
    (HubSpot keeps the same refresh token)."""

    oauth_only: bool = False
    """Refuse the static ``token``: API calls need an access token the OAuth
    endpoints issued."""

    oauth_latency: float | None = None
    """Round-trip seconds of a token request (``None``: as ``latency`` and ``jitter``)."""

    def __post_init__(self) -> None:
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            if int(limit) != limit or limit < 1:
                raise ValueError(f"rate_limit requests must be a positive integer, got {limit!r}")
            if not (window > 0 and math.isfinite(window)):
                raise ValueError(f"rate_limit window must be positive seconds, got {window!r}")
            object.__setattr__(self, "rate_limit", (int(limit), float(window)))
        if self.daily_limit is not None and self.daily_limit < 0:
            raise ValueError(f"daily_limit must be >= 0, got {self.daily_limit!r}")
        for name in ("latency", "jitter", "oauth_latency"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
        lifetime = self.oauth_token_lifetime
        if not (lifetime > 0 and math.isfinite(lifetime)):
            raise ValueError(f"oauth_token_lifetime must be positive seconds, got {lifetime!r}")
        if isinstance(self.oauth_hub_id, bool) or self.oauth_hub_id < 0:
            raise ValueError(f"oauth_hub_id must be a non-negative int, got {self.oauth_hub_id!r}")
        for name in (
            "control_token",
            "oauth_client_id",
            "oauth_client_secret",
            "oauth_refresh_token",
        ):
            value = getattr(self, name)
            if value is not None and (not value or value != value.strip()):
                raise ValueError(f"{name} must be a non-empty string without outer spaces")
        if not self.peak_window_seconds > 0:
            raise ValueError(
                f"peak_window_seconds must be positive, got {self.peak_window_seconds!r}"
            )
        if isinstance(self.read_page_size, bool) or self.read_page_size < 1:
            raise ValueError(f"read_page_size must be >= 1, got {self.read_page_size!r}")
        if self.max_batch_size is not None and self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1 or None, got {self.max_batch_size!r}")
        if self.error_style not in get_args(ErrorStyle):
            raise ValueError(
                f"error_style must be one of {get_args(ErrorStyle)}, got {self.error_style!r}"
            )
        faults = {str(kind): float(rate) for kind, rate in self.faults.items()}
        for kind, rate in faults.items():
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate of {kind} must be in [0, 1], got {rate!r}")
        if sum(faults.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        object.__setattr__(self, "faults", faults)
        object.__setattr__(self, "not_found_ids", _id_rule("not_found_ids", self.not_found_ids))
        object.__setattr__(self, "poison_ids", _id_rule("poison_ids", self.poison_ids))

    @property
    def control_bearer(self) -> str | None:
        """The token ``/_sandbox/`` requires, or ``None`` when it is open."""
        return self.control_token if self.control_token is not None else self.token

    @property
    def window_seconds(self) -> float:
        """The rolling window that rate limiting and ``peak_window`` use."""
        return self.rate_limit[1] if self.rate_limit is not None else self.peak_window_seconds


def _id_rule(name: str, ids: Iterable[str | int]) -> frozenset[str]:
    if isinstance(ids, str | int):
        raise ValueError(f"{name} must be a collection of ids, not a single {type(ids).__name__}")
    result: set[str] = set()
    for item in ids:
        text = str(item).strip()
        if _RULE_ID.fullmatch(text) is None:
            raise ValueError(f"{name}: {item!r} is not a record id such as '13' or 'contacts:13'")
        result.add(text)
    return frozenset(result)


class SandboxOptions(TypedDict, total=False):
    """`SandboxConfig` fields as keyword arguments (see there for their meaning)."""

    token: str | None
    control_token: str | None
    rate_limit: tuple[int, float] | None
    daily_limit: int | None
    latency: float
    jitter: float
    faults: Mapping[str, float]
    seed: int | None
    max_batch_size: int | None
    not_found_ids: AbstractSet[str]
    poison_ids: AbstractSet[str]
    error_style: ErrorStyle
    shuffle_results: bool
    extra_fields: bool
    subcategory_object: bool
    peak_window_seconds: float
    count_rejected: bool
    track_sends: bool
    read_page_size: int
    no_associations_errors: bool
    numeric_object_ids: bool
    rate_limit_headers: bool
    echo_authorization: bool
    oauth: bool
    oauth_client_id: str | None
    oauth_client_secret: str | None
    oauth_refresh_token: str | None
    oauth_hub_id: int
    oauth_token_lifetime: float
    oauth_rotate_refresh_tokens: bool
    oauth_only: bool
    oauth_latency: float | None


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """Parse ``"100/10"`` (requests per seconds) into ``(100, 10.0)``; ``"none"`` is ``None``.

    Raises `ValueError` for anything else.
    """
    if text.strip().lower() in ("", "none", "off", "0"):
        return None
    requests, sep, seconds = text.partition("/")
    if not sep:
        raise ValueError(f"rate limit must look like REQUESTS/SECONDS, e.g. 100/10, got {text!r}")
    try:
        return int(requests), float(seconds)
    except ValueError:
        raise ValueError(f"rate limit must look like REQUESTS/SECONDS, got {text!r}") from None


def parse_fault_rates(text: str) -> dict[str, float]:
    """Parse ``"503=0.01,reset=0.005"`` into ``{"503": 0.01, "reset": 0.005}``.

    Raises `ValueError` for a malformed item (kinds are checked by `SandboxConfig`).
    """
    rates: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, rate = item.partition("=")
        if not sep:
            raise ValueError(f"fault must look like KIND=RATE, e.g. 503=0.01, got {item!r}")
        rates[kind.strip()] = float(rate)
    return rates


def config_to_json(config: SandboxConfig) -> dict[str, Any]:
    """The config as JSON-ready builtins (sets become sorted lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, AbstractSet):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(SandboxConfig))

# JSON types of the scalar options, read from their annotations ("float | None").
_SCALARS: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "float": (int, float),
    "int": (int,),
    "str": (str,),
}


def _scalar_fields() -> dict[str, tuple[str, bool]]:
    """Scalar option name -> (base type name, whether ``None`` is allowed)."""
    out: dict[str, tuple[str, bool]] = {}
    for f in dataclasses.fields(SandboxConfig):
        base = str(f.type).removesuffix(" | None")
        if base in _SCALARS:
            out[f.name] = (base, base != f.type)
    return out


_SCALAR_FIELDS = _scalar_fields()
_WORDS = {"bool": "true or false", "float": "a number", "int": "an integer", "str": "a string"}


def _check_scalar(name: str, value: Any) -> None:
    kind = _SCALAR_FIELDS.get(name)
    if kind is None:
        return
    base, optional = kind
    if value is None and optional:
        return
    # JSON true/false decode to bool, a subclass of int: only a bool option takes them.
    if not isinstance(value, _SCALARS[base]) or (base != "bool" and isinstance(value, bool)):
        raise ValueError(f"{name} must be {_WORDS[base]}" + (" or null" if optional else ""))


def config_from_json(base: SandboxConfig, changes: Mapping[str, Any]) -> SandboxConfig:
    """Apply a JSON object of changes (as sent to ``POST /_sandbox/config``) to `base`.

    ``rate_limit`` may be ``[100, 10]``, ``"100/10"`` or ``null``; sets may be lists.
    Raises `ValueError` for unknown names or bad values.
    """
    unknown = sorted(set(changes) - _FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown sandbox option(s): {', '.join(unknown)}")
    values = dict(changes)
    rate = values.get("rate_limit")
    if isinstance(rate, str):
        values["rate_limit"] = parse_rate_limit(rate)
    elif isinstance(rate, list | tuple):
        if len(rate) != 2:
            raise ValueError("rate_limit must be [requests, seconds]")
        values["rate_limit"] = (rate[0], rate[1])
    elif rate is not None:
        raise ValueError("rate_limit must be [requests, seconds], 'REQUESTS/SECONDS' or null")
    for name in ("not_found_ids", "poison_ids"):
        if name in values and not isinstance(values[name], list | tuple | AbstractSet):
            raise ValueError(f"{name} must be a list of ids")
    if "faults" in values and not isinstance(values["faults"], Mapping):
        raise ValueError("faults must be an object of kind to rate")
    for name, value in values.items():
        _check_scalar(name, value)
    try:
        return dataclasses.replace(base, **values)
    except TypeError as exc:
        raise ValueError(str(exc)) from None

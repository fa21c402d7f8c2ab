"""hubassoc: create HubSpot CRM associations at scale, from asyncio.

The public surface is re-exported here (and the events in
:mod:`hubassoc.events`); the modules behind it are private.
"""

from hubassoc import events
from hubassoc._auth import TOKEN_ENV, TokenProvider
from hubassoc._client import DEFAULT_API_VERSION, DEFAULT_BASE_URL, AssociationsClient
from hubassoc._configurations import ConfigurationKey
from hubassoc._errors import (
    AuthenticationError,
    BatchItemError,
    ClientClosedError,
    DailyLimitError,
    DecodingError,
    HubSpotError,
    InvalidRequestError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)
from hubassoc._models import (
    AssociationLimitConfiguration,
    AssociationSpec,
    AssociationSpecKey,
    AssociationSpecWithLabel,
    ConfigurationInput,
    ConfigurationUpdateResult,
    DefaultAssociation,
    HighUsageReport,
    LabelsBetweenObjectPair,
    MultiAssociatedObjectWithLabel,
    PublicObjectId,
)
from hubassoc._oauth import OAuthTokens, RefreshedTokens
from hubassoc._operations import Pair
from hubassoc._outcome import BatchOutcome
from hubassoc._pacing import FREE_TIER, PacingView, RateLimit
from hubassoc._redis_budget import RedisBudget
from hubassoc._retry import RetryPolicy
from hubassoc._transport import TransportStats
from hubassoc._validation import check_object_type, check_record_id

__version__ = "0.2.0"

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "FREE_TIER",
    "TOKEN_ENV",
    "AssociationLimitConfiguration",
    "AssociationSpec",
    "AssociationSpecKey",
    "AssociationSpecWithLabel",
    "AssociationsClient",
    "AuthenticationError",
    "BatchItemError",
    "BatchOutcome",
    "ClientClosedError",
    "ConfigurationInput",
    "ConfigurationKey",
    "ConfigurationUpdateResult",
    "DailyLimitError",
    "DecodingError",
    "DefaultAssociation",
    "HighUsageReport",
    "HubSpotError",
    "InvalidRequestError",
    "LabelsBetweenObjectPair",
    "MultiAssociatedObjectWithLabel",
    "OAuthTokens",
    "PacingView",
    "Pair",
    "PublicObjectId",
    "RateLimit",
    "RateLimitError",
    "RedisBudget",
    "RefreshedTokens",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ServerError",
    "TokenProvider",
    "TransportError",
    "TransportStats",
    "__version__",
    "check_object_type",
    "check_record_id",
    "events",
]

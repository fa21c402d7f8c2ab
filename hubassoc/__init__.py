"""hubassoc: create HubSpot CRM associations at scale, from asyncio.

The public surface is re-exported here; the modules behind it are private.
"""

from hubassoc._client import DEFAULT_API_VERSION, DEFAULT_BASE_URL, TOKEN_ENV, AssociationsClient
from hubassoc._configurations import ConfigurationKey, Configurations
from hubassoc._default_batches import Pair
from hubassoc._errors import (
    AuthenticationError,
    BatchItemError,
    ClientClosedError,
    DailyLimitError,
    DecodingError,
    HubSpotError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    TransportError,
)
from hubassoc._models import (
    AssociationLimitConfiguration,
    AssociationSpec,
    AssociationSpecKey,
    BatchResponse,
    ConfigurationInput,
    ConfigurationUpdateResult,
    DefaultAssociation,
    Error,
    ErrorDetail,
    PublicObjectId,
    RateLimitErrorBody,
    StandardError,
)
from hubassoc._outcome import BatchOutcome
from hubassoc._pacing import FREE_TIER, Pacer, RateLimit
from hubassoc._retry import RetryPolicy
from hubassoc._transport import TransportStats
from hubassoc._validation import check_object_type, check_record_id

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "FREE_TIER",
    "TOKEN_ENV",
    "AssociationLimitConfiguration",
    "AssociationSpec",
    "AssociationSpecKey",
    "AssociationsClient",
    "AuthenticationError",
    "BatchItemError",
    "BatchOutcome",
    "BatchResponse",
    "ClientClosedError",
    "ConfigurationInput",
    "ConfigurationKey",
    "ConfigurationUpdateResult",
    "Configurations",
    "DailyLimitError",
    "DecodingError",
    "DefaultAssociation",
    "Error",
    "ErrorDetail",
    "HubSpotError",
    "InvalidRequestError",
    "Pacer",
    "Pair",
    "PublicObjectId",
    "RateLimit",
    "RateLimitError",
    "RateLimitErrorBody",
    "RetryPolicy",
    "ServerError",
    "StandardError",
    "TransportError",
    "TransportStats",
    "__version__",
    "check_object_type",
    "check_record_id",
]

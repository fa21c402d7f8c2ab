"""What the client is doing, as it happens: the events given to ``on_event``.

``AssociationsClient(..., on_event=callback)`` calls ``callback(event)`` with
one of these frozen structs at a time. They carry no secret and no record id.
:func:`combine` makes one callback of several (metrics, logs, your own).
"""

from hubassoc._events import (
    BatchSettled,
    DailyLimitReached,
    DailyLimitReset,
    Event,
    EventCallback,
    ItemsFailed,
    LimitChanged,
    PacerWaited,
    RateLimited,
    RateLimitHeadersMissing,
    RequestAnswered,
    RequestSent,
    RetryScheduled,
    TokenRefreshed,
    TokenRefreshFailed,
    combine,
)

__all__ = [
    "BatchSettled",
    "DailyLimitReached",
    "DailyLimitReset",
    "Event",
    "EventCallback",
    "ItemsFailed",
    "LimitChanged",
    "PacerWaited",
    "RateLimitHeadersMissing",
    "RateLimited",
    "RequestAnswered",
    "RequestSent",
    "RetryScheduled",
    "TokenRefreshFailed",
    "TokenRefreshed",
    "combine",
]

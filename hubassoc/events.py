"""What the client is doing, as it happens: the events given to ``on_event``.

``AssociationsClient(..., on_event=callback)`` calls ``callback(event)`` with
one of these frozen structs at a time. They carry no secret and no record id.
:func:`combine` makes one callback of several (metrics, logs, your own).
"""

from hubassoc._events import (
    BatchSettled,
    DailyLimitReached,
    Event,
    EventCallback,
    ItemsFailed,
    LimitChanged,
    PacerWaited,
    RateLimited,
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
    "Event",
    "EventCallback",
    "ItemsFailed",
    "LimitChanged",
    "PacerWaited",
    "RateLimited",
    "RequestAnswered",
    "RequestSent",
    "RetryScheduled",
    "TokenRefreshFailed",
    "TokenRefreshed",
    "combine",
]

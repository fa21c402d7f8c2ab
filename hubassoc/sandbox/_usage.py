"""HubSpot's high-usage report: ``POST {A}/usage/high-usage-report/{userId}``.

HubSpot queues a report of the records near their association limits and
mails it to the user; the sandbox queues nothing and answers
``ReportCreationResponse``: the user id, an e-mail address made up from it,
and the time as the spec's ``DateTime`` object (``value`` in epoch
milliseconds, ``dateOnly`` false, ``timeZoneShift`` 0).
"""

from __future__ import annotations

import time

from aiohttp import web

from ._call import Call
from ._responses import json_response, validation_error
from ._state import StateBound

__all__ = ["UsageEndpoints"]

_INT32_MAX = 2**31 - 1


class UsageEndpoints(StateBound):
    """The high-usage report handler (`Handler` shaped)."""

    __slots__ = ()

    async def high_usage_report(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST {A}/usage/high-usage-report/{userId}``: 200 ``ReportCreationResponse``."""
        config = self._state.config
        text = request.match_info["userId"]
        if not (text.isascii() and text.isdigit() and int(text) <= _INT32_MAX):
            return validation_error(config, call, f"Invalid userId {text!r}", "userId")
        user_id = int(text)
        body = {
            "userId": user_id,
            "userEmail": f"user{user_id}@example.com",
            "enqueueTime": {
                "value": round(time.time() * 1000),
                "dateOnly": False,
                "timeZoneShift": 0,
            },
        }
        return json_response(config, body)

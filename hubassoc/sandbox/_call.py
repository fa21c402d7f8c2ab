"""`Call`: one API request as the request pipeline hands it to an endpoint handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from aiohttp import web

from ._generation import Generation

__all__ = ["Call", "Handler"]


class Call:
    """What the pipeline learnt on arrival: correlation id, arrival time, generation.

    A handler stores and counts into `generation`, never into the state's
    current one, so a reset during the call cannot be undone by it.
    """

    __slots__ = ("correlation_id", "generation", "requested_at")

    def __init__(self, correlation_id: str, requested_at: float, generation: Generation) -> None:
        self.correlation_id = correlation_id
        self.requested_at = requested_at
        """Wall-clock epoch seconds (for ``requestedAt``)."""
        self.generation = generation

    def __repr__(self) -> str:
        return f"<Call {self.correlation_id} generation={self.generation.number}>"


Handler: TypeAlias = Callable[[web.Request, Call], Awaitable[web.StreamResponse]]
"""An endpoint handler: runs only once the pipeline admitted the request."""

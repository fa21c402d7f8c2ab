"""The base of the client's call groups (``client.configurations``, ``client.labels``)."""

from __future__ import annotations

from hubassoc._redaction import Redactor
from hubassoc._routes import Routes
from hubassoc._transport import RequestFunction

__all__ = ["CallGroup"]


class CallGroup:
    """A group of calls of one :class:`~hubassoc.AssociationsClient`.

    Built by the client with what its calls need: the client's request
    function (pacing, retries, lifecycle), the routes of its API version, and
    the redactor that keeps secrets out of errors.
    """

    __slots__ = ("_redactor", "_request", "_routes")

    def __init__(self, request: RequestFunction, routes: Routes, redactor: Redactor) -> None:
        self._request = request
        self._routes = routes
        self._redactor = redactor

    def __repr__(self) -> str:
        return f"<{type(self).__name__} api_version={self._routes.api_version!r}>"

"""Where each call goes, for the legacy ``v4`` paths and the date-versioned ones.

HubSpot has two path styles (see ``docs/hubspot.md``): ``/crm/v4/...`` for the
legacy version and ``/crm/associations/{V}/...`` or ``/crm/objects/{V}/...``
for date versions. The version is part of the path and nothing else. Every
segment that comes from a caller is validated beforehand and percent-encoded
here all the same.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from hubassoc._validation import check_api_version, path_segment

__all__ = ["RouteTemplates", "Routes"]

ConfigurationAction = Literal["create", "update", "purge"]


class RouteTemplates(NamedTuple):
    """Path templates of one API version (placeholders instead of types and ids)."""

    batch_associate_default: str
    put_default: str
    configurations_all: str
    configurations: str
    configurations_batch: str


class Routes:
    """The paths of every call in scope, for one API version.

    Raises:
        ValueError: ``api_version`` is not ``"v4"`` or ``"YYYY-MM"``.
    """

    __slots__ = (
        "_associations",
        "_batch_cache",
        "_configurations",
        "_objects",
        "api_version",
        "templates",
    )

    def __init__(self, api_version: str) -> None:
        self.api_version = check_api_version(api_version)
        if api_version == "v4":
            self._associations = "/crm/v4/associations"
            self._objects = "/crm/v4/objects"
            self._configurations = "/crm/associations/v4/definitions/configurations"
        else:
            self._associations = f"/crm/associations/{api_version}"
            self._objects = f"/crm/objects/{api_version}"
            self._configurations = f"/crm/associations/{api_version}/definitions/configurations"
        # The batch path is asked for once per request: keep it per type pair.
        self._batch_cache: dict[tuple[str, str], str] = {}
        #: Each call's path with its variable segments as placeholders: what
        #: events, metrics, spans and logs name a request by (never ids).
        self.templates = RouteTemplates(
            batch_associate_default=(
                f"{self._associations}/{{fromObjectType}}/{{toObjectType}}/batch/associate/default"
            ),
            put_default=(
                f"{self._objects}/{{fromObjectType}}/{{fromObjectId}}/associations/default"
                "/{toObjectType}/{toObjectId}"
            ),
            configurations_all=f"{self._configurations}/all",
            configurations=f"{self._configurations}/{{fromObjectType}}/{{toObjectType}}",
            configurations_batch=(
                f"{self._configurations}/{{fromObjectType}}/{{toObjectType}}/batch/{{action}}"
            ),
        )

    def __repr__(self) -> str:
        return f"Routes(api_version={self.api_version!r})"

    def batch_associate_default(self, from_type: str, to_type: str) -> str:
        """``POST`` path of ``batch/associate/default`` (types already validated)."""
        key = (from_type, to_type)
        path = self._batch_cache.get(key)
        if path is None:
            path = (
                f"{self._associations}/{path_segment(from_type)}/{path_segment(to_type)}"
                "/batch/associate/default"
            )
            self._batch_cache[key] = path
        return path

    def put_default(self, from_type: str, from_id: str, to_type: str, to_id: str) -> str:
        """``PUT`` path of the single default association."""
        return (
            f"{self._objects}/{path_segment(from_type)}/{path_segment(from_id)}"
            f"/associations/default/{path_segment(to_type)}/{path_segment(to_id)}"
        )

    def configurations_all(self) -> str:
        """``GET`` path listing every limit configuration."""
        return f"{self._configurations}/all"

    def configurations(self, from_type: str, to_type: str) -> str:
        """``GET`` path of the limit configurations between two object types."""
        return f"{self._configurations}/{path_segment(from_type)}/{path_segment(to_type)}"

    def configurations_batch(
        self, from_type: str, to_type: str, action: ConfigurationAction
    ) -> str:
        """``POST`` path of a configuration batch ``create``, ``update`` or ``purge``."""
        return f"{self.configurations(from_type, to_type)}/batch/{action}"

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
#: The association batch operations, by the path that follows ``batch/``.
BatchAction = Literal["associate/default", "create", "archive", "labels/archive", "read"]


class RouteTemplates(NamedTuple):
    """Path templates of one API version (placeholders instead of types and ids)."""

    batch_associate_default: str
    put_default: str
    configurations_all: str
    configurations: str
    configurations_batch: str
    batch_create: str
    batch_archive: str
    batch_labels_archive: str
    batch_read: str
    put_labelled: str
    delete: str
    list_associations: str
    labels: str
    label: str
    high_usage_report: str


class Routes:
    """The paths of every call in scope, for one API version.

    Raises:
        ValueError: ``api_version`` is not ``"v4"`` or ``"YYYY-MM"``.
    """

    __slots__ = (
        "_associations",
        "_batch_cache",
        "_configurations",
        "_labels",
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
            # Label definitions sit beside the configurations, on every version.
            self._labels = "/crm/associations/v4"
        else:
            self._associations = f"/crm/associations/{api_version}"
            self._objects = f"/crm/objects/{api_version}"
            self._configurations = f"/crm/associations/{api_version}/definitions/configurations"
            self._labels = self._associations
        # A batch path is asked for once per request: keep it per type pair and action.
        self._batch_cache: dict[tuple[str, str, BatchAction], str] = {}
        batch = f"{self._associations}/{{fromObjectType}}/{{toObjectType}}/batch"
        pair = (
            f"{self._objects}/{{fromObjectType}}/{{fromObjectId}}/associations"
            "/{toObjectType}/{toObjectId}"
        )
        labels = f"{self._labels}/{{fromObjectType}}/{{toObjectType}}/labels"
        #: Each call's path with its variable segments as placeholders: what
        #: events, metrics, spans and logs name a request by (never ids).
        self.templates = RouteTemplates(
            batch_associate_default=f"{batch}/associate/default",
            put_default=(
                f"{self._objects}/{{fromObjectType}}/{{fromObjectId}}/associations/default"
                "/{toObjectType}/{toObjectId}"
            ),
            configurations_all=f"{self._configurations}/all",
            configurations=f"{self._configurations}/{{fromObjectType}}/{{toObjectType}}",
            configurations_batch=(
                f"{self._configurations}/{{fromObjectType}}/{{toObjectType}}/batch/{{action}}"
            ),
            batch_create=f"{batch}/create",
            batch_archive=f"{batch}/archive",
            batch_labels_archive=f"{batch}/labels/archive",
            batch_read=f"{batch}/read",
            put_labelled=pair,
            delete=pair,
            list_associations=(
                f"{self._objects}/{{objectType}}/{{objectId}}/associations/{{toObjectType}}"
            ),
            labels=labels,
            label=f"{labels}/{{associationTypeId}}",
            high_usage_report=f"{self._associations}/usage/high-usage-report/{{userId}}",
        )

    def __repr__(self) -> str:
        return f"Routes(api_version={self.api_version!r})"

    @property
    def has_list_associations(self) -> bool:
        """Whether this version has the per-record ``GET`` (gone from ``2026-09`` on)."""
        return self.api_version == "v4" or self.api_version < "2026-09"

    def batch(self, from_type: str, to_type: str, action: BatchAction) -> str:
        """``POST`` path of the association batch ``action`` between two object types."""
        key = (from_type, to_type, action)
        path = self._batch_cache.get(key)
        if path is None:
            path = (
                f"{self._associations}/{path_segment(from_type)}/{path_segment(to_type)}"
                f"/batch/{action}"
            )
            self._batch_cache[key] = path
        return path

    def batch_associate_default(self, from_type: str, to_type: str) -> str:
        """``POST`` path of ``batch/associate/default`` (types already validated)."""
        return self.batch(from_type, to_type, "associate/default")

    def batch_create(self, from_type: str, to_type: str) -> str:
        """``POST`` path of ``batch/create`` (labelled associations)."""
        return self.batch(from_type, to_type, "create")

    def batch_archive(self, from_type: str, to_type: str) -> str:
        """``POST`` path of ``batch/archive`` (every type between the pairs)."""
        return self.batch(from_type, to_type, "archive")

    def batch_labels_archive(self, from_type: str, to_type: str) -> str:
        """``POST`` path of ``batch/labels/archive`` (the named types only)."""
        return self.batch(from_type, to_type, "labels/archive")

    def batch_read(self, from_type: str, to_type: str) -> str:
        """``POST`` path of ``batch/read``."""
        return self.batch(from_type, to_type, "read")

    def put_labelled(self, from_type: str, from_id: str, to_type: str, to_id: str) -> str:
        """``PUT`` path of a labelled single association (also its ``DELETE`` path)."""
        return (
            f"{self._objects}/{path_segment(from_type)}/{path_segment(from_id)}"
            f"/associations/{path_segment(to_type)}/{path_segment(to_id)}"
        )

    def delete(self, from_type: str, from_id: str, to_type: str, to_id: str) -> str:
        """``DELETE`` path removing every association between two records."""
        return self.put_labelled(from_type, from_id, to_type, to_id)

    def list_associations(
        self, from_type: str, from_id: str, to_type: str, *, limit: int, after: str | None = None
    ) -> str:
        """``GET`` path (with its query) of one page of a record's associations."""
        path = (
            f"{self._objects}/{path_segment(from_type)}/{path_segment(from_id)}"
            f"/associations/{path_segment(to_type)}?limit={limit}"
        )
        return path if after is None else f"{path}&after={path_segment(after)}"

    def labels(self, from_type: str, to_type: str) -> str:
        """``GET``/``POST``/``PUT`` path of the label definitions between two object types."""
        return f"{self._labels}/{path_segment(from_type)}/{path_segment(to_type)}/labels"

    def label(self, from_type: str, to_type: str, type_id: int) -> str:
        """``DELETE`` path of one label definition."""
        return f"{self.labels(from_type, to_type)}/{int(type_id)}"

    def high_usage_report(self, user_id: int) -> str:
        """``POST`` path asking for a high-usage report for one user."""
        return f"{self._associations}/usage/high-usage-report/{int(user_id)}"

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

"""Association label definitions: the named association types between two object types.

Reached as ``client.labels``. A label is an association type (``USER_DEFINED``
with its type id): once defined, it is used like any other type, as an
:class:`~hubassoc.AssociationSpec` in ``types`` arguments
(:attr:`AssociationSpecWithLabel.spec <hubassoc.AssociationSpecWithLabel.spec>`
gives one).
"""

from __future__ import annotations

import builtins

from hubassoc._calls import CallGroup
from hubassoc._errors import DecodingError
from hubassoc._models import (
    ENCODER,
    LABEL_COLLECTION_DECODER,
    AssociationSpecWithLabel,
    PublicAssociationDefinitionCreateRequest,
    PublicAssociationDefinitionUpdateRequest,
    decode,
)
from hubassoc._transport import Response
from hubassoc._validation import check_type_pair

__all__ = ["Labels"]

_INT32_MAX = 2**31 - 1


def _text(value: object, argument: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, not {type(value).__name__}: {value!r}")
    if not value.strip():
        raise ValueError(f"{argument} {value!r} is empty")
    return str(value)  # a str subclass becomes its plain text


def _optional_text(value: object, argument: str) -> str | None:
    return None if value is None else _text(value, argument)


def _type_id(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"type_id must be an int, not {type(value).__name__}: {value!r}")
    if not 0 <= value <= _INT32_MAX:
        raise ValueError(f"type_id {value!r} is not an int from 0 to 2**31-1")
    return value


class Labels(CallGroup):
    """The label-definition calls of one :class:`~hubassoc.AssociationsClient`."""

    __slots__ = ()

    def _path(self, from_type: object, to_type: object) -> str:
        return self._routes.labels(*check_type_pair(from_type, to_type))

    def _decode(self, response: Response) -> builtins.list[AssociationSpecWithLabel]:
        try:
            return decode(LABEL_COLLECTION_DECODER, response.body, status=response.status).results
        except DecodingError as exc:
            self._redactor.scrub(exc)
            raise

    async def list(self, from_type: str, to_type: str) -> builtins.list[AssociationSpecWithLabel]:
        """Every association type from ``from_type`` to ``to_type``: defaults and labels.

        Raises:
            ValueError, TypeError: an object type is invalid (nothing is sent).
            DecodingError: the answer is not a list of association types.
            HubSpotError: the call failed (see :mod:`hubassoc._errors`).
        """
        path = self._path(from_type, to_type)
        response = await self._request("GET", path, route=self._routes.templates.labels)
        return self._decode(response)

    async def create(
        self,
        from_type: str,
        to_type: str,
        *,
        label: str,
        name: str,
        inverse_label: str | None = None,
    ) -> builtins.list[AssociationSpecWithLabel]:
        """Define a label between two object types (``inverse_label`` names the way back).

        Returns:
            The association types HubSpot made for it: one per direction,
            each with the type id to use in ``types`` arguments.

        Raises:
            ValueError, TypeError: an object type, ``label``, ``name`` or
                ``inverse_label`` is invalid (nothing is sent).
            DecodingError: the answer is not a list of association types.
            HubSpotError: the call failed, e.g. ``InvalidRequestError`` for a
                name already in use.
        """
        path = self._path(from_type, to_type)
        body = PublicAssociationDefinitionCreateRequest(
            label=_text(label, "label"),
            name=_text(name, "name"),
            inverse_label=_optional_text(inverse_label, "inverse_label"),
        )
        # Not idempotent: a create sent twice defines the label twice or conflicts.
        response = await self._request(
            "POST",
            path,
            route=self._routes.templates.labels,
            body=ENCODER.encode(body),
            idempotent=False,
        )
        return self._decode(response)

    async def update(
        self,
        from_type: str,
        to_type: str,
        type_id: int,
        *,
        label: str,
        inverse_label: str | None = None,
    ) -> None:
        """Rename the label with ``type_id`` (and its inverse, if given).

        Raises:
            ValueError, TypeError: an object type, ``type_id``, ``label`` or
                ``inverse_label`` is invalid (nothing is sent).
            HubSpotError: the call failed, e.g. ``InvalidRequestError`` for an
                unknown type id.
        """
        path = self._path(from_type, to_type)
        body = PublicAssociationDefinitionUpdateRequest(
            association_type_id=_type_id(type_id),
            label=_text(label, "label"),
            inverse_label=_optional_text(inverse_label, "inverse_label"),
        )
        await self._request(
            "PUT", path, route=self._routes.templates.labels, body=ENCODER.encode(body)
        )

    async def delete(self, from_type: str, to_type: str, type_id: int) -> None:
        """Remove the label with ``type_id`` between two object types.

        Raises:
            ValueError, TypeError: an object type or ``type_id`` is invalid
                (nothing is sent).
            HubSpotError: the call failed, e.g. ``InvalidRequestError`` for an
                unknown type id.
        """
        path = self._routes.label(
            *check_type_pair(from_type, to_type),
            _type_id(type_id),
        )
        await self._request("DELETE", path, route=self._routes.templates.label)

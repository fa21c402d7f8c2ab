"""HubSpot's association label definitions: list, create, update, delete.

``GET {L}`` lists the default type and the labels between two object types,
``POST {L}`` creates a label (and its inverse) and lists what it created (200),
``PUT {L}`` renames one (204), ``DELETE {L}/{associationTypeId}`` removes one
and its inverse (204); ``{L}`` is ``/crm/associations/{version}/{from}/{to}/labels``
(and ``/crm/v4/associations/{from}/{to}/labels``, as the official Python SDK
spells v4). An unknown type id is a 404; a second label of the same name, or
changing the ``HUBSPOT_DEFINED`` default type, a 400.
"""

from __future__ import annotations

from aiohttp import web

from ._call import Call
from ._responses import error_response, json_response, path_and_body, path_types, validation_error
from ._state import StateBound
from ._types import default_type_id
from ._wire import decode_label_create, decode_label_update

__all__ = ["LabelEndpoints"]


class LabelEndpoints(StateBound):
    """``.../{from}/{to}/labels`` handlers (`Handler` shaped)."""

    __slots__ = ()

    async def list(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``GET {L}``: ``CollectionResponseAssociationSpecWithLabelNoPaging``."""
        config = self._state.config
        types = path_types(config, request, call)
        if isinstance(types, web.Response):
            return types
        return json_response(config, {"results": call.generation.labels.results(*types)})

    async def create(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST {L}``: a new label (and its inverse); lists the types created."""
        read = await path_and_body(self._state.config, request, call, decode_label_create)
        if isinstance(read, web.Response):
            return read
        types, item = read
        config = self._state.config
        definitions = call.generation.labels
        if not item.label.strip() or not item.name.strip():
            return validation_error(config, call, "label and name must not be empty")
        if definitions.has_name(*types, item.name):
            message = f"An association label named {item.name!r} already exists."
            return validation_error(config, call, message, "name")
        created = definitions.create(*types, item.label, item.name, item.inverse_label)
        return json_response(config, {"results": [d.as_json() for d in created]})

    async def update(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``PUT {L}``: rename a label (and its inverse); 204."""
        read = await path_and_body(self._state.config, request, call, decode_label_update)
        if isinstance(read, web.Response):
            return read
        types, item = read
        refusal = self._refusal(call, types, item.association_type_id)
        if refusal is not None:
            return refusal
        labels = call.generation.labels
        labels.update(*types, item.association_type_id, item.label, item.inverse_label)
        return web.Response(status=204)

    async def delete(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``DELETE {L}/{associationTypeId}``: remove a label and its inverse; 204."""
        config = self._state.config
        types = path_types(config, request, call)
        if isinstance(types, web.Response):
            return types
        text = request.match_info["typeId"]
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            return validation_error(config, call, f"Invalid associationTypeId {text!r}", "typeId")
        refusal = self._refusal(call, types, int(text))
        if refusal is not None:
            return refusal
        call.generation.labels.delete(*types, int(text))
        return web.Response(status=204)

    def _refusal(self, call: Call, types: tuple[str, str], type_id: int) -> web.Response | None:
        """The 400 or 404 for a type id that is not a label between `types`, else ``None``."""
        config = self._state.config
        if type_id == default_type_id(*types):
            message = f"Association type {type_id} is HUBSPOT_DEFINED and cannot be changed."
            return validation_error(config, call, message, "associationTypeId")
        if call.generation.labels.label_of(*types, type_id) is None:
            message = f"No association label with type id {type_id} exists."
            return error_response(config, call, 404, "OBJECT_NOT_FOUND", message)
        return None

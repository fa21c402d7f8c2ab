"""HubSpot's default-associate endpoints: the batch POST and the single PUT.

Both store the HUBSPOT_DEFINED default type in the call's generation and
answer ``BatchResponsePublicDefaultAssociation``. The not-found rule turns
inputs into per-input errors (a 404 for the single PUT); the poison rule fails
the whole call with a 400 that names no input.
"""

from __future__ import annotations

from typing import Final

import msgspec
from aiohttp import web

from ._call import Call
from ._errors import not_found_errors
from ._inputs import pair_inputs, path_pair
from ._responses import (
    batch_envelope,
    batch_too_big,
    json_response,
    path_and_body,
    with_errors,
)
from ._state import StateBound
from ._types import default_type_id
from ._wire import decode_batch_associate, timestamp

__all__ = ["AssociationEndpoints"]

_RESULT_TEMPLATE: Final = (
    '{"from":{"id":"%s"},"to":{"id":"%s"},'
    '"associationSpec":{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":TYPE_ID}}'
)


class AssociationEndpoints(StateBound):
    """``batch/associate/default`` and ``associations/default`` handlers (`Handler` shaped)."""

    __slots__ = ()

    async def batch_associate(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST .../{from}/{to}/batch/associate/default``."""
        started = timestamp()
        state = self._state
        read = await path_and_body(state.config, request, call, decode_batch_associate)
        if isinstance(read, web.Response):
            return read
        types, batch = read
        config = state.config  # options may have changed while the body was read
        generation = call.generation
        counts = generation.counts
        inputs = batch.inputs
        size = len(inputs)
        counts.batch_sizes[size] += 1
        counts.pairs_received += size
        too_big = batch_too_big(config, call, size, config.max_batch_size)
        if too_big is not None:
            return too_big
        checked = pair_inputs(
            state,
            call,
            types,
            ([item.from_.id for item in inputs], [item.to.id for item in inputs]),
            lambda side, index: f"inputs[{index}].{side}.id",
        )
        if isinstance(checked, web.Response):
            return checked
        sends = generation.store.sends
        if sends is not None:
            sends.update([(*types, key) for key in checked.sent])
        created = generation.store.type_pair(*types).add(checked.keys)
        counts.pairs_created += created
        counts.pairs_duplicate += len(checked.keys) - created
        rows = list(zip(checked.from_texts, checked.to_texts, strict=True))
        if config.shuffle_results:
            generation.rng.shuffle(rows)
        body = batch_envelope(call, [], started)
        type_id = default_type_id(*types)
        if config.extra_fields:
            spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
            body["results"] = [
                {"from": {"id": f}, "to": {"id": t}, "associationSpec": spec} for f, t in rows
            ]
        else:
            # Ids are canonical digit strings, so they need no JSON escaping.
            template = _RESULT_TEMPLATE.replace("TYPE_ID", str(type_id))
            body["results"] = msgspec.Raw(
                ("[" + ",".join([template % row for row in rows]) + "]").encode()
            )
        if checked.failed:
            with_errors(body, not_found_errors(config, *types, checked.failed))
        return json_response(config, body)

    async def single_associate(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``PUT .../{from}/{fromId}/associations/default/{to}/{toId}``."""
        started = timestamp()
        state = self._state
        config = state.config
        target = path_pair(state, request, call, default_associate=True)
        if isinstance(target, web.Response):
            return target
        types, (from_id, to_id) = target
        counts = call.generation.counts
        if call.generation.store.type_pair(*types).add([from_id << 64 | to_id]):
            counts.pairs_created += 1
        else:
            counts.pairs_duplicate += 1
        spec = {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": default_type_id(*types),
        }
        result = {"from": {"id": str(from_id)}, "to": {"id": str(to_id)}, "associationSpec": spec}
        return json_response(config, batch_envelope(call, [result], started))

"""HubSpot's association writes beyond the default type: labelled creates and removals.

``batch/create`` and the labelled ``PUT`` add the given types to each pair
(and the default type, which every associated pair carries) and answer
``LabelsBetweenObjectPair`` per pair; ``batch/archive`` and ``DELETE`` remove
every type between two records; ``batch/labels/archive`` removes only the
types named (the default type takes the whole pair, labels included). A pair
that was not associated is not an error. Associations go both ways (see
`Links`): removals reach a pair stored in the other direction too. Statuses per version: a create
answers 201 (207 with errors) on ``v4``/``2026-03`` and 200 on ``2026-09``; an
archive 204 with no body on ``v4``, a ``BatchResponse`` on ``2026-03`` and a
``BatchResponseVoid`` on ``2026-09`` (both 200, errors in the body; a ``v4``
archive cannot name inputs the not-found rule refused). Type ids
are not checked against the label definitions (a type without one is stored
and read back without a label).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from aiohttp import web

from ._call import Call
from ._config import SandboxConfig
from ._errors import not_found_errors
from ._inputs import PairInputs, pair_inputs, path_pair
from ._links import Links
from ._responses import batch_envelope, batch_inputs, json_response, validation_error, with_errors
from ._state import StateBound
from ._versions import request_profile, write_status
from ._wire import (
    AssociationSpec,
    TypedInput,
    decode_archive_inputs,
    decode_specs,
    decode_typed_inputs,
    timestamp,
)

__all__ = ["WriteEndpoints", "object_id"]

_LOW = (1 << 64) - 1


def object_id(config: SandboxConfig, record_id: int) -> str | int:
    """A record id as answers write it: a string, or a number with ``numeric_object_ids``."""
    return record_id if config.numeric_object_ids else str(record_id)


def _where(side: str, index: int) -> str:
    return f"inputs[{index}].{side}.id"


class WriteEndpoints(StateBound):
    """``batch/create``, ``batch/archive``, ``batch/labels/archive``, labelled PUT, DELETE."""

    __slots__ = ()

    async def batch_create(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST {A}/{from}/{to}/batch/create``: add types to pairs."""
        started = timestamp()
        read = await self._typed(request, call)
        if isinstance(read, web.Response):
            return read
        types, inputs, checked = read
        config = self._state.config
        links = call.generation.links(types)
        results = []
        for index, key in zip(checked.kept, checked.keys, strict=True):
            links.forward.add_types(key, [spec.key for spec in inputs[index].types], links.default)
            results.append(self._labels_between(links, key))
        if config.shuffle_results:
            call.generation.rng.shuffle(results)
        body = batch_envelope(call, results, started)
        if checked.failed:
            with_errors(body, not_found_errors(config, *types, checked.failed))
        status = write_status(request_profile(request), errors=bool(checked.failed), success=201)
        return json_response(config, body, status)

    async def batch_labels_archive(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST {A}/{from}/{to}/batch/labels/archive``: remove the named types from pairs."""
        started = timestamp()
        read = await self._typed(request, call)
        if isinstance(read, web.Response):
            return read
        types, inputs, checked = read
        links = call.generation.links(types)
        counts = call.generation.counts
        for index, key in zip(checked.kept, checked.keys, strict=True):
            gone = [spec.key for spec in inputs[index].types]
            if links.remove_types(key >> 64, key & _LOW, gone) and links.default in gone:
                counts.pairs_archived += 1
        return self._void(request, call, types, checked, started)

    async def batch_archive(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST {A}/{from}/{to}/batch/archive``: remove every type between records."""
        started = timestamp()
        state = self._state
        config = state.config
        read = await batch_inputs(
            config, request, call, decode_archive_inputs, config.max_batch_size
        )
        if isinstance(read, web.Response):
            return read
        types, inputs = read
        owners = [
            (index, place) for index, item in enumerate(inputs) for place in range(len(item.to))
        ]
        from_raw = [inputs[index].from_.id for index, _ in owners]
        to_raw = [inputs[index].to[place].id for index, place in owners]

        def where(side: str, pair: int) -> str:
            index, place = owners[pair]
            return (
                f"inputs[{index}].from.id" if side == "from" else f"inputs[{index}].to[{place}].id"
            )

        checked = pair_inputs(state, call, types, (from_raw, to_raw), where)
        if isinstance(checked, web.Response):
            return checked
        links = call.generation.links(types)
        call.generation.counts.pairs_archived += sum(
            links.remove(key >> 64, key & _LOW) for key in checked.keys
        )
        return self._void(request, call, types, checked, started)

    async def put_labelled(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``PUT {O}/{from}/{fromId}/associations/{to}/{toId}``: add types to one pair (201)."""
        state = self._state
        target = path_pair(state, request, call)
        if isinstance(target, web.Response):
            return target
        types, (from_id, to_id) = target
        config = state.config
        try:
            specs: list[AssociationSpec] = decode_specs(await request.read())
        except msgspec.DecodeError as exc:
            return validation_error(config, call, f"Invalid input JSON: {exc}")
        if not specs:
            return validation_error(config, call, "Invalid input: give at least one type", "body")
        links = call.generation.links(types)
        key = from_id << 64 | to_id
        links.forward.add_types(key, [spec.key for spec in specs], links.default)
        return json_response(config, self._labels_between(links, key), 201)

    async def delete(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``DELETE {O}/{from}/{fromId}/associations/{to}/{toId}``: remove one pair (204)."""
        target = path_pair(self._state, request, call)
        if isinstance(target, web.Response):
            return target
        types, (from_id, to_id) = target
        call.generation.counts.pairs_archived += call.generation.links(types).remove(from_id, to_id)
        return web.Response(status=204)

    # -- shared parts ------------------------------------------------------------

    async def _typed(
        self, request: web.Request, call: Call
    ) -> tuple[tuple[str, str], Sequence[TypedInput], PairInputs] | web.Response:
        """The types, inputs and checked pairs of a create or labels archive body."""
        state = self._state
        config = state.config
        read = await batch_inputs(config, request, call, decode_typed_inputs, config.max_batch_size)
        if isinstance(read, web.Response):
            return read
        types, inputs = read
        ids = ([item.from_.id for item in inputs], [item.to.id for item in inputs])
        checked = pair_inputs(state, call, types, ids, _where)
        if isinstance(checked, web.Response):
            return checked
        return types, inputs, checked

    def _labels_between(self, links: Links, key: int) -> dict[str, Any]:
        """``LabelsBetweenObjectPair`` of one associated pair: the label texts of its types."""
        config = self._state.config
        from_id, to_id = key >> 64, key & _LOW
        labels = [
            label
            for _, type_id in links.types_of(from_id, to_id)
            if (label := links.label_of(type_id)) is not None
        ]
        return {
            "fromObjectTypeId": links.from_type,
            "fromObjectId": object_id(config, from_id),
            "toObjectTypeId": links.to_type,
            "toObjectId": object_id(config, to_id),
            "labels": labels,
        }

    def _void(
        self,
        request: web.Request,
        call: Call,
        types: tuple[str, str],
        checked: PairInputs,
        started: str,
    ) -> web.StreamResponse:
        """An archive's answer: 204 on ``v4``, else a batch answer listing only errors."""
        if request_profile(request) == "v4":
            return web.Response(status=204)
        config = self._state.config
        body = batch_envelope(call, [], started)
        if checked.failed:
            with_errors(body, not_found_errors(config, *types, checked.failed))
        return json_response(config, body)

"""HubSpot's default-associate endpoints: the batch POST and the single PUT.

Both store unlabelled (HUBSPOT_DEFINED) associations in the call's generation
and answer ``BatchResponsePublicDefaultAssociation``. The not-found rule turns
inputs into per-input errors (a 404 for the single PUT); the poison rule fails
the whole call with a 400 that names no input.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from aiohttp import web

from ._call import Call
from ._responses import (
    batch_envelope,
    error_response,
    json_response,
    path_and_body,
    path_types,
    validation_error,
    with_errors,
)
from ._state import StateBound
from ._store import pack_pair
from ._types import canonical_ids, default_type_id, parse_record_id, type_label
from ._wire import decode_batch_associate, standard_error, timestamp

__all__ = ["AssociationEndpoints"]

_NOT_FOUND_SUB: Final = "crm.associations.OBJECT_NOT_FOUND"
_RESULT_TEMPLATE: Final = (
    '{"from":{"id":"%s"},"to":{"id":"%s"},'
    '"associationSpec":{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":TYPE_ID}}'
)
_POISON_MESSAGE: Final = "Invalid input: the request could not be processed"


class AssociationEndpoints(StateBound):
    """``batch/associate/default`` and ``associations/default`` handlers (`Handler` shaped)."""

    __slots__ = ()

    async def batch_associate(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST .../{from}/{to}/batch/associate/default``."""
        # The common case runs in C (regex over joined ids, map, set.update, one
        # %-format per result); per-pair Python only when a rule actually hits.
        started = timestamp()
        state = self._state
        read = await path_and_body(state.config, request, call, decode_batch_associate)
        if isinstance(read, web.Response):
            return read
        (from_type, to_type), batch = read
        config = state.config  # options may have changed while the body was read
        generation = call.generation
        counts = generation.counts
        inputs = batch.inputs
        size = len(inputs)
        counts.batch_sizes[size] += 1
        counts.pairs_received += size
        limit = config.max_batch_size
        if limit is not None and size > limit:
            return validation_error(
                config, call, f"Batch input size of {size} exceeds the maximum of {limit} inputs."
            )
        from_texts = canonical_ids([item.from_.id for item in inputs])
        if isinstance(from_texts, int):
            return self._bad_id(call, inputs[from_texts].from_.id, f"inputs[{from_texts}].from.id")
        to_texts = canonical_ids([item.to.id for item in inputs])
        if isinstance(to_texts, int):
            return self._bad_id(call, inputs[to_texts].to.id, f"inputs[{to_texts}].to.id")
        from_ids = list(map(int, from_texts))
        to_ids = list(map(int, to_texts))
        poison = state.poison
        if poison and (poison.hits(from_type, from_ids) or poison.hits(to_type, to_ids)):
            counts.batches_poisoned += 1
            return error_response(config, call, 400, "VALIDATION_ERROR", _POISON_MESSAGE)
        keys = [f << 64 | t for f, t in zip(from_ids, to_ids, strict=True)]
        sends = generation.store.sends
        if sends is not None:
            sends.update([(from_type, to_type, key) for key in keys])
        failed: list[tuple[str | None, str | None]] = []
        not_found = state.not_found
        if not_found and (not_found.hits(from_type, from_ids) or not_found.hits(to_type, to_ids)):
            missing_from = not_found.ids_for(from_type)
            missing_to = not_found.ids_for(to_type)
            keep: list[int] = []
            for index, (f, t) in enumerate(zip(from_ids, to_ids, strict=True)):
                f_missing = f in missing_from
                t_missing = t in missing_to
                if f_missing or t_missing:
                    failed.append(
                        (
                            from_texts[index] if f_missing else None,
                            to_texts[index] if t_missing else None,
                        )
                    )
                else:
                    keep.append(index)
            from_texts = [from_texts[i] for i in keep]
            to_texts = [to_texts[i] for i in keep]
            keys = [keys[i] for i in keep]
            counts.pairs_not_found += len(failed)
        pairs = generation.store.bucket(from_type, to_type)
        before = len(pairs)
        pairs.update(keys)
        created = len(pairs) - before
        counts.pairs_created += created
        counts.pairs_duplicate += len(keys) - created
        rows = list(zip(from_texts, to_texts, strict=True))
        if config.shuffle_results:
            generation.rng.shuffle(rows)
        body = batch_envelope(call, [], started)
        type_id = default_type_id(from_type, to_type)
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
        if failed:
            with_errors(body, self._not_found_errors(from_type, to_type, failed))
        return json_response(config, body)

    async def single_associate(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``PUT .../{from}/{fromId}/associations/default/{to}/{toId}``."""
        started = timestamp()
        state = self._state
        config = state.config
        types = path_types(config, request, call)
        if isinstance(types, web.Response):
            return types
        from_type, to_type = types
        from_text = request.match_info["fromId"]
        to_text = request.match_info["toId"]
        from_id = parse_record_id(from_text)
        if from_id is None:
            return self._bad_id(call, from_text, "fromObjectId")
        to_id = parse_record_id(to_text)
        if to_id is None:
            return self._bad_id(call, to_text, "toObjectId")
        from_text, to_text = str(from_id), str(to_id)
        generation = call.generation
        counts = generation.counts
        counts.pairs_received += 1
        poison = state.poison
        if poison.matches(from_type, from_id) or poison.matches(to_type, to_id):
            counts.batches_poisoned += 1
            return error_response(config, call, 400, "VALIDATION_ERROR", _POISON_MESSAGE)
        key = pack_pair(from_id, to_id)
        store = generation.store
        if store.sends is not None:
            store.sends[(from_type, to_type, key)] += 1
        for side, object_type, record_id, text in (
            ("fromObjectId", from_type, from_id, from_text),
            ("toObjectId", to_type, to_id, to_text),
        ):
            if state.not_found.matches(object_type, record_id):
                counts.pairs_not_found += 1
                return error_response(
                    config,
                    call,
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {type_label(object_type)} with ID {text} exists.",
                    sub_category=_NOT_FOUND_SUB,
                    context={side: [text]},
                )
        pairs = store.bucket(from_type, to_type)
        if key in pairs:
            counts.pairs_duplicate += 1
        else:
            pairs.add(key)
            counts.pairs_created += 1
        spec = {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": default_type_id(from_type, to_type),
        }
        result = {"from": {"id": from_text}, "to": {"id": to_text}, "associationSpec": spec}
        return json_response(config, batch_envelope(call, [result], started))

    def _bad_id(self, call: Call, text: str, where: str) -> web.Response:
        return validation_error(
            self._state.config,
            call,
            f"Invalid input: {where} must be a record id (a decimal int64 string), got {text!r}",
            where,
        )

    def _not_found_errors(
        self, from_type: str, to_type: str, failed: list[tuple[str | None, str | None]]
    ) -> list[Any]:
        as_object = self._state.config.subcategory_object
        style = self._state.config.error_style

        def error(message: str, context: dict[str, list[str]]) -> dict[str, Any]:
            return standard_error(
                "OBJECT_NOT_FOUND",
                message,
                context,
                sub_category=_NOT_FOUND_SUB,
                subcategory_object=as_object,
            )

        if style == "none":
            return [error("One or more associations could not be created.", {})]
        missing_from = list(dict.fromkeys(f for f, _ in failed if f is not None))
        missing_to = list(dict.fromkeys(t for _, t in failed if t is not None))
        if style == "ids":
            ids = list(dict.fromkeys(missing_from + missing_to))
            return [error(f"{len(ids)} object(s) could not be found.", {"ids": ids})]
        errors = [
            error(f"No {type_label(from_type)} with ID {i} exists.", {"fromObjectId": [i]})
            for i in missing_from
        ]
        errors += [
            error(f"No {type_label(to_type)} with ID {i} exists.", {"toObjectId": [i]})
            for i in missing_to
        ]
        return errors

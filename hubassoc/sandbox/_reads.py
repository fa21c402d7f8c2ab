"""HubSpot's association reads: ``batch/read`` and the per-record GET, paged.

Both list, per record, the associated records in ascending id order, each with
every type the pair carries (the default type first; a label's text when the
label is defined). A page holds at most ``read_page_size`` records (the GET's
``limit`` caps it further); when more remain, the answer carries
``paging.next.after`` (the last id of the page) and a ``link``, and asking
again with that ``after`` continues after it, so removals between pages lose
nothing that remains.

``batch/read`` takes at most 1,000 inputs (HubSpot rejects more), answers
200, or 207 with per-input errors on ``v4``/``2026-03`` (200 on ``2026-09``).
A record with no associations is left out of the results, or with the
``no_associations_errors`` option reported as a ``NO_ASSOCIATIONS_FOUND``
error. The per-record GET is not served on ``2026-09`` (its spec has none).

Answers are written as JSON text directly (the common case, records carrying
only the default type, is one %-format per record), and parsed back into
objects only when ``extra_fields`` needs to decorate them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec
from aiohttp import web

from ._call import Call
from ._errors import bad_id, not_found_errors, poisoned
from ._inputs import path_record
from ._links import Links
from ._responses import (
    batch_envelope,
    batch_inputs,
    error_response,
    json_response,
    validation_error,
    with_errors,
)
from ._state import StateBound
from ._types import canonical_ids, parse_record_id, type_label
from ._versions import request_profile, write_status
from ._wire import decode_read_inputs, encode, standard_error, timestamp

__all__ = ["MAX_READ_INPUTS", "ReadEndpoints"]

MAX_READ_INPUTS: Final = 1000
"""Most inputs of one ``batch/read`` (docs/hubspot.md, "Batch size")."""

_NO_ASSOCIATIONS_SUB: Final = "crm.associations.NO_ASSOCIATIONS_FOUND"


class ReadEndpoints(StateBound):
    """``batch/read`` and ``GET {O}/{type}/{id}/associations/{toType}`` handlers."""

    __slots__ = ()

    async def batch_read(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST {A}/{from}/{to}/batch/read``."""
        started = timestamp()
        state = self._state
        config = state.config
        limit = min(MAX_READ_INPUTS, config.max_batch_size or MAX_READ_INPUTS)
        read = await batch_inputs(config, request, call, decode_read_inputs, limit)
        if isinstance(read, web.Response):
            return read
        types, inputs = read
        ids = canonical_ids([item.id for item in inputs])
        if isinstance(ids, int):
            return bad_id(config, call, inputs[ids].id, f"inputs[{ids}].id")
        afters: list[int | None] = []
        for index, item in enumerate(inputs):
            after = None if item.after is None else parse_record_id(item.after)
            if item.after is not None and after is None:
                return bad_id(config, call, item.after, f"inputs[{index}].after")
            afters.append(after)
        record_ids = list(map(int, ids))
        if state.poison and state.poison.hits(types[0], record_ids):
            return poisoned(config, call)
        missing = state.not_found.ids_for(types[0])
        links = call.generation.links(types)
        results: list[str] = []
        failed: list[tuple[str | None, str | None]] = []
        empty: list[str] = []
        for text, record_id, after in zip(ids, record_ids, afters, strict=True):
            if record_id in missing:
                failed.append((text, None))
                continue
            page, more = links.page(record_id, after, config.read_page_size)
            if not page and after is None:
                empty.append(text)
                continue
            paging = self._paging(request, types, record_id, page[-1] if more else None)
            entries = self._entries(links, record_id, page)
            results.append(f'{{"from":{{"id":"{text}"}},"to":[{entries}]{paging}}}')
        call.generation.counts.pairs_not_found += len(failed)
        if config.shuffle_results:
            call.generation.rng.shuffle(results)
        body = batch_envelope(call, self._json("[" + ",".join(results) + "]"), started)
        errors = not_found_errors(config, *types, failed) if failed else []
        if empty and config.no_associations_errors:
            errors += [self._no_associations(types, text) for text in empty]
        with_errors(body, errors)
        status = write_status(request_profile(request), errors=bool(errors), success=200)
        return json_response(config, body, status)

    async def list_associations(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``GET {O}/{type}/{id}/associations/{toType}?after=&limit=`` (not on 2026-09)."""
        state = self._state
        config = state.config
        if request_profile(request) == "2026-09":
            message = f"No route for {request.method} {request.path}"
            return error_response(config, call, 404, "OBJECT_NOT_FOUND", message)
        target = path_record(state, request, call)
        if isinstance(target, web.Response):
            return target
        types, record_id = target
        query = request.query
        after = parse_record_id(query["after"]) if "after" in query else None
        if "after" in query and after is None:
            return bad_id(config, call, query["after"], "after")
        try:
            limit = int(query.get("limit", "500"))
        except ValueError:
            limit = 0
        if limit < 1:
            return validation_error(config, call, "limit must be a positive integer", "limit")
        links = call.generation.links(types)
        page, more = links.page(record_id, after, min(limit, config.read_page_size))
        paging = self._paging(request, types, record_id, page[-1] if more else None)
        entries = self._entries(links, record_id, page)
        return json_response(config, self._json(f'{{"results":[{entries}]{paging}}}'))

    # -- writing answers -----------------------------------------------------------

    def _json(self, text: str) -> Any:
        """JSON text as a value `json_response` writes as is (parsed for ``extra_fields``)."""
        raw = text.encode()
        return msgspec.json.decode(raw) if self._state.config.extra_fields else msgspec.Raw(raw)

    def _entries(self, links: Links, from_id: int, page: Sequence[int]) -> str:
        """``MultiAssociatedObjectWithLabel`` objects of `page`, comma-joined JSON."""
        quote = "" if self._state.config.numeric_object_ids else '"'
        head = f'{{"toObjectId":{quote}%d{quote},"associationTypes":['
        if links.plain():
            category, type_id = links.default
            plain = head + f'{{"category":"{category}","typeId":{type_id}}}]}}'
            return ",".join([plain % to_id for to_id in page])
        parts: list[str] = []
        for to_id in page:
            specs = []
            for category, type_id in links.types_of(from_id, to_id):
                spec: dict[str, Any] = {"category": category, "typeId": type_id}
                label = links.label_of(type_id)
                if label is not None:
                    spec["label"] = label
                specs.append(encode(spec).decode())
            parts.append(head % to_id + ",".join(specs) + "]}")
        return ",".join(parts)

    def _paging(
        self, request: web.Request, types: tuple[str, str], record_id: int, last: int | None
    ) -> str:
        """``,"paging":{...}`` continuing after `last`, or nothing when no page follows."""
        if last is None:
            return ""
        if request.method == "GET":
            link = str(request.url.update_query(after=str(last)))
        else:
            # Where the per-record GET of this record continues (v4 paths serve every version).
            path = f"/crm/v4/objects/{types[0]}/{record_id}/associations/{types[1]}"
            link = str(request.url.with_path(path).with_query(after=str(last)))
        return f',"paging":{{"next":{{"after":"{last}","link":{encode(link).decode()}}}}}'

    def _no_associations(self, types: tuple[str, str], text: str) -> dict[str, Any]:
        return standard_error(
            "OBJECT_NOT_FOUND",
            f"No {type_label(types[1])} is associated with {type_label(types[0])} {text}.",
            {"fromObjectId": [text]},
            sub_category=_NO_ASSOCIATIONS_SUB,
            subcategory_object=self._state.config.subcategory_object,
        )

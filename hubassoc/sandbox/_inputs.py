"""Record ids of a batch's inputs, checked and sorted by the sandbox's id rules.

Every association batch names pairs of records, and every single-record call
names one or two records in its path (`path_pair`, `path_record`). `pair_inputs` turns the id
strings of a batch into canonical ids and ints (or HubSpot's 400 naming the
first one that is no id), applies the poison rule (a whole-call 400) and
splits off the inputs the not-found rule names. The common case (canonical
ids, no rule hit) runs in C: one regex over the joined ids, ``map`` and a set
intersection; per-pair Python only when a rule actually hits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from ._call import Call
from ._errors import bad_id, poisoned, record_not_found
from ._responses import path_types
from ._state import SandboxState
from ._types import canonical_ids, parse_record_id

__all__ = ["PairInputs", "pair_inputs", "path_pair", "path_record"]


@dataclass(slots=True)
class PairInputs:
    """The pairs of a batch that name existing records, and the ones that do not."""

    from_texts: list[str]
    """Canonical from ids of the kept pairs."""
    to_texts: list[str]
    """Canonical to ids of the kept pairs."""
    keys: list[int]
    """The kept pairs, packed (``from_id << 64 | to_id``)."""
    kept: list[int]
    """Index of each kept pair among the batch's pairs."""
    sent: list[int]
    """Every pair of the batch, packed, refused ones included."""
    failed: list[tuple[str | None, str | None]] = field(default_factory=list)
    """``(missing from id or None, missing to id or None)`` per pair refused as not found."""


def pair_inputs(
    state: SandboxState,
    call: Call,
    types: tuple[str, str],
    ids: tuple[list[str], list[str]],
    where: Callable[[str, int], str],
) -> PairInputs | web.Response:
    """Check the pairs ``zip(*ids)`` between the canonical object ``types``.

    `where` names a bad id in a 400: ``where("from" or "to", pair index)``.
    Returns HubSpot's 400 for an id that is no record id, the poison rule's
    400, or the pairs split by the not-found rule (counted as ``pairs_not_found``).
    """
    config = state.config
    from_type, to_type = types
    texts: list[list[str]] = []
    for side, raw in zip(("from", "to"), ids, strict=True):
        canonical = canonical_ids(raw)
        if isinstance(canonical, int):
            return bad_id(config, call, raw[canonical], where(side, canonical))
        texts.append(canonical)
    from_texts, to_texts = texts
    from_ids = list(map(int, from_texts))
    to_ids = list(map(int, to_texts))
    poison = state.poison
    if poison and (poison.hits(from_type, from_ids) or poison.hits(to_type, to_ids)):
        return poisoned(config, call)
    keys = [f << 64 | t for f, t in zip(from_ids, to_ids, strict=True)]
    out = PairInputs(from_texts, to_texts, keys, list(range(len(keys))), keys)
    not_found = state.not_found
    if not_found and (not_found.hits(from_type, from_ids) or not_found.hits(to_type, to_ids)):
        _split_missing(state, types, from_ids, to_ids, out)
        call.generation.counts.pairs_not_found += len(out.failed)
    return out


def _split_missing(
    state: SandboxState,
    types: tuple[str, str],
    from_ids: list[int],
    to_ids: list[int],
    out: PairInputs,
) -> None:
    missing_from = state.not_found.ids_for(types[0])
    missing_to = state.not_found.ids_for(types[1])
    keep: list[int] = []
    for index, (f, t) in enumerate(zip(from_ids, to_ids, strict=True)):
        f_missing = f in missing_from
        t_missing = t in missing_to
        if f_missing or t_missing:
            out.failed.append(
                (
                    out.from_texts[index] if f_missing else None,
                    out.to_texts[index] if t_missing else None,
                )
            )
        else:
            keep.append(index)
    out.from_texts = [out.from_texts[i] for i in keep]
    out.to_texts = [out.to_texts[i] for i in keep]
    out.keys = [out.keys[i] for i in keep]
    out.kept = keep


def path_record(
    state: SandboxState, request: web.Request, call: Call
) -> tuple[tuple[str, str], int] | web.Response:
    """The object types and the record of ``{objectType}/{objectId}/associations/{toObjectType}``.

    Returns HubSpot's 400 for a bad type or id, the poison rule's 400, or the
    404 of a record the not-found rule names.
    """
    config = state.config
    types = path_types(config, request, call)
    if isinstance(types, web.Response):
        return types
    from_type = types[0]
    text = request.match_info["fromId"]
    record_id = parse_record_id(text)
    if record_id is None:
        return bad_id(config, call, text, "objectId")
    if state.poison.matches(from_type, record_id):
        return poisoned(config, call)
    if state.not_found.matches(from_type, record_id):
        call.generation.counts.pairs_not_found += 1
        return record_not_found(config, call, "fromObjectId", from_type, str(record_id))
    return types, record_id


def path_pair(
    state: SandboxState, request: web.Request, call: Call, *, default_associate: bool = False
) -> tuple[tuple[str, str], tuple[int, int]] | web.Response:
    """The object types and records of ``{from}/{fromId}/associations/[default/]{to}/{toId}``.

    Returns HubSpot's 400 for a bad type or id, the poison rule's 400, or the
    404 of a record the not-found rule names (counted as ``pairs_not_found``).
    A `default_associate` call counts the pair as received and as sent (the
    ``track_sends`` option) once its ids are read.
    """
    config = state.config
    types = path_types(config, request, call)
    if isinstance(types, web.Response):
        return types
    ids: list[int] = []
    for name, side in (("fromId", "fromObjectId"), ("toId", "toObjectId")):
        text = request.match_info[name]
        value = parse_record_id(text)
        if value is None:
            return bad_id(config, call, text, side)
        ids.append(value)
    from_id, to_id = ids
    if default_associate:
        call.generation.counts.pairs_received += 1
    if state.poison.matches(types[0], from_id) or state.poison.matches(types[1], to_id):
        return poisoned(config, call)
    sends = call.generation.store.sends
    if default_associate and sends is not None:
        sends[(*types, from_id << 64 | to_id)] += 1
    for side, object_type, record_id in (
        ("fromObjectId", types[0], from_id),
        ("toObjectId", types[1], to_id),
    ):
        if state.not_found.matches(object_type, record_id):
            call.generation.counts.pairs_not_found += 1
            return record_not_found(config, call, side, object_type, str(record_id))
    return types, (from_id, to_id)

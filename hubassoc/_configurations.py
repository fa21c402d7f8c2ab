"""Association limit configurations: how many records one record may be associated with.

Reached as ``client.configurations``. Batch calls answer with a
:class:`~hubassoc.BatchOutcome` keyed by ``(category, type_id)``: a partial
(207) answer gives per-input errors, never an exception for the whole call.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any, Literal, TypeVar

import msgspec

from hubassoc._calls import CallGroup
from hubassoc._errors import HubSpotError
from hubassoc._models import (
    CONFIGURATION_BATCH_DECODER,
    CONFIGURATION_COLLECTION_DECODER,
    CONFIGURATION_UPDATE_BATCH_DECODER,
    ENCODER,
    PURGE_BATCH_DECODER,
    AssociationLimitConfiguration,
    AssociationSpecKey,
    BatchRequest,
    BatchResponse,
    ConfigurationInput,
    ConfigurationUpdateResult,
    decode,
)
from hubassoc._outcome import BatchOutcome, attribute, item_error
from hubassoc._validation import check_type_pair

__all__ = ["ConfigurationKey", "Configurations"]

#: A limit configuration's identity: ``(category, type_id)``.
ConfigurationKey = tuple[str, int]

_CATEGORIES = frozenset({"HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"})
_INT32_MAX = 2**31 - 1

R = TypeVar("R")


def _check_key(category: object, type_id: object, index: int) -> ConfigurationKey:
    if category not in _CATEGORIES:
        raise ValueError(
            f"inputs[{index}].category {category!r} is not one of {sorted(_CATEGORIES)}"
        )
    if type(type_id) is not int or not 0 <= type_id <= _INT32_MAX:
        raise ValueError(f"inputs[{index}].type_id {type_id!r} is not an int from 0 to 2**31-1")
    assert isinstance(category, str)
    return category, type_id


def _check_limit_inputs(inputs: Iterable[ConfigurationInput]) -> list[ConfigurationInput]:
    checked: list[ConfigurationInput] = []
    for index, item in enumerate(_as_list(inputs)):
        if not isinstance(item, ConfigurationInput):
            raise TypeError(
                f"inputs[{index}] must be a ConfigurationInput, not {type(item).__name__}"
            )
        _check_key(item.category, item.type_id, index)
        limit = item.max_to_object_ids
        if type(limit) is not int or not 1 <= limit <= _INT32_MAX:
            raise ValueError(
                f"inputs[{index}].max_to_object_ids {limit!r} is not an int from 1 to 2**31-1"
            )
        checked.append(item)
    return checked


def _as_list(inputs: Iterable[Any]) -> list[Any]:
    if isinstance(inputs, str | bytes) or not isinstance(inputs, Iterable):
        raise TypeError(f"inputs must be an iterable of inputs, not {type(inputs).__name__}")
    items = list(inputs)
    if not items:
        raise ValueError("inputs is empty: a batch needs at least one input")
    return items


def _key_sides(key: ConfigurationKey) -> tuple[str, str | None]:
    return str(key[1]), None


class Configurations(CallGroup):
    """The limit-configuration calls of one :class:`~hubassoc.AssociationsClient`."""

    __slots__ = ()

    def _outcome(
        self,
        keys: builtins.list[ConfigurationKey],
        results: dict[ConfigurationKey, R],
        errors: dict[ConfigurationKey, HubSpotError],
    ) -> BatchOutcome[ConfigurationKey, R]:
        for error in errors.values():
            self._redactor.scrub(error)
        return BatchOutcome(keys, results, errors)

    async def list(self) -> list[AssociationLimitConfiguration]:
        """Every limit configuration of the account.

        Raises:
            HubSpotError: see :mod:`hubassoc._errors`.
        """
        response = await self._request(
            "GET",
            self._routes.configurations_all(),
            route=self._routes.templates.configurations_all,
        )
        return decode(
            CONFIGURATION_COLLECTION_DECODER, response.body, status=response.status
        ).results

    async def get(
        self, from_type: str, to_type: str
    ) -> builtins.list[AssociationLimitConfiguration]:
        """The limit configurations between two object types.

        Raises:
            ValueError, TypeError: an object type is invalid (nothing is sent).
            HubSpotError: see :mod:`hubassoc._errors`.
        """
        from_type, to_type = check_type_pair(from_type, to_type)
        response = await self._request(
            "GET",
            self._routes.configurations(from_type, to_type),
            route=self._routes.templates.configurations,
        )
        return decode(
            CONFIGURATION_COLLECTION_DECODER, response.body, status=response.status
        ).results

    async def batch_create(
        self, from_type: str, to_type: str, inputs: Iterable[ConfigurationInput]
    ) -> BatchOutcome[ConfigurationKey, AssociationLimitConfiguration]:
        """Create limits; an input whose configuration exists already fails alone.

        Raises:
            ValueError, TypeError: an input or object type is invalid (nothing is sent).
            HubSpotError: the whole call failed.
        """
        # Not idempotent: a create sent twice conflicts with itself.
        return await self._limits_batch(
            from_type, to_type, "create", inputs, CONFIGURATION_BATCH_DECODER, idempotent=False
        )

    async def batch_update(
        self, from_type: str, to_type: str, inputs: Iterable[ConfigurationInput]
    ) -> BatchOutcome[ConfigurationKey, ConfigurationUpdateResult]:
        """Change limits; an input with no configuration to update fails alone.

        Raises:
            ValueError, TypeError: an input or object type is invalid (nothing is sent).
            HubSpotError: the whole call failed.
        """
        return await self._limits_batch(
            from_type, to_type, "update", inputs, CONFIGURATION_UPDATE_BATCH_DECODER
        )

    async def batch_purge(
        self,
        from_type: str,
        to_type: str,
        inputs: Iterable[AssociationSpecKey | ConfigurationKey],
    ) -> BatchOutcome[ConfigurationKey, None]:
        """Remove limits, given as :class:`AssociationSpecKey` or ``(category, type_id)``.

        The result of each purged input is ``None``; an input HubSpot could
        not purge gets its error.

        Raises:
            ValueError, TypeError: an input or object type is invalid (nothing is sent).
            HubSpotError: the whole call failed.
        """
        keys: list[ConfigurationKey] = []
        for index, item in enumerate(_as_list(inputs)):
            if isinstance(item, AssociationSpecKey):
                keys.append(_check_key(item.category, item.type_id, index))
            elif isinstance(item, tuple) and len(item) == 2:
                keys.append(_check_key(item[0], item[1], index))
            else:
                raise TypeError(
                    f"inputs[{index}] must be an AssociationSpecKey or (category, type_id), "
                    f"not {item!r}"
                )
        keys = list(dict.fromkeys(keys))
        body = [AssociationSpecKey(category=c, type_id=t) for c, t in keys]
        response = await self._request(
            "POST",
            self._routes.configurations_batch(
                *check_type_pair(from_type, to_type),
                "purge",
            ),
            route=self._routes.templates.configurations_batch,
            batch_size=len(body),
            body=ENCODER.encode(BatchRequest(inputs=body)),
        )
        if not response.body.strip():  # v4 answers 204 with no body
            return BatchOutcome(keys, dict.fromkeys(keys), {})
        answer = decode(PURGE_BATCH_DECODER, response.body, status=response.status)
        # Purge results carry nothing to match on: an input succeeded unless an
        # error names it, or an error that names nobody accounts for results missing.
        correlation_id = response.headers.get("X-HubSpot-Correlation-Id")
        errors: dict[ConfigurationKey, HubSpotError] = {}
        anonymous = None
        for error in answer.errors:
            named = {value for values in error.context.values() for value in values}
            if not named:
                anonymous = anonymous or error
            for key in keys:
                if key not in errors and str(key[1]) in named:
                    errors[key] = item_error(error, key, correlation_id=correlation_id)
        unnamed = [key for key in keys if key not in errors]
        if anonymous is not None and len(answer.results) < len(unnamed):
            for key in unnamed:
                errors[key] = item_error(anonymous, key, correlation_id=correlation_id)
        results = {key: None for key in keys if key not in errors}
        return self._outcome(keys, results, errors)

    async def _limits_batch(
        self,
        from_type: str,
        to_type: str,
        action: Literal["create", "update"],
        inputs: Iterable[ConfigurationInput],
        decoder: msgspec.json.Decoder[BatchResponse[R]],
        *,
        idempotent: bool = True,
    ) -> BatchOutcome[ConfigurationKey, R]:
        """Send a create or update of limits and give each input its result or error."""
        checked = _check_limit_inputs(inputs)
        keys = [(i.category, i.type_id) for i in checked]
        path = self._routes.configurations_batch(*check_type_pair(from_type, to_type), action)
        response = await self._request(
            "POST",
            path,
            route=self._routes.templates.configurations_batch,
            batch_size=len(checked),
            body=ENCODER.encode(BatchRequest(inputs=checked)),
            idempotent=idempotent,
        )
        answer = decode(decoder, response.body, status=response.status)
        by_key: dict[ConfigurationKey, R] = {}
        for result in answer.results:
            by_key[(result.category, result.type_id)] = result  # type: ignore[attr-defined]
        unique = builtins.list(dict.fromkeys(keys))
        results, errors = attribute(
            unique,
            by_key,
            answer.errors,
            sides=_key_sides,
            correlation_id=response.headers.get("X-HubSpot-Correlation-Id"),
        )
        return self._outcome(unique, results, errors)

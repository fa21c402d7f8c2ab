"""HubSpot's association limit-configuration endpoints: list, create, update, purge.

Status codes follow each API version: create answers 201 on ``v4`` and
``2026-03`` (207 with errors), 200 on ``2026-09``; purge answers 204 on ``v4``,
a ``BatchResponse`` on ``2026-03`` and a ``BatchResponseVoid`` on ``2026-09``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._call import Call
from ._responses import batch_envelope, json_response, path_and_body, path_types, with_errors
from ._state import StateBound
from ._versions import request_profile, write_status
from ._wire import decode_config_inputs, decode_spec_inputs, standard_error, timestamp

__all__ = ["ConfigurationEndpoints"]


class ConfigurationEndpoints(StateBound):
    """``definitions/configurations`` handlers (`Handler` shaped)."""

    __slots__ = ()

    async def get(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``GET .../configurations/all`` and ``GET .../configurations/{from}/{to}``."""
        config = self._state.config
        configurations = call.generation.configurations
        if "from" not in request.match_info:
            return json_response(config, {"results": configurations.results()})
        types = path_types(config, request, call)
        if isinstance(types, web.Response):
            return types
        return json_response(config, {"results": configurations.results(*types)})

    async def create(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST .../configurations/{from}/{to}/batch/create``."""
        return await self._write(request, call, create=True)

    async def update(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST .../configurations/{from}/{to}/batch/update``."""
        return await self._write(request, call, create=False)

    async def _write(self, request: web.Request, call: Call, *, create: bool) -> web.StreamResponse:
        started = timestamp()
        read = await path_and_body(self._state.config, request, call, decode_config_inputs)
        if isinstance(read, web.Response):
            return read
        types, inputs = read
        config = self._state.config
        configs = call.generation.configurations.for_pair(*types)
        results: list[Any] = []
        errors: list[Any] = []
        for item in inputs:
            key = (item.category, item.type_id)
            context: dict[str, list[str]] = {
                "category": [item.category],
                "typeId": [str(item.type_id)],
            }
            if create and key in configs:
                errors.append(
                    self._error(
                        "VALIDATION_ERROR",
                        f"A limit configuration for {item.category} type {item.type_id} "
                        "already exists.",
                        context,
                        "crm.associations.CONFIGURATION_ALREADY_EXISTS",
                    )
                )
                continue
            if not create and key not in configs:
                errors.append(self._missing(item.category, item.type_id, context))
                continue
            configs[key] = item.max_to_object_ids
            results.append(
                {
                    "category": item.category,
                    "typeId": item.type_id,
                    "userEnforcedMaxToObjectIds": item.max_to_object_ids,
                }
            )
        body = with_errors(batch_envelope(call, results, started), errors)
        status = write_status(
            request_profile(request), errors=bool(errors), success=201 if create else 200
        )
        return json_response(config, body, status)

    async def purge(self, request: web.Request, call: Call) -> web.StreamResponse:
        """``POST .../configurations/{from}/{to}/batch/purge``."""
        started = timestamp()
        read = await path_and_body(self._state.config, request, call, decode_spec_inputs)
        if isinstance(read, web.Response):
            return read
        types, inputs = read
        configs = call.generation.configurations.for_pair(*types)
        purged: list[Any] = []
        errors: list[Any] = []
        for item in inputs:
            key = (item.category, item.type_id)
            if configs.pop(key, None) is None:
                context = {"category": [item.category], "typeId": [str(item.type_id)]}
                errors.append(self._missing(item.category, item.type_id, context))
            else:
                purged.append({"category": item.category, "typeId": item.type_id})
        profile = request_profile(request)
        if profile == "v4":
            return web.Response(status=204)
        # BatchResponse (2026-03) lists untyped objects: the purged specs. BatchResponseVoid
        # (2026-09) has nothing to list.
        results = purged if profile == "2026-03" else []
        body = with_errors(batch_envelope(call, results, started), errors)
        return json_response(self._state.config, body, 200)

    def _error(
        self, category: str, message: str, context: dict[str, list[str]], sub_category: str
    ) -> dict[str, Any]:
        return standard_error(
            category,
            message,
            context,
            sub_category=sub_category,
            subcategory_object=self._state.config.subcategory_object,
        )

    def _missing(
        self, category: str, type_id: int, context: dict[str, list[str]]
    ) -> dict[str, Any]:
        return self._error(
            "OBJECT_NOT_FOUND",
            f"No limit configuration for {category} type {type_id} exists.",
            context,
            "crm.associations.CONFIGURATION_NOT_FOUND",
        )

"""Validate HTTP answers against HubSpot's OpenAPI specs (a test helper).

`SpecBook` loads every spec in a folder: by default ``tests/schemas/``, the
response schemas of the in-scope operations that ``tests/schemas/extract.py``
took from HubSpot's OpenAPI specs (the full specs load the same way). It finds
the operation a concrete method + path belongs to, and validates a body
against the schema the spec declares for that status (the ``default``
response, HubSpot's ``Error``, for undeclared error statuses). A 2xx status
the spec does not declare fails.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

__all__ = ["SCHEMAS_DIR", "SPEC_NAMES", "SpecBook"]

#: The extracted response schemas, committed with the tests.
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
#: One file per spec: the association calls and the limit configurations, per version.
SPEC_NAMES = tuple(
    f"associations-{kind}{version}.json"
    for kind in ("", "schema-")
    for version in ("v4", "2026-03", "2026-09")
)

# The official SDK calls the limit configurations and the labels under
# /crm/v4/associations/..., legacy aliases of the schema spec's /crm/associations/v4/...
_ALIASES = (
    (re.compile(r"/crm/v4/associations/(definitions/.*)"), r"/crm/associations/v4/\1"),
    (
        re.compile(r"/crm/v4/associations/([^/]+/[^/]+/labels(?:/[^/]+)?)"),
        r"/crm/associations/v4/\1",
    ),
)

_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    # RFC 3339 needs a date, a time and an offset (HubSpot writes "Z").
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    datetime.fromisoformat(value)
    return True


@_FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


@dataclass(frozen=True)
class _Operation:
    spec_name: str
    template: str
    pattern: re.Pattern[str]
    literals: int
    method: str
    responses: dict[str, Any]


class SpecBook:
    """Every operation of the specs in one folder, ready to validate answers."""

    def __init__(self, directory: Path = SCHEMAS_DIR) -> None:
        self.directory = directory
        self._specs: dict[str, dict[str, Any]] = {}
        self._operations: list[_Operation] = []
        for path in sorted(directory.glob("*.json")):
            spec = json.loads(path.read_text(encoding="utf-8"))
            if "paths" not in spec:
                continue
            _patch(spec)
            self._specs[path.name] = spec
            for template, methods in spec["paths"].items():
                regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
                literals = sum(1 for part in template.split("/") if part and "{" not in part)
                for method, operation in methods.items():
                    if not isinstance(operation, dict) or "responses" not in operation:
                        continue
                    self._operations.append(
                        _Operation(
                            path.name,
                            template,
                            re.compile(regex),
                            literals,
                            method.upper(),
                            operation["responses"],
                        )
                    )

    def operations(self, spec_name: str) -> list[tuple[str, str, list[str]]]:
        """``(METHOD, path template, declared statuses)`` of every operation in one spec."""
        return [
            (op.method, op.template, list(op.responses))
            for op in self._operations
            if op.spec_name == spec_name
        ]

    @property
    def spec_names(self) -> list[str]:
        """File names of the loaded specs."""
        return list(self._specs)

    def operation(self, method: str, path: str) -> _Operation:
        """The operation a concrete request belongs to (the most literal match)."""
        path = path.split("?", 1)[0]
        for legacy, current in _ALIASES:
            path = legacy.sub(current, path) if legacy.fullmatch(path) else path
        matches = [
            op
            for op in self._operations
            if op.method == method.upper() and op.pattern.fullmatch(path)
        ]
        if not matches:
            raise AssertionError(f"no spec operation for {method} {path}")
        return max(matches, key=lambda op: op.literals)

    def declared_statuses(self, method: str, path: str) -> set[str]:
        """Status codes (and ``default``) the spec lists for a request."""
        return set(self.operation(method, path).responses)

    def validate(self, method: str, path: str, status: int, body: bytes) -> None:
        """Raise `AssertionError` / `jsonschema.ValidationError` unless `body` fits the spec."""
        operation = self.operation(method, path)
        spec = self._specs[operation.spec_name]
        response = operation.responses.get(str(status))
        if response is None:
            if 200 <= status < 300:
                raise AssertionError(
                    f"{method} {path} answered {status}, which {operation.spec_name} does not "
                    f"declare for {operation.template} (declared: {sorted(operation.responses)})"
                )
            response = operation.responses["default"]
        response = _resolve(spec, response)
        content = response.get("content")
        if not content:
            assert body == b"", f"{status} must have no body, got {body[:200]!r}"
            return
        media = content.get("application/json") or content.get("*/*")
        assert media is not None, f"no JSON content declared for {status}"
        schema = {"$ref": "#/_target", "_target": media["schema"], "components": spec["components"]}
        instance = json.loads(body)
        jsonschema.Draft7Validator(schema, format_checker=_FORMATS).validate(instance)


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _patch(spec: dict[str, Any]) -> None:
    schemas = spec.get("components", {}).get("schemas", {})
    standard = schemas.get("StandardError")
    if standard is not None:
        # The spec types StandardError.subCategory as an object, but HubSpot sends a
        # string (docs/hubspot.md) and so does the sandbox by default; accept both.
        sub = copy.deepcopy(standard["properties"]["subCategory"])
        sub["type"] = ["string", "object"]
        sub.pop("properties", None)
        standard["properties"]["subCategory"] = sub

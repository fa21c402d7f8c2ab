"""Extract the response schemas the spec tests validate against from HubSpot's OpenAPI specs.

Usage::

    python tests/schemas/extract.py /path/to/specs

``/path/to/specs`` holds HubSpot's public OpenAPI specs for the associations
APIs (``associations-v4.json``, ``associations-schema-2026-09.json``, ...).
For each spec, the operations hubassoc calls (every association operation:
default and labelled creates, archives, reads, label definitions, limit
configurations, the high-usage report) are kept with every response they declare
(status -> JSON schema, or no body) and the components those schemas
reference, transitively. Each spec becomes one JSON file beside this script,
of the same name, shaped like a small OpenAPI document (``paths`` and
``components.schemas``), which ``tests/spec_schemas.py`` reads. Request bodies,
descriptions of operations and everything out of scope are left out.

Run it again when HubSpot publishes new specs, and commit the output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def in_scope(template: str) -> bool:
    """Whether an operation at ``template`` is one hubassoc calls: every association
    operation (the object search some specs carry beside them is not one)."""
    return "/associations" in template


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` chains to the node they name (responses only; schemas keep theirs)."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _refs(node: Any, out: set[str]) -> None:
    """Collect the component schema names ``node`` refers to (not transitively)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out.add(ref.removeprefix("#/components/schemas/"))
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def _response(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """One response, its ``$ref`` resolved, reduced to its JSON content's schema."""
    response = _resolve(spec, response)
    content = response.get("content") or {}
    media = content.get("application/json") or content.get("*/*")
    if media is None or "schema" not in media:
        return {}  # no body
    return {"content": {"application/json": {"schema": media["schema"]}}}


def extract(spec: dict[str, Any], source: str) -> dict[str, Any]:
    """The in-scope operations' responses of one spec, with the schemas they reference."""
    paths: dict[str, dict[str, Any]] = {}
    wanted: set[str] = set()
    for template, methods in sorted(spec["paths"].items()):
        if not in_scope(template):
            continue
        for method, operation in sorted(methods.items()):
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = {
                status: _response(spec, response)
                for status, response in operation["responses"].items()
            }
            _refs(responses, wanted)
            paths.setdefault(template, {})[method] = {"responses": responses}
    schemas = spec.get("components", {}).get("schemas", {})
    kept: dict[str, Any] = {}
    pending = sorted(wanted)
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        kept[name] = schemas[name]
        found: set[str] = set()
        _refs(schemas[name], found)
        pending.extend(sorted(found - kept.keys()))
    info = spec.get("info", {})
    return {
        "x-extracted-from": {
            "file": source,
            "title": info.get("title"),
            "version": info.get("version"),
            "by": "tests/schemas/extract.py",
        },
        "paths": paths,
        "components": {"schemas": dict(sorted(kept.items()))},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    written = 0
    for path in sorted(Path(argv[0]).glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        if "paths" not in spec:
            continue
        out = extract(spec, path.name)
        if not out["paths"]:
            continue
        target = HERE / path.name
        target.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        operations = sum(len(methods) for methods in out["paths"].values())
        print(
            f"{target.name}: {operations} operations, {len(out['components']['schemas'])} schemas"
        )
        written += 1
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

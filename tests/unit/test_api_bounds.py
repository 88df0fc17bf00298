"""Every value a client sends the API is bounded in its OpenAPI: text has a length limit (or a pattern, format or
enum), numbers a maximum. A new route with an unbounded field fails here before it can reach the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homecare.backend.app import create_app
from homecare.backend.settings import Settings

BOUNDED_ELSEWHERE = {
    "POST /api/admin/import/residents body",  # CSV files: read no further than MAX_IMPORT_BYTES
    "POST /api/admin/import/devices body",
}


def _unbounded(schema: dict[str, Any], where: str, components: dict[str, Any], seen: frozenset[str]) -> Iterator[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _unbounded(components[name], where, components, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            yield from _unbounded(member, where, components, seen)
    kind = schema.get("type")
    if kind == "string" and not {"maxLength", "pattern", "enum", "format", "const"} & schema.keys():
        yield where
    if kind in ("integer", "number") and not {"maximum", "exclusiveMaximum", "enum", "const"} & schema.keys():
        yield where
    for name, member in schema.get("properties", {}).items():
        yield from _unbounded(member, f"{where}.{name}", components, seen)
    if isinstance(schema.get("items"), dict):
        yield from _unbounded(schema["items"], f"{where}[]", components, seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _unbounded(schema["additionalProperties"], f"{where}{{}}", components, seen)


def test_every_request_field_is_bounded() -> None:
    app = create_app(Settings(_env_file=None, database_url="postgresql://localhost/unused"))
    spec = app.openapi()
    components = spec["components"]["schemas"]
    found = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                found |= set(_unbounded(parameter["schema"], where, components, frozenset()))
            for content in operation.get("requestBody", {}).get("content", {}).values():
                found |= set(_unbounded(content["schema"], f"{method.upper()} {path} body", components, frozenset()))
    assert found == BOUNDED_ELSEWHERE

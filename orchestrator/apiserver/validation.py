"""Schema checks as kube-apiserver makes them: unknown fields (strict decoding, every one listed) and
type and required-field problems (Invalid causes with field paths)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from orchestrator.apiserver.errors import Cause

Schema = dict[str, Any]
_PREFIX = "#/components/schemas/"
_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "object": (dict,), "array": (list,)}


@dataclass
class Findings:
    unknown: list[str] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)


def _resolve(schema: Schema, pool: dict[str, Schema]) -> Schema:
    while True:
        if schema.get("allOf"):
            schema = schema["allOf"][0]
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        schema = pool.get(ref[len(_PREFIX):], {})


def _json_type(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if isinstance(value, _TYPES[name]) and not (name in ("integer", "number") and isinstance(value, bool)):
            return name
    return "null"


def validate(value: Any, schema: Schema, pool: dict[str, Schema], path: str = "",
             found: Findings | None = None) -> Findings:
    found = found if found is not None else Findings()
    schema = _resolve(schema, pool)
    if value is None or schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return found
    if schema.get("x-kubernetes-int-or-string"):
        if _json_type(value) not in ("integer", "string"):
            found.causes.append(Cause(path, f"Invalid value: {_json_type(value)}: must be an integer or a string",
                                      "FieldValueTypeInvalid"))
        return found
    want = schema.get("type")
    got = _json_type(value)
    if isinstance(want, str) and got != want and not (want == "number" and got == "integer"):
        found.causes.append(Cause(path, f'Invalid value: "{got}": {path or "body"} in body must be of type {want}: '
                                        f'"{got}"', "FieldValueTypeInvalid"))
        return found
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in schema.get("required", []):
            if value.get(key) is None:
                found.causes.append(Cause(_join(path, key), "Required value", "FieldValueRequired"))
        for key, sub in value.items():
            child = _join(path, key)
            if props is not None and key in props:
                validate(sub, props[key], pool, child, found)
            elif isinstance(extra, dict):
                validate(sub, extra, pool, child, found)
            elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                found.unknown.append(child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            validate(item, schema["items"], pool, f"{path}[{i}]", found)
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def fill_defaults(value: Any, schema: Schema, pool: dict[str, Schema]) -> None:
    """Structural defaults, as kube-apiserver applies a CRD schema's `default`s (in place)."""
    schema = _resolve(schema, pool)
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            sub = _resolve(sub, pool)
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                fill_defaults(value[key], sub, pool)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            fill_defaults(item, schema["items"], pool)

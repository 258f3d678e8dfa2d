"""PATCH bodies applied on the server: strategic merge patch (built-ins; merge keys and strategies
read from the OpenAPI schemas), JSON merge patch (RFC 7386), JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.apiserver.errors import bad_request

Schema = dict[str, Any]
_PREFIX = "#/components/schemas/"
_ORDER = "$setElementOrder/"
_DELETE_PRIM = "$deleteFromPrimitiveList/"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null deletes, everything else (lists included) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class _Schemas:
    def __init__(self, pool: dict[str, Schema]) -> None:
        self.pool = pool

    def resolve(self, schema: Schema | None) -> Schema:
        while schema:
            if schema.get("allOf"):
                schema = schema["allOf"][0]
            ref = schema.get("$ref") if schema else None
            if not isinstance(ref, str):
                return schema or {}
            schema = self.pool.get(ref[len(_PREFIX):])
        return {}

    def field(self, schema: Schema, key: str) -> Schema:
        props = self.resolve(schema).get("properties") or {}
        sub = props.get(key)
        if sub is None:
            extra = self.resolve(schema).get("additionalProperties")
            return extra if isinstance(extra, dict) else {}
        return dict(sub)


def strategic_merge(original: Any, patch: Any, schema: Schema, pool: dict[str, Schema]) -> Any:
    if not isinstance(patch, dict):
        raise bad_request("the strategic merge patch must be a JSON object")
    return _merge_map(original if isinstance(original, dict) else {}, patch, schema, _Schemas(pool))


def _strategy(field_schema: Schema) -> tuple[list[str], str]:
    strategies = str(field_schema.get("x-kubernetes-patch-strategy", "")).split(",")
    return [s for s in strategies if s], str(field_schema.get("x-kubernetes-patch-merge-key", ""))


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Schema, s: _Schemas) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return None
    result = copy.deepcopy(original)
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith(_ORDER):
            orders[key[len(_ORDER):]] = value if isinstance(value, list) else []
            continue
        if key.startswith(_DELETE_PRIM):
            name = key[len(_DELETE_PRIM):]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        sub = s.field(schema, key)
        current = result.get(key)
        if isinstance(value, dict):
            merged = _merge_map(current if isinstance(current, dict) else {}, value, sub, s)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(current if isinstance(current, list) else [], value, sub, s)
        else:
            result[key] = copy.deepcopy(value)
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _order(result[name], order, _strategy(s.field(schema, name))[1])
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(original: list[Any], patch: list[Any], field_schema: Schema, s: _Schemas) -> list[Any]:
    strategies, merge_key = _strategy(field_schema)
    items_schema = field_schema.get("items") if isinstance(field_schema.get("items"), dict) else {}
    if "merge" not in strategies:
        return _strip(patch)  # type: ignore[no-any-return]
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    if not merge_key:  # a list of primitives merged as a set
        result = copy.deepcopy(original)
        for item in patch:
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(f"the list of {merge_key}-keyed items got a non-object item: {item!r}")
        key = item.get(merge_key)
        index = next((i for i, o in enumerate(result) if isinstance(o, dict) and o.get(merge_key) == key), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(_merge_map({}, item, items_schema or {}, s))
        else:
            result[index] = _merge_map(result[index], item, items_schema or {}, s)
    return result


def _order(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    def key_of(item: Any) -> Any:
        return item.get(merge_key) if merge_key and isinstance(item, dict) else item

    position = {repr(k if not isinstance(k, dict) else k.get(merge_key)): i for i, k in enumerate(order)}
    listed = sorted((it for it in items if repr(key_of(it)) in position), key=lambda it: position[repr(key_of(it))])
    rest = [it for it in items if repr(key_of(it)) not in position]
    return listed + rest


def _strip(value: Any) -> Any:
    """Drop directives left inside a value that replaces wholesale."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return copy.deepcopy(value)

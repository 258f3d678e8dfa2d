"""Component schemas: the built-ins' from Kubernetes 1.37's own definitions (shipped by the
kubernetes-validate package, with x-kubernetes-patch-merge-key/strategy), the custom resources' from
crd_schemas; both in OpenAPI v3 form (#/components/schemas/NAME)."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from orchestrator.apiserver.crd_schemas import crd_schema
from orchestrator.apiserver.registry import Resource

Schema = dict[str, Any]
REF_PREFIX = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_GROUP_PACKAGES = {"": "core", "apps": "apps", "discovery.k8s.io": "discovery",
                   "coordination.k8s.io": "coordination", "events.k8s.io": "events",
                   "autoscaling": "autoscaling"}


def _definitions_file() -> str:
    import kubernetes_validate

    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    return os.path.join(base, "v1.37.0-local", "_definitions.json")


def _convert(node: Any) -> Any:
    """JSON Schema ($defs, nullable type lists) to OpenAPI v3 (components, one type)."""
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "oneOf" in node and {json.dumps(o.get("type")) for o in node["oneOf"]} == {
            '["string", "null"]', '["integer", "null"]'}:
        return {"x-kubernetes-int-or-string": True}
    out: Schema = {}
    for key, value in node.items():
        if key in ("description", "$schema", "$id"):
            continue
        if key == "$ref":
            out["$ref"] = REF_PREFIX + str(value).rsplit("/", 1)[-1]
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out["type"] = types[0] if len(types) == 1 else types
        elif key == "properties":
            out[key] = {k: _convert(v) for k, v in value.items()}
        elif key == "additionalProperties" and value is False:
            continue
        else:
            out[key] = _convert(value)
    return out


@functools.cache
def builtin_definitions() -> dict[str, Schema]:
    with open(_definitions_file(), encoding="utf-8") as handle:
        defs = json.load(handle)["$defs"]
    return {name: _convert(body) for name, body in defs.items()}


def schema_name(r: Resource) -> str:
    if r.builtin:
        return f"io.k8s.api.{_GROUP_PACKAGES[r.group]}.{r.version}.{r.kind}"
    reversed_group = ".".join(reversed(r.group.split(".")))
    return f"{reversed_group}.{r.version}.{r.kind}"


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref[len(REF_PREFIX):])
        for v in node.values():
            _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def closure(roots: list[str], pool: dict[str, Schema]) -> dict[str, Schema]:
    """The named schemas and every schema they refer to."""
    out: dict[str, Schema] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out or name not in pool:
            continue
        out[name] = pool[name]
        found: set[str] = set()
        _refs(pool[name], found)
        todo.extend(found - out.keys())
    return out


def gvk_ext(r: Resource) -> list[dict[str, str]]:
    return [{"group": r.group, "version": r.version, "kind": r.kind}]


def components_for(resources: list[Resource]) -> dict[str, Schema]:
    """Everything a group-version document needs: its kinds, their lists, and what they refer to."""
    builtins = builtin_definitions()
    pool = dict(builtins)
    roots: list[str] = []
    for r in resources:
        name = schema_name(r)
        if not r.builtin:
            body = crd_schema(r.kind, r.version, r.api_version)
            body["x-kubernetes-group-version-kind"] = gvk_ext(r)
            pool[name] = body
            pool[name + "List"] = {
                "type": "object", "required": ["items"],
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                               "items": {"type": "array", "items": {"$ref": REF_PREFIX + name}},
                               "metadata": {"$ref": REF_PREFIX + META + ".ListMeta"}},
                "x-kubernetes-group-version-kind": [{**gvk_ext(r)[0], "kind": r.kind + "List"}]}
        roots += [name, name + "List"]
    roots += [META + ".Status", META + ".DeleteOptions", META + ".Patch", META + ".WatchEvent"]
    if any(r.subresources and "scale" in r.subresources for r in resources):
        roots.append("io.k8s.api.autoscaling.v1.Scale")
    return closure(roots, pool)


@functools.cache
def resource_schema(r: Resource) -> tuple[Schema, dict[str, Schema]]:
    """The kind's own schema and the pool its $refs resolve in (for validation), read-only: made once
    per resource (its closure of $refs made per write was most of a write's time)."""
    comps = components_for([r])
    return comps[schema_name(r)], comps

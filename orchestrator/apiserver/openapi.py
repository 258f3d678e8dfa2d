"""/openapi/v3: the root (one URL per group-version, with a content hash kubectl caches by) and one
document per group-version, whose PATCH operations carry x-kubernetes-group-version-kind, the
fieldValidation parameter and (built-ins only) the strategic merge patch media type."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from orchestrator.apiserver.registry import Resource, group_versions, resources_of
from orchestrator.apiserver.schemas import REF_PREFIX, components_for, schema_name

Obj = dict[str, Any]
PATCH_TYPES_CR = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
PATCH_TYPES = PATCH_TYPES_CR + ["application/strategic-merge-patch+json"]
_QUERY = ["dryRun", "fieldManager", "fieldValidation", "pretty"]


def gv_path(group: str, ver: str) -> str:
    return f"apis/{group}/{ver}" if group else f"api/{ver}"


def _param(name: str, where: str = "query") -> Obj:
    p: Obj = {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}}
    if where == "path":
        p["required"] = True
    return p


def _op(r: Resource, action: str, body: str | None, kind: str | None = None, group: str | None = None,
        version: str | None = None, content: list[str] | None = None) -> Obj:
    gvk = {"group": r.group if group is None else group, "version": version or r.version, "kind": kind or r.kind}
    op: Obj = {"operationId": f"{action}{r.kind}", "x-kubernetes-action": action,
               "x-kubernetes-group-version-kind": gvk,
               "parameters": [_param(q) for q in _QUERY] if body else [],
               "responses": {"200": {"description": "OK", "content": {"application/json": {
                   "schema": {"$ref": REF_PREFIX + (body or schema_name(r))}}}}}}
    if body:
        op["requestBody"] = {"content": {t: {"schema": {"$ref": REF_PREFIX + body}} for t in
                                         (content or ["application/json", "application/yaml"])}}
    return op


def _paths(r: Resource) -> dict[str, Obj]:
    base = "/" + gv_path(r.group, r.version)
    coll = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    name = schema_name(r)
    patch_types = PATCH_TYPES if r.builtin else PATCH_TYPES_CR
    meta_patch = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    paths = {
        coll: {"get": _op(r, "list", None), "post": _op(r, "post", name)},
        f"{coll}/{{name}}": {"get": _op(r, "get", None), "put": _op(r, "put", name),
                             "patch": _op(r, "patch", meta_patch, content=patch_types),
                             "delete": _op(r, "delete", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")},
    }
    if "status" in r.subresources:
        paths[f"{coll}/{{name}}/status"] = {"get": _op(r, "get", None), "put": _op(r, "put", name),
                                            "patch": _op(r, "patch", meta_patch, content=patch_types)}
    if "scale" in r.subresources:
        scale = "io.k8s.api.autoscaling.v1.Scale"
        paths[f"{coll}/{{name}}/scale"] = {
            "get": _op(r, "get", None, "Scale", "autoscaling", "v1"),
            "put": _op(r, "put", scale, "Scale", "autoscaling", "v1"),
            "patch": _op(r, "patch", meta_patch, "Scale", "autoscaling", "v1", patch_types)}
    return paths


@functools.cache
def document(group: str, ver: str) -> tuple[bytes, str]:
    """The group-version's document and its hash."""
    resources = resources_of(group, ver)
    paths: Obj = {}
    for r in resources:
        paths.update(_paths(r))
    doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.37.1"}, "paths": paths,
           "components": {"schemas": components_for(resources)}}
    body = json.dumps(doc, separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest().upper()[:128]


def root() -> Obj:
    return {"paths": {gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{gv_path(g, v)}?hash={document(g, v)[1]}"}
                      for g, v in group_versions()}}


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"  # what kube-openapi answers


def _pb_string(field: int, text: bytes) -> bytes:
    return bytes([field << 3 | 2, len(text)]) + text


# openapi_v2.Document {swagger: "2.0", info: {title: "Kubernetes", version: "v1.37.1"}}, no definitions
V2_EMPTY = _pb_string(1, b"2.0") + _pb_string(2, _pb_string(1, b"Kubernetes") + _pb_string(2, b"v1.37.1"))

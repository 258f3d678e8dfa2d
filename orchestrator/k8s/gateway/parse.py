"""Gateway API documents parsed strictly into typed objects.

The parsers check what the API server checks before storing an object (the CRDs' OpenAPI schema,
defaults and CEL rules). Everything else, e.g. a Passthrough listener that lists certificateRefs, is
accepted here and judged by the controller (reconcile), as on a real cluster.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from orchestrator.errors import ValidationFailed
from orchestrator.k8s.gateway.fields import (
    CONTROLLER_RE,
    GROUP_RE,
    KIND_RE,
    NAMESPACE_RE,
    OBJECT_NAME_RE,
    bad,
    parameters_ref,
)
from orchestrator.k8s.gateway.parse_gateway import gateway
from orchestrator.k8s.gateway.parse_route import tcp_route, tls_route
from orchestrator.k8s.gateway.types import (
    GATEWAY_GROUP,
    GatewayClass,
    GatewayObject,
    ObjectMeta,
    ReferenceGrant,
    ReferenceGrantFrom,
    ReferenceGrantTo,
)
from orchestrator.k8s.kinds import KINDS
from orchestrator.k8s.reader import FieldReader, type_name
from orchestrator.manifests import Document

_KIND_ORDER = ("GatewayClass", "Gateway", "TLSRoute", "TCPRoute", "ReferenceGrant")  # as messages list them
API_VERSIONS: dict[str, tuple[str, ...]] = {
    name: next(k.versions for k in KINDS if k.group == GATEWAY_GROUP and k.kind == name) for name in _KIND_ORDER
}


_TOP = ("apiVersion", "kind", "metadata", "spec", "status")
_META = (
    "name", "namespace", "labels", "annotations", "generation", "creationTimestamp", "uid",
    "resourceVersion", "finalizers", "ownerReferences", "managedFields", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink",
)  # fmt: skip


def parse_gateway_object(doc: dict[str, Any], file: str) -> GatewayObject:
    """Parse one Gateway API document; every problem found is raised at once."""
    r = FieldReader(file)
    obj = _parse(r, doc, check_version=True)
    if r.problems or obj is None:
        raise ValidationFailed(r.problems)
    return obj


def parse_document(doc: Document, r: FieldReader) -> GatewayObject | None:
    """The kinds registry's parser (it has checked the apiVersion already)."""
    return _parse(r, doc.body, check_version=False)


def _parse(r: FieldReader, doc: dict[str, Any], check_version: bool) -> GatewayObject | None:
    top = r.mapping(doc, "", _TOP, required=("apiVersion", "kind", "metadata", "spec"))
    if top is None:
        return None
    kind = top.get("kind")
    api_version = top.get("apiVersion")
    if kind not in API_VERSIONS:
        r.problem("kind", f"unsupported kind {kind!r}", "use one of: " + ", ".join(API_VERSIONS))
        return None
    assert isinstance(kind, str)
    versions = API_VERSIONS[kind]
    group, _, version = str(api_version).rpartition("/")
    if check_version and api_version is not None and (group != GATEWAY_GROUP or version not in versions):
        r.problem(
            "apiVersion",
            f"{api_version!r} does not serve {kind}",
            "use " + " or ".join(f"{GATEWAY_GROUP}/{v}" for v in versions),
        )
    meta = _metadata(r, top.get("metadata"), namespaced=kind != "GatewayClass")
    spec = top.get("spec")
    if spec is None:
        return None
    if kind == "GatewayClass":
        return _gateway_class(r, str(api_version), meta, spec)
    if kind == "Gateway":
        return gateway(r, str(api_version), meta, spec)
    if kind == "TLSRoute":
        return tls_route(r, str(api_version), meta, spec, v1alpha3=version == "v1alpha3")
    if kind == "TCPRoute":
        return tcp_route(r, str(api_version), meta, spec)
    return _reference_grant(r, str(api_version), meta, spec)


def _metadata(r: FieldReader, raw: Any, namespaced: bool) -> ObjectMeta:
    m = r.mapping(raw, "metadata", _META, required=("name",)) if raw is not None else None
    if m is None:
        return ObjectMeta(name="", namespace="default" if namespaced else "")
    name = r.string(m, "name", "metadata", pattern=OBJECT_NAME_RE, max_len=253, what="object name")
    namespace = r.string(m, "namespace", "metadata", pattern=NAMESPACE_RE, max_len=63, what="namespace")
    generation = r.integer(m, "generation", "metadata", minimum=0, maximum=2**63 - 1)
    created = m.get("creationTimestamp")
    if isinstance(created, _dt.datetime):  # a plain yaml.safe_load turns timestamps into datetimes
        created = created.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif created is not None and not isinstance(created, str):
        r.problem("metadata.creationTimestamp", f"must be an RFC 3339 string, got {type_name(created)}")
        created = None
    return ObjectMeta(
        name=name or "",
        namespace=(namespace or "default") if namespaced else "",
        generation=generation if generation is not None else 1,
        creation_timestamp=created,
        labels=r.string_map(m, "labels", "metadata"),
        annotations=r.string_map(m, "annotations", "metadata"),
    )


# ---- GatewayClass ------------------------------------------------------------------------------


def _gateway_class(r: FieldReader, api_version: str, meta: ObjectMeta, raw: Any) -> GatewayClass | None:
    m = r.mapping(raw, "spec", ("controllerName", "parametersRef", "description"), ("controllerName",))
    if m is None:
        return None
    controller = r.string(
        m, "controllerName", "spec", pattern=CONTROLLER_RE, max_len=253, min_len=1,
        what="controller name (DOMAIN/PATH)",
    )  # fmt: skip
    params = parameters_ref(r, m.get("parametersRef"), "spec.parametersRef", namespaced=True)
    description = r.string(m, "description", "spec", max_len=64)
    if controller is None:
        return None
    return GatewayClass(api_version, meta, controller, params, description)


# ---- ReferenceGrant ----------------------------------------------------------------------------


def _reference_grant(r: FieldReader, api_version: str, meta: ObjectMeta, raw: Any) -> ReferenceGrant | None:
    m = r.mapping(raw, "spec", ("from", "to"), ("from", "to"))
    if m is None:
        return None
    froms: list[ReferenceGrantFrom | None] = []
    for i, item in enumerate(r.items(m, "from", "spec", min_items=1, max_items=16)):
        path = f"spec.from[{i}]"
        fm = r.mapping(item, path, ("group", "kind", "namespace"), ("group", "kind", "namespace"))
        if fm is None:
            froms.append(None)
            continue
        group = r.string(fm, "group", path, pattern=GROUP_RE, max_len=253)
        kind = r.string(fm, "kind", path, pattern=KIND_RE, max_len=63, min_len=1)
        namespace = r.string(fm, "namespace", path, pattern=NAMESPACE_RE, max_len=63, min_len=1)
        ok = group is not None and kind is not None and namespace is not None
        froms.append(ReferenceGrantFrom(group or "", kind or "", namespace or "") if ok else None)
    tos: list[ReferenceGrantTo | None] = []
    for i, item in enumerate(r.items(m, "to", "spec", min_items=1, max_items=16)):
        path = f"spec.to[{i}]"
        tm = r.mapping(item, path, ("group", "kind", "name"), ("group", "kind"))
        if tm is None:
            tos.append(None)
            continue
        group = r.string(tm, "group", path, pattern=GROUP_RE, max_len=253)
        kind = r.string(tm, "kind", path, pattern=KIND_RE, max_len=63, min_len=1)
        name = r.string(tm, "name", path, max_len=253, min_len=1)
        ok = group is not None and kind is not None and not bad(tm, {"name": name})
        tos.append(ReferenceGrantTo(group or "", kind or "", name) if ok else None)
    if any(f is None for f in froms) or any(t is None for t in tos):
        return None
    return ReferenceGrant(
        api_version, meta, tuple(f for f in froms if f is not None), tuple(t for t in tos if t is not None)
    )

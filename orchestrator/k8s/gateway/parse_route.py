"""The TLSRoute's and TCPRoute's specs, read strictly: parent and backend references, hostnames, rules."""

from __future__ import annotations

from collections import Counter
from typing import Any

from orchestrator.k8s.gateway.fields import GROUP_RE, KIND_RE, NAMESPACE_RE, SECTION_NAME_RE, bad
from orchestrator.k8s.gateway.hostnames import hostname_value
from orchestrator.k8s.gateway.types import (
    GATEWAY_GROUP,
    BackendRef,
    ObjectMeta,
    ParentReference,
    TCPRoute,
    TLSRoute,
    TLSRouteRule,
)
from orchestrator.k8s.reader import FieldReader


_PARENT_REF = ("group", "kind", "namespace", "name", "sectionName", "port")
_BACKEND_REF = ("group", "kind", "name", "namespace", "port", "weight")


def _parents(r: FieldReader, spec: Any, meta: ObjectMeta) -> list[ParentReference | None]:
    """A route's spec.parentRefs (at most 32), each read and then checked together."""
    parents = [
        _parent_ref(r, item, f"spec.parentRefs[{i}]", meta.namespace)
        for i, item in enumerate(r.items(spec, "parentRefs", "spec", max_items=32))
    ]
    _check_parent_refs(r, parents)
    return parents


def tls_route(
    r: FieldReader, api_version: str, meta: ObjectMeta, raw: Any, v1alpha3: bool
) -> TLSRoute | None:
    required = ("hostnames", "rules") if v1alpha3 else ("rules",)
    m = r.mapping(raw, "spec", ("parentRefs", "hostnames", "rules"), required)
    if m is None:
        return None
    parents = _parents(r, m, meta)
    hostnames = [
        hostname_value(r, item, f"spec.hostnames[{i}]")
        for i, item in enumerate(r.items(m, "hostnames", "spec", min_items=1 if v1alpha3 else 0, max_items=16))
    ]
    rules = [
        _tls_rule(r, item, f"spec.rules[{i}]", meta.namespace)
        for i, item in enumerate(r.items(m, "rules", "spec", min_items=1, max_items=1 if v1alpha3 else 16))
    ]
    rule_names = Counter(rule.name for rule in rules if rule is not None and rule.name is not None)
    for i, rule in enumerate(rules):
        if rule is not None and rule.name is not None and rule_names[rule.name] > 1:
            r.problem(f"spec.rules[{i}].name", "rule name must be unique within the route", "rename it")
    if any(p is None for p in parents) or any(h is None for h in hostnames) or any(x is None for x in rules):
        return None
    return TLSRoute(
        api_version,
        meta,
        tuple(p for p in parents if p is not None),
        tuple(h for h in hostnames if h is not None),
        tuple(x for x in rules if x is not None),
    )


def tcp_route(r: FieldReader, api_version: str, meta: ObjectMeta, raw: Any) -> TCPRoute | None:
    """v1alpha2 TCPRoute: parentRefs and 1-16 rules of backendRefs; no hostnames (TCP has no names)."""
    m = r.mapping(raw, "spec", ("parentRefs", "rules"), ("rules",))
    if m is None:
        return None
    parents = _parents(r, m, meta)
    rules = [
        _tls_rule(r, item, f"spec.rules[{i}]", meta.namespace)
        for i, item in enumerate(r.items(m, "rules", "spec", min_items=1, max_items=16))
    ]
    if any(p is None for p in parents) or any(x is None for x in rules):
        return None
    return TCPRoute(api_version, meta, tuple(p for p in parents if p is not None),
                    tuple(x for x in rules if x is not None))


def _parent_ref(r: FieldReader, raw: Any, path: str, route_namespace: str) -> ParentReference | None:
    m = r.mapping(raw, path, _PARENT_REF, ("name",))
    if m is None:
        return None
    group = r.string(m, "group", path, pattern=GROUP_RE, max_len=253)
    kind = r.string(m, "kind", path, pattern=KIND_RE, max_len=63, min_len=1)
    namespace = r.string(m, "namespace", path, pattern=NAMESPACE_RE, max_len=63, min_len=1, what="namespace")
    name = r.string(m, "name", path, max_len=253, min_len=1)
    section = r.string(m, "sectionName", path, pattern=SECTION_NAME_RE, max_len=253, min_len=1,
                       what="section (listener) name")  # fmt: skip
    port = r.integer(m, "port", path, minimum=1, maximum=65535)
    if name is None or bad(m, {"group": group, "kind": kind, "namespace": namespace,
                                "sectionName": section, "port": port}):  # fmt: skip
        return None
    return ParentReference(
        name=name,
        namespace=namespace or route_namespace,
        group=group if group is not None else GATEWAY_GROUP,
        kind=kind or "Gateway",
        section_name=section,
        port=port,
        namespace_written=namespace is not None,
    )


def _check_parent_refs(r: FieldReader, parents: list[ParentReference | None]) -> None:
    """CEL (experimental channel): several references to one parent need distinct sectionName/port."""

    def parent(p: ParentReference) -> tuple[str, str, str, str]:
        return (p.group, p.kind, p.namespace if p.namespace_written else "", p.name)

    by_parent: dict[tuple[str, str, str, str], list[int]] = {}
    for i, p in enumerate(parents):
        if p is not None:
            by_parent.setdefault(parent(p), []).append(i)
    for indices in by_parent.values():
        if len(indices) < 2:
            continue
        refs = [parents[i] for i in indices]
        sections = {(p.section_name, p.port) for p in refs if p is not None}
        if any(p is not None and p.section_name is None and p.port is None for p in refs):
            r.problem(f"spec.parentRefs[{indices[1]}]",
                      "sectionName or port must be specified when parentRefs includes 2 or more "
                      "references to the same parent", "set sectionName on each reference")  # fmt: skip
        elif len(sections) < len(refs):
            r.problem(f"spec.parentRefs[{indices[1]}]",
                      "sectionName or port must be unique when parentRefs includes 2 or more "
                      "references to the same parent", "remove the duplicate reference")  # fmt: skip


def _tls_rule(r: FieldReader, raw: Any, path: str, route_namespace: str) -> TLSRouteRule | None:
    m = r.mapping(raw, path, ("name", "backendRefs"), ("backendRefs",))
    if m is None:
        return None
    name = r.string(m, "name", path, pattern=SECTION_NAME_RE, max_len=253, min_len=1, what="rule name")
    refs = [
        _backend_ref(r, item, f"{path}.backendRefs[{i}]", route_namespace)
        for i, item in enumerate(r.items(m, "backendRefs", path, min_items=1, max_items=16))
    ]
    if any(ref is None for ref in refs) or (m.get("name") is not None and name is None):
        return None
    return TLSRouteRule(tuple(ref for ref in refs if ref is not None), name)


def _backend_ref(r: FieldReader, raw: Any, path: str, route_namespace: str) -> BackendRef | None:
    m = r.mapping(raw, path, _BACKEND_REF, ("name",))
    if m is None:
        return None
    group = r.string(m, "group", path, pattern=GROUP_RE, max_len=253)
    kind = r.string(m, "kind", path, pattern=KIND_RE, max_len=63, min_len=1)
    name = r.string(m, "name", path, max_len=253, min_len=1)
    namespace = r.string(m, "namespace", path, pattern=NAMESPACE_RE, max_len=63, min_len=1, what="namespace")
    port = r.integer(m, "port", path, minimum=1, maximum=65535)
    weight = r.integer(m, "weight", path, minimum=0, maximum=1_000_000)
    group = group if group is not None else ""
    kind = kind or "Service"
    if group == "" and kind == "Service" and m.get("port") is None:
        r.problem(path, "must have port for Service reference", "add port: <the Service's port>")
        return None
    if name is None or bad(m, {"group": group, "kind": kind, "namespace": namespace,
                                "port": port, "weight": weight}):  # fmt: skip
        return None
    return BackendRef(name, namespace or route_namespace, group, kind, port, 1 if weight is None else weight)


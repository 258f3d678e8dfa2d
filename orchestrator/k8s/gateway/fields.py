"""Formats of the Gateway API's common fields (names, groups, kinds, protocols) and the readers
of the references every kind uses."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.k8s.gateway.hostnames import DNS1123_SUBDOMAIN
from orchestrator.k8s.gateway.types import LabelSelector, LabelSelectorRequirement, ParametersReference
from orchestrator.k8s.reader import FieldReader, type_name

SECTION_NAME_RE = re.compile(rf"^{DNS1123_SUBDOMAIN}$")
OBJECT_NAME_RE = SECTION_NAME_RE  # metadata.name of these kinds is a DNS-1123 subdomain
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
GROUP_RE = re.compile(rf"^$|^{DNS1123_SUBDOMAIN}$")
KIND_RE = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
PROTOCOL_RE = re.compile(
    rf"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|{DNS1123_SUBDOMAIN}\/[A-Za-z0-9]+$"
)
CONTROLLER_RE = re.compile(rf"^{DNS1123_SUBDOMAIN}\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$")
ADDRESS_TYPE_RE = re.compile(rf"^Hostname|IPAddress|NamedAddress|{DNS1123_SUBDOMAIN}\/[a-zA-Z0-9]+$")


def bad(m: dict[str, Any], parsed: dict[str, object]) -> bool:
    """True when a field was written but did not parse (its Problem is already recorded)."""
    return any(m.get(key) is not None and value is None for key, value in parsed.items())



def parameters_ref(r: FieldReader, raw: Any, path: str, namespaced: bool) -> ParametersReference | None:
    if raw is None:
        return None
    fields = ("group", "kind", "name", "namespace") if namespaced else ("group", "kind", "name")
    m = r.mapping(raw, path, fields, ("group", "kind", "name"))
    if m is None:
        return None
    group, kind, name, namespace = reference_fields(r, m, path)
    if group is None or kind is None or name is None:
        return None
    return ParametersReference(group, kind, name, namespace)


def reference_fields(r: FieldReader, m: dict[str, Any], path: str) -> tuple[str | None, ...]:
    """group, kind, name, namespace of an object reference, each checked as the Gateway API's CRDs
    check it (None: absent, or its problem recorded)."""
    return (r.string(m, "group", path, pattern=GROUP_RE, max_len=253),
            r.string(m, "kind", path, pattern=KIND_RE, max_len=63, min_len=1),
            r.string(m, "name", path, max_len=253, min_len=1),
            r.string(m, "namespace", path, pattern=NAMESPACE_RE, max_len=63))



def label_selector(r: FieldReader, raw: Any, path: str) -> LabelSelector | None:
    m = r.mapping(raw, path, ("matchLabels", "matchExpressions"))
    if m is None:
        return None
    expressions = []
    for i, item in enumerate(r.items(m, "matchExpressions", path)):
        epath = f"{path}.matchExpressions[{i}]"
        em = r.mapping(item, epath, ("key", "operator", "values"), ("key", "operator"))
        if em is None:
            continue
        key = r.string(em, "key", epath, min_len=1)
        operator = r.string(em, "operator", epath, min_len=1)
        values = []
        for j, v in enumerate(r.items(em, "values", epath)):
            if isinstance(v, str):
                values.append(v)
            else:
                r.problem(f"{epath}.values[{j}]", f"must be a string, got {type_name(v)}", f'quote it: "{v}"')
        if key is not None and operator is not None:
            expressions.append(LabelSelectorRequirement(key, operator, tuple(values)))
    return LabelSelector(r.string_map(m, "matchLabels", path), tuple(expressions))


"""Gateway API objects as typed dataclasses, parsed strictly from YAML documents.

The parsers check what the API server checks before storing an object (the CRDs' OpenAPI schema,
defaults and CEL rules, Gateway API v1.2 as shipped with Calico Enterprise 3.21, plus the TLSRoute
v1alpha3 shape). Everything else, e.g. a Passthrough listener that lists certificateRefs, is
accepted here and judged by the controller (gatewayapi.py), as on a real cluster.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Collection, Literal, Union

from orchestrator.errors import Problem, ValidationFailed

GATEWAY_GROUP = "gateway.networking.k8s.io"
API_VERSIONS: dict[str, tuple[str, ...]] = {
    "GatewayClass": ("v1", "v1beta1"),
    "Gateway": ("v1", "v1beta1"),
    "TLSRoute": ("v1alpha2", "v1alpha3"),
    "ReferenceGrant": ("v1beta1", "v1alpha2"),
}
CORE_PROTOCOLS = ("HTTP", "HTTPS", "TLS", "TCP", "UDP")

_DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
HOSTNAME_RE = re.compile(rf"^(\*\.)?{_DNS1123_SUBDOMAIN}$")
SECTION_NAME_RE = re.compile(rf"^{_DNS1123_SUBDOMAIN}$")
OBJECT_NAME_RE = SECTION_NAME_RE  # metadata.name of these kinds is a DNS-1123 subdomain
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
GROUP_RE = re.compile(rf"^$|^{_DNS1123_SUBDOMAIN}$")
KIND_RE = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
PROTOCOL_RE = re.compile(
    rf"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|{_DNS1123_SUBDOMAIN}\/[A-Za-z0-9]+$"
)
CONTROLLER_RE = re.compile(rf"^{_DNS1123_SUBDOMAIN}\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$")
ADDRESS_TYPE_RE = re.compile(rf"^Hostname|IPAddress|NamedAddress|{_DNS1123_SUBDOMAIN}\/[a-zA-Z0-9]+$")


# ---- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    namespace: str  # "" for cluster-scoped kinds
    generation: int = 1
    creation_timestamp: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParametersReference:
    group: str
    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class GatewayClass:
    api_version: str
    metadata: ObjectMeta
    controller_name: str
    parameters_ref: ParametersReference | None = None
    description: str | None = None
    kind: Literal["GatewayClass"] = "GatewayClass"


@dataclass(frozen=True)
class SecretObjectReference:
    name: str
    group: str = ""
    kind: str = "Secret"
    namespace: str | None = None


@dataclass(frozen=True)
class ListenerTLSConfig:
    mode: Literal["Terminate", "Passthrough"] = "Terminate"
    certificate_refs: tuple[SecretObjectReference, ...] = ()
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelSelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: dict[str, str] = field(default_factory=dict)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()


@dataclass(frozen=True)
class RouteGroupKind:
    kind: str
    group: str = GATEWAY_GROUP


@dataclass(frozen=True)
class AllowedRoutes:
    namespaces_from: Literal["All", "Same", "Selector"] = "Same"
    selector: LabelSelector | None = None
    kinds: tuple[RouteGroupKind, ...] = ()


@dataclass(frozen=True)
class Listener:
    name: str
    port: int
    protocol: str
    hostname: str | None = None
    tls: ListenerTLSConfig | None = None
    allowed_routes: AllowedRoutes = field(default_factory=AllowedRoutes)


@dataclass(frozen=True)
class GatewayAddress:
    type: str = "IPAddress"
    value: str | None = None


@dataclass(frozen=True)
class GatewayInfrastructure:
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    parameters_ref: ParametersReference | None = None


@dataclass(frozen=True)
class Gateway:
    api_version: str
    metadata: ObjectMeta
    gateway_class_name: str
    listeners: tuple[Listener, ...]
    addresses: tuple[GatewayAddress, ...] = ()
    infrastructure: GatewayInfrastructure | None = None
    kind: Literal["Gateway"] = "Gateway"

    def listener(self, name: str) -> Listener | None:
        return next((lst for lst in self.listeners if lst.name == name), None)


@dataclass(frozen=True)
class ParentReference:
    name: str
    namespace: str  # defaulted to the route's namespace
    group: str = GATEWAY_GROUP
    kind: str = "Gateway"
    section_name: str | None = None
    port: int | None = None
    namespace_written: bool = False  # status echoes the reference as written

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group, "kind": self.kind, "name": self.name}
        if self.namespace_written:
            out["namespace"] = self.namespace
        if self.section_name is not None:
            out["sectionName"] = self.section_name
        if self.port is not None:
            out["port"] = self.port
        return out


@dataclass(frozen=True)
class BackendRef:
    name: str
    namespace: str  # defaulted to the route's namespace
    group: str = ""
    kind: str = "Service"
    port: int | None = None
    weight: int = 1


@dataclass(frozen=True)
class TLSRouteRule:
    backend_refs: tuple[BackendRef, ...]
    name: str | None = None


@dataclass(frozen=True)
class TLSRoute:
    api_version: str
    metadata: ObjectMeta
    parent_refs: tuple[ParentReference, ...]
    hostnames: tuple[str, ...]
    rules: tuple[TLSRouteRule, ...]
    kind: Literal["TLSRoute"] = "TLSRoute"


@dataclass(frozen=True)
class ReferenceGrantFrom:
    group: str
    kind: str
    namespace: str


@dataclass(frozen=True)
class ReferenceGrantTo:
    group: str
    kind: str
    name: str | None = None


@dataclass(frozen=True)
class ReferenceGrant:
    api_version: str
    metadata: ObjectMeta
    from_: tuple[ReferenceGrantFrom, ...]
    to: tuple[ReferenceGrantTo, ...]
    kind: Literal["ReferenceGrant"] = "ReferenceGrant"


GatewayObject = Union[GatewayClass, Gateway, TLSRoute, ReferenceGrant]


# ---- strict reading ----------------------------------------------------------------------------


class _Reader:
    """Reads nested mappings, recording a Problem for each wrong field instead of stopping."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(self.file, path, message, fix))

    def mapping(
        self, value: Any, path: str, fields: Collection[str], required: Collection[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, got {_type_name(value)}", "write it as key: value lines")
            return None
        for key in value:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f"did you mean {close[0]!r}?" if close else "known fields: " + ", ".join(sorted(fields))
                self.problem(_join(path, str(key)), "unknown field", f"remove it or fix its name; {hint}")
        for key in required:
            if value.get(key) is None:
                self.problem(_join(path, key), "required field is missing", f"set {key}")
        return value

    def string(
        self,
        m: dict[str, Any],
        key: str,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        max_len: int | None = None,
        min_len: int = 0,
        enum: Collection[str] | None = None,
        what: str = "",
    ) -> str | None:
        value = m.get(key)
        where = _join(path, key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(where, f"must be a string, got {_type_name(value)}", f"quote it: {key}: \"{value}\"")
            return None
        if enum is not None and value not in enum:
            self.problem(where, f"unsupported value {value!r}", "use one of: " + ", ".join(enum))
            return None
        if len(value) < min_len:
            self.problem(where, "must not be empty", f"set {key} or remove it")
            return None
        if max_len is not None and len(value) > max_len:
            self.problem(where, f"is {len(value)} characters long, the maximum is {max_len}", "shorten it")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(where, f"{value!r} is not a valid {what or key}", f"it must match {pattern.pattern}")
            return None
        return value

    def integer(
        self, m: dict[str, Any], key: str, path: str, *, minimum: int, maximum: int
    ) -> int | None:
        value = m.get(key)
        where = _join(path, key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(where, f"must be an integer, got {_type_name(value)}", f"write {key} without quotes")
            return None
        if not minimum <= value <= maximum:
            self.problem(where, f"{value} is out of range", f"use a value from {minimum} to {maximum}")
            return None
        return value

    def items(
        self, m: dict[str, Any], key: str, path: str, *, min_items: int = 0, max_items: int | None = None
    ) -> list[Any]:
        value = m.get(key)
        where = _join(path, key)
        if value is None:  # requiredness is the mapping's business; minItems applies when present
            return []
        if not isinstance(value, list):
            self.problem(where, f"must be a list, got {_type_name(value)}", "write it as a '- ' list")
            return []
        if len(value) < min_items:
            self.problem(where, f"needs at least {min_items} item(s)", f"add to {key}")
        if max_items is not None and len(value) > max_items:
            self.problem(where, f"has {len(value)} items, the maximum is {max_items}", "remove some")
        return value

    def string_map(self, m: dict[str, Any], key: str, path: str) -> dict[str, str]:
        value = m.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(_join(path, key), f"must be a mapping, got {_type_name(value)}")
            return {}
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(v, str):
                self.problem(
                    _join(_join(path, key), str(k)),
                    f"must be a string, got {_type_name(v)}",
                    f'quote the value: "{v}"',
                )
            else:
                out[str(k)] = v
        return out

    def hostname(self, m: dict[str, Any], key: str, path: str) -> str | None:
        if m.get(key) is None:
            return None
        return self.hostname_value(m[key], _join(path, key))

    def hostname_value(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str):
            self.problem(where, f"must be a hostname string, got {_type_name(value)}", "write a DNS name")
            return None
        problem = hostname_problem(value)
        if problem:
            self.problem(where, problem, "use a DNS name like foo.example.com or *.example.com")
            return None
        return value


def hostname_problem(value: str) -> str | None:
    """Why a Gateway API Hostname is invalid, or None."""
    if not 1 <= len(value) <= 253:
        return f"{value!r} must be 1 to 253 characters long"
    if not HOSTNAME_RE.match(value):
        if "*" in value:
            return f"{value!r}: a wildcard must be the whole first label, as in *.example.com"
        return f"{value!r} is not a valid hostname (lower-case RFC 1123 labels separated by dots)"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return f"{value!r} is an IP address; hostnames (SNI names, RFC 6066) cannot be IPs"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# ---- entry point -------------------------------------------------------------------------------

_TOP = ("apiVersion", "kind", "metadata", "spec", "status")
_META = (
    "name", "namespace", "labels", "annotations", "generation", "creationTimestamp", "uid",
    "resourceVersion", "finalizers", "ownerReferences", "managedFields", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink",
)  # fmt: skip


def parse_gateway_object(doc: dict[str, Any], file: str) -> GatewayObject:
    """Parse one Gateway API document; every problem found is raised at once."""
    r = _Reader(file)
    top = r.mapping(doc, "", _TOP, required=("apiVersion", "kind", "metadata", "spec"))
    if top is None:
        raise ValidationFailed(r.problems)
    kind = top.get("kind")
    api_version = top.get("apiVersion")
    if kind not in API_VERSIONS:
        r.problem("kind", f"unsupported kind {kind!r}", "use one of: " + ", ".join(API_VERSIONS))
        raise ValidationFailed(r.problems)
    assert isinstance(kind, str)
    versions = API_VERSIONS[kind]
    group, _, version = str(api_version).rpartition("/")
    if api_version is not None and (group != GATEWAY_GROUP or version not in versions):
        r.problem(
            "apiVersion",
            f"{api_version!r} does not serve {kind}",
            "use " + " or ".join(f"{GATEWAY_GROUP}/{v}" for v in versions),
        )
    meta = _metadata(r, top.get("metadata"), namespaced=kind != "GatewayClass")
    spec = top.get("spec")
    obj: GatewayObject | None = None
    if spec is not None:
        if kind == "GatewayClass":
            obj = _gateway_class(r, str(api_version), meta, spec)
        elif kind == "Gateway":
            obj = _gateway(r, str(api_version), meta, spec)
        elif kind == "TLSRoute":
            obj = _tls_route(r, str(api_version), meta, spec, v1alpha3=version == "v1alpha3")
        else:
            obj = _reference_grant(r, str(api_version), meta, spec)
    if r.problems or obj is None:
        raise ValidationFailed(r.problems)
    return obj


def _metadata(r: _Reader, raw: Any, namespaced: bool) -> ObjectMeta:
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
        r.problem("metadata.creationTimestamp", f"must be an RFC 3339 string, got {_type_name(created)}")
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


def _gateway_class(r: _Reader, api_version: str, meta: ObjectMeta, raw: Any) -> GatewayClass | None:
    m = r.mapping(raw, "spec", ("controllerName", "parametersRef", "description"), ("controllerName",))
    if m is None:
        return None
    controller = r.string(
        m, "controllerName", "spec", pattern=CONTROLLER_RE, max_len=253, min_len=1,
        what="controller name (DOMAIN/PATH)",
    )  # fmt: skip
    params = _parameters_ref(r, m.get("parametersRef"), "spec.parametersRef", namespaced=True)
    description = r.string(m, "description", "spec", max_len=64)
    if controller is None:
        return None
    return GatewayClass(api_version, meta, controller, params, description)


def _parameters_ref(r: _Reader, raw: Any, path: str, namespaced: bool) -> ParametersReference | None:
    if raw is None:
        return None
    fields = ("group", "kind", "name", "namespace") if namespaced else ("group", "kind", "name")
    m = r.mapping(raw, path, fields, ("group", "kind", "name"))
    if m is None:
        return None
    group = r.string(m, "group", path, pattern=GROUP_RE, max_len=253)
    kind = r.string(m, "kind", path, pattern=KIND_RE, max_len=63, min_len=1)
    name = r.string(m, "name", path, max_len=253, min_len=1)
    namespace = r.string(m, "namespace", path, pattern=NAMESPACE_RE, max_len=63)
    if group is None or kind is None or name is None:
        return None
    return ParametersReference(group, kind, name, namespace)


# ---- Gateway -----------------------------------------------------------------------------------

_GATEWAY_SPEC = ("gatewayClassName", "listeners", "addresses", "infrastructure")
_LISTENER = ("name", "hostname", "port", "protocol", "tls", "allowedRoutes")


def _gateway(r: _Reader, api_version: str, meta: ObjectMeta, raw: Any) -> Gateway | None:
    m = r.mapping(raw, "spec", _GATEWAY_SPEC, ("gatewayClassName", "listeners"))
    if m is None:
        return None
    class_name = r.string(m, "gatewayClassName", "spec", max_len=253, min_len=1)
    raw_listeners = r.items(m, "listeners", "spec", min_items=1, max_items=64)
    listeners = [_listener(r, item, f"spec.listeners[{i}]") for i, item in enumerate(raw_listeners)]
    _check_listeners(r, raw_listeners)
    raw_addresses = r.items(m, "addresses", "spec", max_items=16)
    addresses = [_address(r, item, f"spec.addresses[{i}]") for i, item in enumerate(raw_addresses)]
    _check_addresses(r, addresses)
    infra = _infrastructure(r, m.get("infrastructure"), "spec.infrastructure")
    if class_name is None or any(lst is None for lst in listeners) or any(a is None for a in addresses):
        return None
    return Gateway(
        api_version,
        meta,
        class_name,
        tuple(lst for lst in listeners if lst is not None),
        tuple(a for a in addresses if a is not None),
        infra,
    )


def _listener(r: _Reader, raw: Any, path: str) -> Listener | None:
    m = r.mapping(raw, path, _LISTENER, ("name", "port", "protocol"))
    if m is None:
        return None
    name = r.string(m, "name", path, pattern=SECTION_NAME_RE, max_len=253, min_len=1, what="listener name")
    hostname = r.hostname(m, "hostname", path)
    port = r.integer(m, "port", path, minimum=1, maximum=65535)
    protocol = r.string(m, "protocol", path, pattern=PROTOCOL_RE, max_len=255, min_len=1, what="protocol")
    tls = _listener_tls(r, m.get("tls"), _join(path, "tls")) if m.get("tls") is not None else None
    allowed = _allowed_routes(r, m.get("allowedRoutes"), _join(path, "allowedRoutes"))
    if name is None or port is None or protocol is None or allowed is None:
        return None
    if m.get("hostname") is not None and hostname is None:
        return None
    if m.get("tls") is not None and tls is None:
        return None
    return Listener(name, port, protocol, hostname, tls, allowed)


def _listener_tls(r: _Reader, raw: Any, path: str) -> ListenerTLSConfig | None:
    m = r.mapping(raw, path, ("mode", "certificateRefs", "options"))
    if m is None:
        return None
    mode = r.string(m, "mode", path, enum=("Terminate", "Passthrough"))
    refs = []
    for i, item in enumerate(r.items(m, "certificateRefs", path, max_items=64)):
        refs.append(_secret_ref(r, item, f"{path}.certificateRefs[{i}]"))
    options = r.string_map(m, "options", path)
    if len(options) > 16:
        r.problem(_join(path, "options"), f"has {len(options)} entries, the maximum is 16", "remove some")
    if (m.get("mode") is not None and mode is None) or any(ref is None for ref in refs):
        return None
    final_mode: Literal["Terminate", "Passthrough"] = "Passthrough" if mode == "Passthrough" else "Terminate"
    if final_mode == "Terminate" and not refs and not options:
        r.problem(
            path,
            "certificateRefs or options must be specified when mode is Terminate",
            "for TLS passthrough set mode: Passthrough (the default mode is Terminate)",
        )
        return None
    return ListenerTLSConfig(final_mode, tuple(ref for ref in refs if ref is not None), options)


def _secret_ref(r: _Reader, raw: Any, path: str) -> SecretObjectReference | None:
    m = r.mapping(raw, path, ("group", "kind", "name", "namespace"), ("name",))
    if m is None:
        return None
    group = r.string(m, "group", path, pattern=GROUP_RE, max_len=253)
    kind = r.string(m, "kind", path, pattern=KIND_RE, max_len=63, min_len=1)
    name = r.string(m, "name", path, max_len=253, min_len=1)
    namespace = r.string(m, "namespace", path, pattern=NAMESPACE_RE, max_len=63)
    if name is None:
        return None
    return SecretObjectReference(name, group if group is not None else "", kind or "Secret", namespace)


def _allowed_routes(r: _Reader, raw: Any, path: str) -> AllowedRoutes | None:
    if raw is None:
        return AllowedRoutes()
    m = r.mapping(raw, path, ("namespaces", "kinds"))
    if m is None:
        return None
    namespaces_from: Literal["All", "Same", "Selector"] = "Same"
    selector = None
    ns_raw = m.get("namespaces")
    ns_path = _join(path, "namespaces")
    if ns_raw is not None:
        ns = r.mapping(ns_raw, ns_path, ("from", "selector"))
        if ns is None:
            return None
        frm = r.string(ns, "from", ns_path, enum=("All", "Selector", "Same"))
        if frm == "All":
            namespaces_from = "All"
        elif frm == "Selector":
            namespaces_from = "Selector"
        if ns.get("selector") is not None:
            selector = _label_selector(r, ns.get("selector"), _join(ns_path, "selector"))
    kinds = []
    for i, item in enumerate(r.items(m, "kinds", path, max_items=8)):
        kpath = f"{path}.kinds[{i}]"
        km = r.mapping(item, kpath, ("group", "kind"), ("kind",))
        if km is None:
            continue
        group = r.string(km, "group", kpath, pattern=GROUP_RE, max_len=253)
        kind = r.string(km, "kind", kpath, pattern=KIND_RE, max_len=63, min_len=1)
        if kind is not None:
            kinds.append(RouteGroupKind(kind, group if group is not None else GATEWAY_GROUP))
    return AllowedRoutes(namespaces_from, selector, tuple(kinds))


def _label_selector(r: _Reader, raw: Any, path: str) -> LabelSelector | None:
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
                r.problem(f"{epath}.values[{j}]", f"must be a string, got {_type_name(v)}", f'quote it: "{v}"')
        if key is not None and operator is not None:
            expressions.append(LabelSelectorRequirement(key, operator, tuple(values)))
    return LabelSelector(r.string_map(m, "matchLabels", path), tuple(expressions))


def _check_listeners(r: _Reader, raws: list[Any]) -> None:
    """The Gateway CRD's CEL rules over spec.listeners, on whatever fields are readable."""
    views = [_ListenerView.of(raw) for raw in raws]
    names = Counter(v.name for v in views if v.name is not None)
    combos = Counter((v.port, v.protocol, v.hostname) for v in views if v.port is not None and v.protocol)
    for i, v in enumerate(views):
        path = f"spec.listeners[{i}]"
        if v.name is not None and names[v.name] > 1:
            r.problem(f"{path}.name", f"listener name {v.name!r} must be unique within the Gateway",
                      "give each listener its own name")  # fmt: skip
        if v.port is not None and v.protocol and combos[(v.port, v.protocol, v.hostname)] > 1:
            r.problem(
                path,
                "combination of port, protocol and hostname must be unique for each listener",
                f"another listener already uses {v.protocol} on port {v.port}"
                + (f" for {v.hostname}" if v.hostname else " without hostname"),
            )
        if v.protocol in ("HTTP", "TCP", "UDP") and v.has_tls:
            r.problem(f"{path}.tls", f"tls must not be specified for protocol {v.protocol}",
                      "remove tls, or use protocol TLS (passthrough) or HTTPS")  # fmt: skip
        if v.protocol == "HTTPS" and v.tls_mode not in (None, "Terminate"):
            r.problem(f"{path}.tls.mode", "tls mode must be Terminate for protocol HTTPS",
                      "for TLS passthrough use protocol: TLS")  # fmt: skip
        if v.protocol == "TLS" and not v.has_tls:
            r.problem(f"{path}.tls", "tls mode must be set for protocol TLS",
                      "add tls: {mode: Passthrough}")  # fmt: skip
        if v.protocol in ("TCP", "UDP") and v.hostname is not None:
            r.problem(f"{path}.hostname", f"hostname must not be specified for protocol {v.protocol}",
                      "remove hostname")  # fmt: skip


@dataclass(frozen=True)
class _ListenerView:
    """The fields of a raw listener that have the right type, for rules across listeners."""

    name: str | None
    port: int | None
    protocol: str | None
    hostname: str | None
    has_tls: bool
    tls_mode: str | None

    @staticmethod
    def of(raw: Any) -> _ListenerView:
        m = raw if isinstance(raw, dict) else {}
        tls = m.get("tls")

        def text(value: Any) -> str | None:
            return value if isinstance(value, str) else None

        port = m.get("port")
        return _ListenerView(
            name=text(m.get("name")),
            port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            protocol=text(m.get("protocol")),
            hostname=text(m.get("hostname")),
            has_tls=tls is not None,
            tls_mode=text(tls.get("mode")) if isinstance(tls, dict) else None,
        )


def _address(r: _Reader, raw: Any, path: str) -> GatewayAddress | None:
    m = r.mapping(raw, path, ("type", "value"))
    if m is None:
        return None
    atype = r.string(m, "type", path, pattern=ADDRESS_TYPE_RE, max_len=253, min_len=1, what="address type")
    value = r.string(m, "value", path, max_len=253)
    if _bad(m, {"type": atype, "value": value}):
        return None
    return GatewayAddress(atype or "IPAddress", value or None)


def _check_addresses(r: _Reader, addresses: list[GatewayAddress | None]) -> None:
    seen: set[tuple[str, str]] = set()
    for i, addr in enumerate(addresses):
        if addr is None or addr.value is None:
            continue
        path = f"spec.addresses[{i}].value"
        if addr.type == "IPAddress":
            try:
                ipaddress.ip_address(addr.value)
            except ValueError:
                r.problem(path, f"{addr.value!r} is not an IP address", "write an IPv4 or IPv6 address")
        if addr.type == "Hostname" and not HOSTNAME_RE.match(addr.value):
            r.problem(path, f"{addr.value!r} is not a valid hostname")
        if addr.type in ("IPAddress", "Hostname"):
            if (addr.type, addr.value) in seen:
                r.problem(path, f"{addr.type} values must be unique", "remove the duplicate")
            seen.add((addr.type, addr.value))


def _infrastructure(r: _Reader, raw: Any, path: str) -> GatewayInfrastructure | None:
    if raw is None:
        return None
    m = r.mapping(raw, path, ("labels", "annotations", "parametersRef"))
    if m is None:
        return None
    params = _parameters_ref(r, m.get("parametersRef"), _join(path, "parametersRef"), namespaced=False)
    return GatewayInfrastructure(r.string_map(m, "labels", path), r.string_map(m, "annotations", path), params)


# ---- TLSRoute ----------------------------------------------------------------------------------

_PARENT_REF = ("group", "kind", "namespace", "name", "sectionName", "port")
_BACKEND_REF = ("group", "kind", "name", "namespace", "port", "weight")


def _tls_route(
    r: _Reader, api_version: str, meta: ObjectMeta, raw: Any, v1alpha3: bool
) -> TLSRoute | None:
    required = ("hostnames", "rules") if v1alpha3 else ("rules",)
    m = r.mapping(raw, "spec", ("parentRefs", "hostnames", "rules"), required)
    if m is None:
        return None
    parents = [
        _parent_ref(r, item, f"spec.parentRefs[{i}]", meta.namespace)
        for i, item in enumerate(r.items(m, "parentRefs", "spec", max_items=32))
    ]
    _check_parent_refs(r, parents)
    hostnames = [
        r.hostname_value(item, f"spec.hostnames[{i}]")
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


def _parent_ref(r: _Reader, raw: Any, path: str, route_namespace: str) -> ParentReference | None:
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
    if name is None or _bad(m, {"group": group, "kind": kind, "namespace": namespace,
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


def _check_parent_refs(r: _Reader, parents: list[ParentReference | None]) -> None:
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


def _tls_rule(r: _Reader, raw: Any, path: str, route_namespace: str) -> TLSRouteRule | None:
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


def _backend_ref(r: _Reader, raw: Any, path: str, route_namespace: str) -> BackendRef | None:
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
    if name is None or _bad(m, {"group": group, "kind": kind, "namespace": namespace,
                                "port": port, "weight": weight}):  # fmt: skip
        return None
    return BackendRef(name, namespace or route_namespace, group, kind, port, 1 if weight is None else weight)


def _bad(m: dict[str, Any], parsed: dict[str, object]) -> bool:
    """True when a field was written but did not parse (its Problem is already recorded)."""
    return any(m.get(key) is not None and value is None for key, value in parsed.items())


# ---- ReferenceGrant ----------------------------------------------------------------------------


def _reference_grant(r: _Reader, api_version: str, meta: ObjectMeta, raw: Any) -> ReferenceGrant | None:
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
        ok = group is not None and kind is not None and not _bad(tm, {"name": name})
        tos.append(ReferenceGrantTo(group or "", kind or "", name) if ok else None)
    if any(f is None for f in froms) or any(t is None for t in tos):
        return None
    return ReferenceGrant(
        api_version, meta, tuple(f for f in froms if f is not None), tuple(t for t in tos if t is not None)
    )

"""The Gateway's spec, read strictly: listeners, their TLS and allowed routes, the CRD's CEL rules
across listeners, addresses, infrastructure."""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.k8s.gateway.fields import (
    ADDRESS_TYPE_RE,
    GROUP_RE,
    KIND_RE,
    PROTOCOL_RE,
    SECTION_NAME_RE,
    bad,
    label_selector,
    parameters_ref,
    reference_fields,
)
from orchestrator.k8s.gateway.hostnames import HOSTNAME_RE, read_hostname
from orchestrator.k8s.gateway.types import (
    GATEWAY_GROUP,
    AllowedRoutes,
    Gateway,
    GatewayAddress,
    GatewayInfrastructure,
    Listener,
    ListenerTLSConfig,
    ObjectMeta,
    RouteGroupKind,
    SecretObjectReference,
)
from orchestrator.k8s.reader import FieldReader, join

_GATEWAY_SPEC = ("gatewayClassName", "listeners", "addresses", "infrastructure")
_LISTENER = ("name", "hostname", "port", "protocol", "tls", "allowedRoutes")


def gateway(r: FieldReader, api_version: str, meta: ObjectMeta, raw: Any) -> Gateway | None:
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


def _listener(r: FieldReader, raw: Any, path: str) -> Listener | None:
    m = r.mapping(raw, path, _LISTENER, ("name", "port", "protocol"))
    if m is None:
        return None
    name = r.string(m, "name", path, pattern=SECTION_NAME_RE, max_len=253, min_len=1, what="listener name")
    hostname = read_hostname(r, m, "hostname", path)
    port = r.integer(m, "port", path, minimum=1, maximum=65535)
    protocol = r.string(m, "protocol", path, pattern=PROTOCOL_RE, max_len=255, min_len=1, what="protocol")
    tls = _listener_tls(r, m.get("tls"), join(path, "tls")) if m.get("tls") is not None else None
    allowed = _allowed_routes(r, m.get("allowedRoutes"), join(path, "allowedRoutes"))
    if name is None or port is None or protocol is None or allowed is None:
        return None
    if m.get("hostname") is not None and hostname is None:
        return None
    if m.get("tls") is not None and tls is None:
        return None
    return Listener(name, port, protocol, hostname, tls, allowed)


def _listener_tls(r: FieldReader, raw: Any, path: str) -> ListenerTLSConfig | None:
    m = r.mapping(raw, path, ("mode", "certificateRefs", "options"))
    if m is None:
        return None
    mode = r.string(m, "mode", path, enum=("Terminate", "Passthrough"))
    refs = []
    for i, item in enumerate(r.items(m, "certificateRefs", path, max_items=64)):
        refs.append(_secret_ref(r, item, f"{path}.certificateRefs[{i}]"))
    options = r.string_map(m, "options", path)
    if len(options) > 16:
        r.problem(join(path, "options"), f"has {len(options)} entries, the maximum is 16", "remove some")
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


def _secret_ref(r: FieldReader, raw: Any, path: str) -> SecretObjectReference | None:
    m = r.mapping(raw, path, ("group", "kind", "name", "namespace"), ("name",))
    if m is None:
        return None
    group, kind, name, namespace = reference_fields(r, m, path)
    if name is None:
        return None
    return SecretObjectReference(name, group if group is not None else "", kind or "Secret", namespace)


def _allowed_routes(r: FieldReader, raw: Any, path: str) -> AllowedRoutes | None:
    if raw is None:
        return AllowedRoutes()
    m = r.mapping(raw, path, ("namespaces", "kinds"))
    if m is None:
        return None
    namespaces_from: Literal["All", "Same", "Selector"] = "Same"
    selector = None
    ns_raw = m.get("namespaces")
    ns_path = join(path, "namespaces")
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
            selector = label_selector(r, ns.get("selector"), join(ns_path, "selector"))
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


def _check_listeners(r: FieldReader, raws: list[Any]) -> None:
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


def _address(r: FieldReader, raw: Any, path: str) -> GatewayAddress | None:
    m = r.mapping(raw, path, ("type", "value"))
    if m is None:
        return None
    atype = r.string(m, "type", path, pattern=ADDRESS_TYPE_RE, max_len=253, min_len=1, what="address type")
    value = r.string(m, "value", path, max_len=253)
    if bad(m, {"type": atype, "value": value}):
        return None
    return GatewayAddress(atype or "IPAddress", value or None)


def _check_addresses(r: FieldReader, addresses: list[GatewayAddress | None]) -> None:
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


def _infrastructure(r: FieldReader, raw: Any, path: str) -> GatewayInfrastructure | None:
    if raw is None:
        return None
    m = r.mapping(raw, path, ("labels", "annotations", "parametersRef"))
    if m is None:
        return None
    params = parameters_ref(r, m.get("parametersRef"), join(path, "parametersRef"), namespaced=False)
    return GatewayInfrastructure(r.string_map(m, "labels", path), r.string_map(m, "annotations", path), params)


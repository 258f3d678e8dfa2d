"""Every kind the lab models, in one table (as containerlab's core/register.go lists its node kinds):
group, versions served, names kubectl accepts, scope, and the strict parser of each; and
`parse_objects`, which turns documents into typed objects through it.

A parser is named by module and function and imported on first use: `up --bgp-only` parses only
Calico's kinds, and importing the Gateway API models would cost it ~25 ms for nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from orchestrator.errors import LabError, Problem, ValidationFailed
from orchestrator.k8s.reader import FieldReader, close_match
from orchestrator.manifests import Document, group_of

Parser = Callable[[Document, FieldReader], Any]

CORE, APPS = "", "apps"
GATEWAY = "gateway.networking.k8s.io"
CALICO = "projectcalico.org"
TIGERA_OPERATOR = "operator.tigera.io"
ENVOY_GATEWAY = "gateway.envoyproxy.io"


@dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str
    versions: tuple[str, ...]  # served versions, preferred first
    plural: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    parser: tuple[str, str] | None = None  # (module, function); None: made by controllers, not applied

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def aliases(self) -> tuple[str, ...]:
        """The names kubectl accepts for it: singular, plural, then the short names."""
        return (self.singular, self.plural, *self.short_names)

    @property
    def virtual(self) -> bool:
        return self.parser is None

    def api_versions(self) -> list[str]:
        return [f"{self.group}/{v}" if self.group else v for v in self.versions]

    def parse(self, doc: Document, reader: FieldReader) -> Any:
        assert self.parser is not None, f"{self.kind} is not applied"
        module, name = self.parser
        return cast(Parser, getattr(importlib.import_module(module), name))(doc, reader)


_CORE = "orchestrator.k8s.core"
_CALICO = "orchestrator.calico.models"
_GW = "orchestrator.k8s.gateway.parse"
_GW_VERSIONS = {"GatewayClass": ("v1", "v1beta1"), "Gateway": ("v1", "v1beta1"),
                "TLSRoute": ("v1alpha2", "v1alpha3"), "TCPRoute": ("v1alpha2",),
                "ReferenceGrant": ("v1beta1", "v1alpha2")}

KINDS: tuple[KindInfo, ...] = (
    KindInfo("Pod", CORE, ("v1",), "pods", ("po",)),
    KindInfo("Service", CORE, ("v1",), "services", ("svc",), parser=(_CORE, "parse_service")),
    KindInfo("Deployment", APPS, ("v1",), "deployments", ("deploy",), parser=(_CORE, "parse_deployment")),
    KindInfo("Secret", CORE, ("v1",), "secrets", parser=(_CORE, "parse_secret")),
    KindInfo("Gateway", GATEWAY, _GW_VERSIONS["Gateway"], "gateways", ("gtw",), parser=(_GW, "parse_document")),
    KindInfo("GatewayClass", GATEWAY, _GW_VERSIONS["GatewayClass"], "gatewayclasses", ("gc",), namespaced=False,
             parser=(_GW, "parse_document")),
    KindInfo("TLSRoute", GATEWAY, _GW_VERSIONS["TLSRoute"], "tlsroutes", parser=(_GW, "parse_document")),
    KindInfo("TCPRoute", GATEWAY, _GW_VERSIONS["TCPRoute"], "tcproutes", parser=(_GW, "parse_document")),
    KindInfo("ReferenceGrant", GATEWAY, _GW_VERSIONS["ReferenceGrant"], "referencegrants", ("refgrant",),
             parser=(_GW, "parse_document")),
    KindInfo("BackendTrafficPolicy", ENVOY_GATEWAY, ("v1alpha1",), "backendtrafficpolicies", ("btp",),
             parser=("orchestrator.k8s.policy", "parse_backend_traffic_policy")),
    KindInfo("GatewayAPI", TIGERA_OPERATOR, ("v1",), "gatewayapis", namespaced=False,
             parser=(_CORE, "parse_gateway_api")),
    KindInfo("IPPool", CALICO, ("v3",), "ippools", namespaced=False, parser=(_CALICO, "parse_ippool")),
    KindInfo("BGPConfiguration", CALICO, ("v3",), "bgpconfigurations", ("bgpconfig",), namespaced=False,
             parser=(_CALICO, "parse_bgp_configuration")),
    KindInfo("BGPPeer", CALICO, ("v3",), "bgppeers", namespaced=False, parser=(_CALICO, "parse_bgp_peer")),
)
_BY_GROUP_KIND = {(k.group, k.kind): k for k in KINDS if not k.virtual}


def kind_of(name: str) -> KindInfo:
    """The kind a command line names, as kubectl resolves it: any alias, or PLURAL.GROUP / SINGULAR.GROUP."""
    wanted = name.lower()
    for k in KINDS:
        full = (f"{k.plural}.{k.group}", f"{k.singular}.{k.group}") if k.group else ()
        if wanted in k.aliases or wanted in full:
            return k
    known = ", ".join(k.singular for k in KINDS)
    close = close_match(wanted, [a for k in KINDS for a in k.aliases])
    hint = f"; did you mean {close!r}?" if close else ""
    raise LabError(f"the lab has no resource type {name!r}; known types: {known}{hint}")


def lookup(api_version: str, kind: str) -> KindInfo | None:
    """The kind a document's apiVersion and kind name, if gwlab applies it; else None."""
    return _BY_GROUP_KIND.get((group_of(api_version), kind))


def supported_kinds() -> list[str]:
    return sorted(f"{k.kind} ({k.group or 'core'})" for k in KINDS if not k.virtual)


@dataclass(frozen=True)
class Parsed:
    doc: Document
    obj: Any
    ignored: list[str]


def parse_objects(docs: list[Document]) -> list[Parsed]:
    """Typed objects for every document; one ValidationFailed listing every problem."""
    problems: list[Problem] = []
    out: list[Parsed] = []
    for doc in docs:
        reader = FieldReader(doc)
        if not doc.kind or not doc.api_version:
            reader.problem("apiVersion/kind", "missing", "give the document an apiVersion and a kind")
        elif not doc.name:
            reader.problem("metadata.name", "missing", "name the object")
        elif (info := lookup(doc.api_version, doc.kind)) is None:
            close = close_match(doc.kind, [k.kind for k in KINDS if not k.virtual])
            hint = f"; did you mean {close!r}?" if close else ""
            reader.problem("kind", f"{doc.kind} ({doc.api_version}) is not supported by gwlab",
                           "supported kinds: " + ", ".join(supported_kinds()) + hint)
        else:
            if doc.api_version not in info.api_versions():
                reader.problem("apiVersion", f"{doc.api_version!r} does not serve {info.kind}",
                               "use " + " or ".join(info.api_versions()))
            obj = info.parse(doc, reader)
            if not reader.problems:
                out.append(Parsed(doc, obj, reader.ignored))
        problems += reader.problems
    if problems:
        raise ValidationFailed(problems)
    return out

import datetime as dt
from typing import Any

import pytest
import yaml

from orchestrator.errors import ValidationFailed
from orchestrator.k8s.gateway.hostnames import hostname_problem
from orchestrator.k8s.gateway.parse import parse_gateway_object
from orchestrator.k8s.gateway.types import (
    AllowedRoutes,
    BackendRef,
    Gateway,
    GatewayClass,
    ParentReference,
    ReferenceGrant,
    TLSRoute,
)
from tests.workshop_texts import STEP3_GATEWAY, STEP4_ROUTE


def doc(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def problems(data: dict[str, Any], file: str = "lab/manifests/x.yaml") -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        parse_gateway_object(data, file)
    assert all(p.file == file for p in err.value.problems)
    return {p.field: p.message for p in err.value.problems}


def test_workshop_gateway() -> None:
    gw = parse_gateway_object(doc(STEP3_GATEWAY), "gw.yaml")
    assert isinstance(gw, Gateway)
    assert gw.metadata.name == "tls-passthrough-gateway"
    assert gw.metadata.namespace == "default"
    assert gw.metadata.generation == 1
    assert gw.gateway_class_name == "tigera-gateway-class"
    [http] = gw.listeners
    assert (http.name, http.protocol, http.port, http.hostname, http.tls) == ("http", "HTTP", 80, None, None)
    assert http.allowed_routes == AllowedRoutes(namespaces_from="Same", selector=None, kinds=())


def test_workshop_route_gets_the_kubernetes_defaults() -> None:
    route = parse_gateway_object(doc(STEP4_ROUTE), "route.yaml")
    assert isinstance(route, TLSRoute)
    assert route.hostnames == ("passthrough.example.com",)
    assert route.parent_refs == (
        ParentReference(name="tls-passthrough-gateway", namespace="default", group="gateway.networking.k8s.io",
                        kind="Gateway", namespace_written=False),
    )  # fmt: skip
    assert route.parent_refs[0].to_dict() == {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "tls-passthrough-gateway",
    }
    assert route.rules[0].backend_refs == (
        BackendRef(name="passthrough-echoserver", namespace="default", group="", kind="Service", port=443, weight=1),
    )


def test_backend_ref_defaults() -> None:
    data = doc(STEP4_ROUTE)
    data["metadata"]["namespace"] = "apps"
    data["spec"]["rules"][0]["backendRefs"] = [{"name": "svc", "port": 8443}]
    route = parse_gateway_object(data, "r")
    assert isinstance(route, TLSRoute)
    assert route.rules[0].backend_refs[0] == BackendRef("svc", "apps", "", "Service", 8443, 1)
    assert route.parent_refs[0].namespace == "apps"


def test_v1beta1_gateway_and_v1alpha3_route_are_served() -> None:
    gw = doc(STEP3_GATEWAY)
    gw["apiVersion"] = "gateway.networking.k8s.io/v1beta1"
    assert isinstance(parse_gateway_object(gw, "g"), Gateway)
    route = doc(STEP4_ROUTE)
    route["apiVersion"] = "gateway.networking.k8s.io/v1alpha3"
    assert isinstance(parse_gateway_object(route, "r"), TLSRoute)


def test_v1alpha3_route_needs_hostnames_and_one_rule() -> None:
    route = doc(STEP4_ROUTE)
    route["apiVersion"] = "gateway.networking.k8s.io/v1alpha3"
    del route["spec"]["hostnames"]
    route["spec"]["rules"].append(route["spec"]["rules"][0])
    found = problems(route)
    route["spec"]["hostnames"] = []
    assert problems(route)["spec.hostnames"] == "needs at least 1 item(s)"
    assert found["spec.hostnames"] == "required field is missing"
    assert found["spec.rules"] == "has 2 items, the maximum is 1"


def test_wrong_api_version_and_kind() -> None:
    gw = doc(STEP3_GATEWAY)
    gw["apiVersion"] = "gateway.networking.k8s.io/v1alpha2"
    assert "does not serve Gateway" in problems(gw)["apiVersion"]
    gw["kind"] = "HTTPRoute"
    assert "unsupported kind 'HTTPRoute'" in problems(gw)["kind"]


def test_every_problem_is_reported_at_once() -> None:
    text = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: Tls_Gateway
  nmespace: default
spec:
  gatewayClassName: tigera-gateway-class
  listeners:
    - name: http
      protocol: HTTP
      port: "80"
    - name: tls
      protocol: TLS
      hostname: "*passthrough.example.com"
      port: 70000
      tls:
        mode: Passthru
  adresses: []
"""
    found = problems(doc(text))
    assert set(found) == {
        "metadata.name",
        "metadata.nmespace",
        "spec.listeners[0].port",
        "spec.listeners[1].hostname",
        "spec.listeners[1].port",
        "spec.listeners[1].tls.mode",
        "spec.adresses",
    }
    assert found["spec.listeners[1].tls.mode"] == "unsupported value 'Passthru'"
    assert found["spec.listeners[0].port"] == "must be an integer, got a string"
    assert "out of range" in found["spec.listeners[1].port"]
    with pytest.raises(ValidationFailed) as err:
        parse_gateway_object(doc(text), "f.yaml")
    fixes = {p.field: p.fix for p in err.value.problems}
    assert "did you mean 'namespace'" in fixes["metadata.nmespace"]
    assert "did you mean 'addresses'" in fixes["spec.adresses"]
    assert "Terminate, Passthrough" in fixes["spec.listeners[1].tls.mode"]
    assert str(err.value).startswith("7 problem(s) found")


def listeners(*items: dict[str, Any]) -> dict[str, Any]:
    gw = doc(STEP3_GATEWAY)
    gw["spec"]["listeners"] = list(items)
    return gw


def test_listener_rules_of_the_crd() -> None:
    found = problems(
        listeners(
            {"name": "a", "protocol": "HTTP", "port": 80, "tls": {"mode": "Terminate", "certificateRefs": [{"name": "s"}]}},
            {"name": "a", "protocol": "HTTPS", "port": 443, "tls": {"mode": "Passthrough"}},
            {"name": "c", "protocol": "TLS", "port": 6443},
            {"name": "d", "protocol": "TCP", "port": 9000, "hostname": "x.example.com"},
            {"name": "e", "protocol": "TLS", "port": 7000, "tls": {}},
            {"name": "f", "protocol": "TLS", "port": 7001, "tls": {"mode": "Passthrough"}},
            {"name": "g", "protocol": "TLS", "port": 7001, "tls": {"mode": "Passthrough"}},
        )
    )
    assert found["spec.listeners[1].name"] == "listener name 'a' must be unique within the Gateway"
    assert found["spec.listeners[0].tls"] == "tls must not be specified for protocol HTTP"
    assert found["spec.listeners[1].tls.mode"] == "tls mode must be Terminate for protocol HTTPS"
    assert found["spec.listeners[2].tls"] == "tls mode must be set for protocol TLS"
    assert found["spec.listeners[3].hostname"] == "hostname must not be specified for protocol TCP"
    assert found["spec.listeners[4].tls"] == "certificateRefs or options must be specified when mode is Terminate"
    assert "must be unique for each listener" in found["spec.listeners[6]"]


def test_passthrough_with_certificate_refs_is_left_to_the_controller() -> None:
    gw = parse_gateway_object(
        listeners({"name": "tls", "protocol": "TLS", "port": 6443,
                   "tls": {"mode": "Passthrough", "certificateRefs": [{"name": "server-certs"}]}}),
        "g",
    )  # fmt: skip
    assert isinstance(gw, Gateway)
    assert gw.listeners[0].tls is not None
    assert gw.listeners[0].tls.certificate_refs[0].kind == "Secret"


def test_listener_selector_and_kinds() -> None:
    gw = parse_gateway_object(
        listeners({"name": "tls", "protocol": "TLS", "port": 6443, "tls": {"mode": "Passthrough"},
                   "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"},
                   "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}},
                   "kinds": [{"kind": "TLSRoute"}]}}),
        "g",
    )  # fmt: skip
    assert isinstance(gw, Gateway)
    allowed = gw.listeners[0].allowed_routes
    assert allowed.namespaces_from == "Selector"
    assert allowed.selector is not None and allowed.selector.match_labels == {"team": "a"}
    assert allowed.kinds[0].group == "gateway.networking.k8s.io"


@pytest.mark.parametrize(
    "hostname, ok",
    [
        ("passthrough.example.com", True),
        ("*.example.com", True),
        ("*.com", True),
        ("localhost", True),
        ("*foo.example.com", False),
        ("foo.*.example.com", False),
        ("*", False),
        ("Example.com", False),
        ("example.com.", False),
        ("-a.example.com", False),
        ("10.10.10.23", False),
        ("a" * 64 + ".com", True),  # the CRD pattern does not bound label length
        ("a." * 127 + "co", False),
    ],
)
def test_hostnames(hostname: str, ok: bool) -> None:
    assert (hostname_problem(hostname) is None) is ok


def test_route_problems() -> None:
    route = doc(STEP4_ROUTE)
    route["spec"]["hostnames"] = ["ok.example.com", "10.0.0.1", 5]
    route["spec"]["parentRefs"] = [{"name": "gw"}, {"name": "gw"}, {"name": "gw2", "port": "6443"}]
    route["spec"]["rules"][0]["backendRefs"] = [
        {"name": "a"},
        {"name": "b", "port": 443, "weight": 2_000_000},
        {"name": "c", "port": 443, "kind": "bad/kind"},
        {"name": "d", "kind": "Backend", "group": "gateway.envoyproxy.io"},
    ]
    found = problems(route)
    assert "IP address" in found["spec.hostnames[1]"]
    assert found["spec.hostnames[2]"] == "must be a hostname string, got an integer"
    assert "sectionName or port must be specified" in found["spec.parentRefs[1]"]
    assert found["spec.parentRefs[2].port"] == "must be an integer, got a string"
    assert found["spec.rules[0].backendRefs[0]"] == "must have port for Service reference"
    assert found["spec.rules[0].backendRefs[1].weight"] == "2000000 is out of range"
    assert "not a valid kind" in found["spec.rules[0].backendRefs[2].kind"]
    assert not any(k.startswith("spec.rules[0].backendRefs[3]") for k in found)


def test_two_references_to_one_gateway_with_distinct_sections_are_fine() -> None:
    route = doc(STEP4_ROUTE)
    route["spec"]["parentRefs"] = [{"name": "gw", "sectionName": "a"}, {"name": "gw", "sectionName": "b"}]
    assert isinstance(parse_gateway_object(route, "r"), TLSRoute)
    route["spec"]["parentRefs"][1]["sectionName"] = "a"
    assert "must be unique" in problems(route)["spec.parentRefs[1]"]


def test_route_without_rules() -> None:
    route = doc(STEP4_ROUTE)
    del route["spec"]["rules"]
    assert problems(route)["spec.rules"] == "required field is missing"


def test_reference_grant() -> None:
    text = """\
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: allow-routes
  namespace: backends
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: TLSRoute
      namespace: default
  to:
    - group: ""
      kind: Service
"""
    grant = parse_gateway_object(doc(text), "g")
    assert isinstance(grant, ReferenceGrant)
    assert grant.from_[0].namespace == "default"
    assert grant.to[0].group == "" and grant.to[0].name is None
    bad = doc(text)
    bad["spec"]["from"][0].pop("namespace")
    bad["spec"]["to"] = []
    found = problems(bad)
    assert found["spec.from[0].namespace"] == "required field is missing"
    assert found["spec.to"] == "needs at least 1 item(s)"


def test_gateway_class() -> None:
    text = """\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: tigera-gateway-class
  namespace: tigera-gateway
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
  parametersRef:
    group: gateway.envoyproxy.io
    kind: EnvoyProxy
    name: tigera-gateway-class
    namespace: tigera-gateway
"""
    gc = parse_gateway_object(doc(text), "gc")
    assert isinstance(gc, GatewayClass)
    assert gc.metadata.namespace == ""  # cluster-scoped
    assert gc.parameters_ref is not None and gc.parameters_ref.kind == "EnvoyProxy"
    bad = doc(text)
    bad["spec"]["controllerName"] = "no-path"
    assert "not a valid controller name" in problems(bad)["spec.controllerName"]


def test_metadata_details() -> None:
    gw = doc(STEP3_GATEWAY)
    gw["metadata"].update(
        generation=3,
        creationTimestamp=dt.datetime(2025, 8, 4, 15, 13, 57, tzinfo=dt.timezone.utc),
        labels={"app": "demo"},
    )
    gw["status"] = {"conditions": []}
    parsed = parse_gateway_object(gw, "g")
    assert parsed.metadata.generation == 3
    assert parsed.metadata.creation_timestamp == "2025-08-04T15:13:57Z"
    assert parsed.metadata.labels == {"app": "demo"}
    gw["metadata"]["labels"] = {"enabled": True}
    assert problems(gw)["metadata.labels.enabled"] == "must be a string, got a boolean"


def test_addresses() -> None:
    gw = doc(STEP3_GATEWAY)
    gw["spec"]["addresses"] = [{"value": "10.10.10.23"}, {"type": "IPAddress", "value": "10.10.10.23"},
                               {"value": "not-an-ip"}]  # fmt: skip
    found = problems(gw)
    assert found["spec.addresses[1].value"] == "IPAddress values must be unique"
    assert found["spec.addresses[2].value"] == "'not-an-ip' is not an IP address"


def test_not_a_mapping() -> None:
    assert problems({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"},
                     "spec": ["x"]})["spec"] == "must be a mapping, got a list"  # fmt: skip

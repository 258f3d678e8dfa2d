"""The kinds registry (one table: names, scope, versions, parsers) and the strict field reader's hints."""

from __future__ import annotations

import pytest

from orchestrator import manifests
from orchestrator.errors import LabError, Problem, ValidationFailed
from orchestrator.k8s.kinds import KINDS, kind_of, parse_objects, supported_kinds


def problems(text: str) -> dict[str, Problem]:
    found: list[Problem] = []
    docs = manifests.parse_documents(text, "t.yaml", found)
    assert not found
    with pytest.raises(ValidationFailed) as err:
        parse_objects(docs)
    return {p.field: p for p in err.value.problems}


def test_the_table_lists_every_kind_once_with_kubectls_names() -> None:
    assert [k.kind for k in KINDS] == ["Pod", "Service", "Deployment", "Secret", "Gateway", "GatewayClass",
                                       "TLSRoute", "TCPRoute", "ReferenceGrant", "BackendTrafficPolicy", "GatewayAPI",
                                       "IPPool", "BGPConfiguration", "BGPPeer"]
    assert kind_of("svc") is kind_of("services") is kind_of("Service")
    assert kind_of("gatewayclasses.gateway.networking.k8s.io").kind == "GatewayClass"
    assert kind_of("deploy").aliases == ("deployment", "deployments", "deploy")
    assert not kind_of("ippool").namespaced and kind_of("tlsroute").namespaced
    assert kind_of("po").virtual and "Pod (core)" not in supported_kinds()
    assert kind_of("gtw").api_versions() == ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"]


def test_an_unknown_type_name_gets_a_hint() -> None:
    with pytest.raises(LabError, match=r"no resource type 'gatway'; known types: pod, .*did you mean 'gateway'\?"):
        kind_of("gatway")


def test_an_unknown_field_gets_a_hint_and_keeps_the_known_fields() -> None:
    found = problems("""
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: p}
spec: {cidr: 10.50.0.0/24, blockSiz: 28}
""")
    fix = found["spec.blockSiz"].fix
    assert found["spec.blockSiz"].message == "unknown field"
    assert fix.startswith("check the spelling; did you mean 'blockSize'? known fields: allowedUses, ")
    far = problems("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {zzz: 1, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: []}}}
""")
    assert far["spec.zzz"].fix.startswith("check the spelling; known fields: ")


def test_unsupported_kind_and_unserved_version() -> None:
    found = problems("""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateways
metadata: {name: g}
---
apiVersion: apps/v2
kind: Deployment
metadata: {name: d}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}},
       spec: {containers: [{name: c, image: gcr.io/k8s-staging-gateway-api/echo-basic}]}}}
""")
    assert found["kind"].message == "Gateways (gateway.networking.k8s.io/v1) is not supported by gwlab"
    assert found["kind"].fix.endswith("; did you mean 'Gateway'?")
    assert found["apiVersion"].message == "'apps/v2' does not serve Deployment"
    assert found["apiVersion"].fix == "use apps/v1"


def test_a_gateway_of_an_unserved_version_is_reported_once() -> None:
    found: list[Problem] = []
    docs = manifests.parse_documents("""
apiVersion: gateway.networking.k8s.io/v9
kind: GatewayClass
metadata: {name: c}
spec: {controllerName: example.com/x}
""", "t.yaml", found)
    with pytest.raises(ValidationFailed) as err:
        parse_objects(docs)
    assert [p.field for p in err.value.problems] == ["apiVersion"]


def test_the_gateway_parser_reads_its_versions_from_the_table() -> None:
    from orchestrator.k8s.gateway.parse import parse_gateway_object

    with pytest.raises(ValidationFailed) as err:
        parse_gateway_object({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                              "metadata": {"name": "r"}, "spec": {}}, "t.yaml")
    assert [(p.field, p.fix) for p in err.value.problems] == [
        ("kind", "use one of: GatewayClass, Gateway, TLSRoute, TCPRoute, ReferenceGrant")]
    with pytest.raises(ValidationFailed) as err:
        parse_gateway_object({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "Gateway",
                              "metadata": {"name": "g"}, "spec": {"gatewayClassName": "c", "listeners": [
                                  {"name": "a", "port": 1, "protocol": "TCP"}]}}, "t.yaml")
    assert [(p.field, p.fix) for p in err.value.problems] == [
        ("apiVersion", "use gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1")]

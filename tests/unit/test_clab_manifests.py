"""The manifests the containerlab engine applies to a real cluster: the workshop's (lab/manifests,
the step 5 patch, the demo's Secret) by the project's strict models and, for the core kinds, by
kubernetes-validate's schemas; the Calico operator's (lab/calico-operator) by strict models of their own."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest

from orchestrator import PROJECT_ROOT, cluster, demo, manifests, pki
from orchestrator.engines.clab import plan
from orchestrator.engines.clab.operator import agreement_problems, load_operator, parse_operator
from orchestrator.errors import ValidationFailed
from orchestrator.k8s import jsonpatch
from orchestrator.k8s.kinds import parse_objects
from orchestrator.manifests import Document
from tests.unit.test_clab_topology import workshop

K8S_VERSION = "1.33"  # the kind node image's Kubernetes


def workshop_documents(tmp_path: Path) -> list[Document]:
    certs = pki.write_lab_certs(tmp_path / "certs")
    docs = manifests.read_documents([PROJECT_ROOT / "lab" / "manifests"])
    gateway = next(d for d in docs if cluster.key(d) == demo.GATEWAY)
    patched = jsonpatch.apply_patch(gateway.body, jsonpatch.parse_patch(demo.STEP5_PATCH.read_text()))
    return docs + [demo.server_certs_secret(certs), Document(str(demo.STEP5_PATCH), 0, patched)]


def test_workshop_manifests_pass_the_strict_models(tmp_path: Path) -> None:
    parsed = parse_objects(workshop_documents(tmp_path))
    kinds = {p.doc.kind for p in parsed}
    assert {"IPPool", "BGPConfiguration", "BGPPeer", "GatewayAPI", "Service", "Deployment", "Secret", "Gateway",
            "TLSRoute"} <= kinds
    # natOutgoing is the netns engine's only unmodelled field; real Calico applies it.
    assert {f for p in parsed for f in p.ignored} == {"spec.natOutgoing"}


def test_core_kinds_pass_kubernetes_schemas(tmp_path: Path) -> None:
    core = [d for d in workshop_documents(tmp_path) if manifests.group_of(d.api_version) in ("", "apps")]
    assert {d.kind for d in core} == {"Service", "Deployment", "Secret"}
    for d in core:
        kubernetes_validate.validate(plan.for_kubectl(d), K8S_VERSION, strict=True)


def test_kubernetes_schemas_catch_a_mistake(tmp_path: Path) -> None:
    dep = next(d for d in workshop_documents(tmp_path) if d.kind == "Deployment")
    body = copy.deepcopy(dep.body)
    body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8443"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, K8S_VERSION, strict=True)


def test_operator_manifests() -> None:
    config = load_operator()
    inst = config.installation
    assert inst.bgp and inst.autodetect == {"interface": "eth1"} and config.apiserver
    t = workshop()
    pools = cluster.calico_objects(parse_objects(cluster.base_documents())).pools
    assert agreement_problems(config, t, pools) == []
    # The operator's pod pool is the workshop's, field for field that both model.
    ours = next(p for p in pools if p.name == inst.pools[0].name)
    assert (inst.pools[0].cidr, inst.pools[0].block_size, inst.pools[0].node_selector) == (
        ours.cidr, ours.block_size, "all()")


def test_operator_problems_are_listed_at_once() -> None:
    docs = manifests.read_documents([PROJECT_ROOT / "lab" / "calico-operator"])
    inst = copy.deepcopy(next(d for d in docs if d.kind == "Installation").body)
    net = inst["spec"]["calicoNetwork"]
    net["bgp"] = "Disabled"
    net["nodeAddressAutodetectionV4"] = {"interface": "eth0"}
    net["ipPools"][0]["blockSize"] = 26
    net["colour"] = "blue"
    with pytest.raises(ValidationFailed) as err:
        parse_operator([Document("inst.yaml", 0, inst)])  # no APIServer either
    assert {p.field for p in err.value.problems} == {"spec.calicoNetwork.colour", "APIServer"}
    del net["colour"]
    config = parse_operator([Document("inst.yaml", 0, inst)] + [d for d in docs if d.kind == "APIServer"])
    pools = cluster.calico_objects(parse_objects(cluster.base_documents())).pools
    problems = agreement_problems(config, workshop(), pools)
    assert {p.field for p in problems} == {"spec.calicoNetwork.bgp",
                                           "spec.calicoNetwork.nodeAddressAutodetectionV4.interface",
                                           "ipPools default-ipv4-ippool"}


def test_objects_are_applied_as_users_write_them() -> None:
    docs = manifests.read_documents([PROJECT_ROOT / "lab" / "manifests" / "gateway"])
    stored = cluster.with_server_fields(docs[1], None)
    stored.body["status"] = {"addresses": [{"value": "10.10.10.1"}]}
    body = plan.for_kubectl(stored)
    assert "status" not in body and set(body["metadata"]) == {"name"}
    pool = manifests.read_documents([PROJECT_ROOT / "lab" / "manifests" / "calico"])[0]
    pool_body = plan.for_kubectl(cluster.with_server_fields(Document("x", 0, {
        **pool.body, "metadata": {"name": "p", "namespace": "default"}}), None))
    assert pool_body["metadata"] == {"name": "p"}  # cluster-scoped: no namespace

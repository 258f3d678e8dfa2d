"""The containerlab engine's view of the topology: the copy it hands to `containerlab deploy`, the kind
cluster config, and the names it derives. Validated against containerlab's own schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator import PROJECT_ROOT, topology
from orchestrator.engines.clab.derived import derived_text, derived_topology
from orchestrator.engines.clab.names import KIND_NODE_IMAGE, container_name, names_for
from orchestrator.engines.clab.operator import agreement_problems, load_operator
from tests.unit.test_topology import SCHEMA, TOPO, schema_errors

needs_schema = pytest.mark.skipif(not SCHEMA.exists(),
                                  reason="../shared/reference/clab.schema.json is not beside the checkout")


def workshop(name: str | None = None) -> topology.Topology:
    t = topology.load(TOPO)
    return t.with_name(name) if name else t


@needs_schema
def test_derived_copy_is_the_topology_plus_what_the_schema_does_not_list() -> None:
    t = workshop()
    doc = yaml.safe_load(derived_text(t, names_for(t)))
    extras = doc["topology"]["nodes"]["calico"]["extras"]
    assert extras["k8s_kind"]["deploy"]["wait"] == "0s"
    errors = schema_errors(doc)
    assert errors and all("k8s_kind" in e for e in errors)  # the only thing the schema refuses
    del doc["topology"]["nodes"]["calico"]["extras"]
    assert schema_errors(doc) == []


@needs_schema
def test_the_topology_users_read_stays_schema_valid() -> None:
    raw = yaml.safe_load(TOPO.read_text())
    assert schema_errors(raw) == [] and "extras" not in raw["topology"]["nodes"]["calico"]


def test_derived_copy_adds_what_containerlab_needs() -> None:
    t = workshop("clabt")
    n = names_for(t)
    doc = derived_topology(t, n)
    nodes = doc["topology"]["nodes"]
    assert doc["name"] == "clabt"
    kind = nodes["calico"]
    assert Path(kind["startup-config"]).is_absolute() and Path(kind["startup-config"]).is_file()
    assert kind["image"] == KIND_NODE_IMAGE
    assert kind["extras"]["k8s_kind"]["deploy"] == {"wait": "0s", "kubeconfig": str(n.kubeconfig)}
    bastion = nodes["bastion"]
    assert bastion["binds"] == [f"{n.run}:{n.run}"] and bastion["cmd"] == "sleep infinity"
    for node in t.routers:  # containerlab applies endpoint ipv4 only for some network OS kinds
        assert nodes[node.name]["exec"] == [f"ip address add {node.address.with_prefixlen} dev {node.interface}"]
    assert doc["topology"]["links"] == yaml.safe_load(TOPO.read_text())["topology"]["links"]
    assert "extras" not in yaml.safe_load(TOPO.read_text())["topology"]["nodes"]["calico"]  # the original is untouched


def test_names() -> None:
    n = names_for(workshop())
    assert n.bastion_container == "clab-tls-passthrough-bastion" and n.cluster == "calico"
    assert n.container("bastion") == n.bastion_container and n.container("calico-worker") == "calico-worker"
    assert n.bastion_conf == n.run / "bastion" / "bird.conf" and n.bridge == "gwlab-br"
    assert n.kubectl("get", "nodes") == ("kubectl", "--kubeconfig", str(n.run / "apiserver" / "kubeconfig"), "get", "nodes")
    assert [container_name(p, "lab", "b") for p in (None, "", "__lab-name", "x")] == [
        "clab-lab-b", "b", "lab-b", "x-lab-b"]


def test_kind_cluster_config() -> None:
    t = workshop()
    kind = yaml.safe_load((PROJECT_ROOT / t.kind_config).read_text())
    assert (kind["kind"], kind["apiVersion"], kind["name"]) == ("Cluster", "kind.x-k8s.io/v1alpha4", t.cluster)
    assert set(kind) <= {"kind", "apiVersion", "name", "networking", "nodes"}
    assert set(kind["networking"]) <= {"disableDefaultCNI", "podSubnet", "serviceSubnet", "kubeProxyMode"}
    roles = [node["role"] for node in kind["nodes"]]
    assert roles == ["control-plane"] + ["worker"] * (len(t.k8s_nodes) - 1)
    assert [n.role for n in t.k8s_nodes] == roles
    assert kind["networking"]["disableDefaultCNI"] is True  # Calico is the CNI
    from ipaddress import IPv4Network

    service = IPv4Network(kind["networking"]["serviceSubnet"])
    for other in (IPv4Network(kind["networking"]["podSubnet"]), t.segment, IPv4Network("10.10.10.0/26")):
        assert not service.overlaps(other)


def test_kind_config_disagreeing_with_calico_is_reported(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    kind = yaml.safe_load((PROJECT_ROOT / "lab" / "kind-cluster.yaml").read_text())
    kind["networking"]["podSubnet"] = "10.244.0.0/16"
    kind["networking"]["disableDefaultCNI"] = False
    (tmp_path / "lab" / "kind-cluster.yaml").write_text(yaml.safe_dump(kind))
    topo_file = tmp_path / "topology.clab.yml"
    topo_file.write_text(TOPO.read_text())
    t = topology.load(topo_file)
    from orchestrator import cluster
    from orchestrator.k8s.kinds import parse_objects

    pools = cluster.calico_objects(parse_objects(cluster.base_documents())).pools
    problems = agreement_problems(load_operator(), t, pools)
    fields = {p.field for p in problems}
    assert fields == {"networking.podSubnet", "networking.disableDefaultCNI"}

"""topology.clab.yml: a valid containerlab topology, and what the netns engine reads from it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from orchestrator import PROJECT_ROOT, topology, topology_gen
from orchestrator.errors import ValidationFailed

SCHEMA = PROJECT_ROOT.parent / "shared" / "reference" / "clab.schema.json"
TOPO = PROJECT_ROOT / "topology.clab.yml"


def schema_errors(doc: object) -> list[str]:
    # Draft 7 as the schema declares; its IPv6 patterns use \p{..}, which Python's re cannot
    # compile, so the schema itself is not meta-checked (only documents are validated).
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [e.message for e in validator.iter_errors(doc)]


@pytest.mark.skipif(not SCHEMA.exists(), reason="../shared/reference/clab.schema.json is not beside the checkout")
def test_topology_is_valid_containerlab() -> None:
    assert schema_errors(yaml.safe_load(TOPO.read_text())) == []


@pytest.mark.skipif(not SCHEMA.exists(), reason="../shared/reference/clab.schema.json is not beside the checkout")
def test_schema_check_can_fail() -> None:
    doc = yaml.safe_load(TOPO.read_text())
    doc["topology"]["nodes"]["bastion"]["kind"] = "no-such-kind"
    assert schema_errors(doc)


def test_workshop_topology() -> None:
    t = topology.load(TOPO)
    assert t.bastion.name == "bastion" and str(t.bastion.ip) == "10.0.1.10"
    assert [n.bgp_name for n in t.k8s_nodes] == ["control1", "worker1", "worker2"]
    assert [n.name for n in t.k8s_nodes] == ["calico-control-plane", "calico-worker", "calico-worker2"]
    assert str(t.segment) == "10.0.1.0/24" and t.asn == 64512 and t.bridge == "gwlab-br"
    assert (TOPO.parent / t.kind_config).is_file()
    assert t.node("worker1").name == "calico-worker"


def test_kind_config_matches_topology() -> None:
    t = topology.load(TOPO)
    kind = yaml.safe_load((TOPO.parent / t.kind_config).read_text())
    assert kind["name"] == t.cluster
    roles = [n["role"] for n in kind["nodes"]]
    assert roles.count("control-plane") == 1 and roles.count("worker") == len(t.k8s_nodes) - 1


def write(tmp_path: Path, doc: dict) -> Path:  # type: ignore[type-arg]
    (tmp_path / "lab").mkdir(exist_ok=True)
    (tmp_path / "lab" / "kind-cluster.yaml").write_text("kind: Cluster\n")
    path = tmp_path / "t.clab.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def sized(workers: int) -> dict:  # type: ignore[type-arg]
    return topology_gen.resized(workers)


@pytest.mark.parametrize("workers", [0, 1, 4])
def test_other_sizes(tmp_path: Path, workers: int) -> None:
    t = topology.load(write(tmp_path, sized(workers)))
    assert [n.bgp_name for n in t.k8s_nodes] == ["control1"] + [f"worker{i}" for i in range(1, workers + 1)]


def test_every_problem_listed_at_once(tmp_path: Path) -> None:
    doc = sized(2)
    doc["name"] = "Bad Name"
    doc["topology"]["nodes"]["calico-worker"]["kind"] = "docker"
    doc["topology"]["links"][0]["endpoints"][0]["ipv4"] = "10.0.1.11/24"  # the control plane's address
    doc["topology"]["links"][2]["endpoints"][0]["ipv4"] = "10.0.2.300/24"
    with pytest.raises(ValidationFailed) as err:
        topology.load(write(tmp_path, doc))
    text = str(err.value)
    assert "name" in text and "'Bad Name'" in text
    assert "topology.nodes.calico-worker.kind" in text
    assert "share 10.0.1.11" in text
    assert "10.0.2.300/24" in text
    assert str(tmp_path / "t.clab.yml") in text and len(err.value.problems) >= 4


def test_unreadable_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="cannot read"):
        topology.load(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\ntopology: [\n")
    with pytest.raises(ValidationFailed, match="not valid YAML"):
        topology.load(bad)


def test_node_not_named_like_kind(tmp_path: Path) -> None:
    doc = sized(1)
    doc["topology"]["nodes"]["k8s-node-1"] = doc["topology"]["nodes"].pop("calico-worker")
    doc["topology"]["links"][2]["endpoints"][0]["node"] = "k8s-node-1"
    with pytest.raises(ValidationFailed, match="name it as kind does"):
        topology.load(write(tmp_path, doc))

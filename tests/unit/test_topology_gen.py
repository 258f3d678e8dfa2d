"""orchestrator.topology_gen: labs of 1 to 241 nodes that load, validate as containerlab topologies,
and get a pod pool with a block for every node."""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path

import jsonschema
import pytest
import yaml

from orchestrator import PROJECT_ROOT, cluster, topology, topology_gen
from orchestrator.manifests import read_documents

# containerlab's schema, beside the checkout or beside the directory of checkouts.
SCHEMAS = [PROJECT_ROOT.parent / "shared" / "reference" / "clab.schema.json",
           PROJECT_ROOT.parent.parent / "shared" / "reference" / "clab.schema.json"]
SCHEMA = next((p for p in SCHEMAS if p.is_file()), None)


def generated(tmp_path: Path, nodes: int, mesh: bool = True) -> tuple[topology.Topology, cluster.ClusterPlan]:
    path = topology_gen.write_resized(tmp_path, nodes - 1, mesh=mesh)
    topo = topology.load(path)
    plan = cluster.plan(topo, [], cluster.base_documents([topology_gen.manifests_for(path)]))
    return topo, plan


@pytest.mark.parametrize("nodes", [1, 3, 20, 100, 200])
def test_sizes_addresses_and_pool_fit(tmp_path: Path, nodes: int) -> None:
    topo, plan = generated(tmp_path, nodes)
    assert len(topo.k8s_nodes) == nodes
    ips = [n.ip for n in topo.routers]
    assert len(set(ips)) == len(ips) and all(ip in IPv4Network("10.0.1.0/24") for ip in ips)
    assert [str(n.ip) for n in topo.k8s_nodes][:2] == ["10.0.1.11", "10.0.1.12"][:nodes]
    assert len({n.bridge_port for n in topo.routers}) == len(topo.routers)
    # The real cluster plan gives every node its own block of the generated pool.
    blocks = [s.blocks[0] for s in plan.speakers.values()]
    pool = topology_gen.pod_pool(nodes)
    assert len(set(blocks)) == nodes and all(b.subnet_of(pool.cidr) and b.prefixlen == 28 for b in blocks)
    assert len(plan.speakers[topo.k8s_nodes[0].name].mesh) == nodes - 1


def test_pool_is_the_workshops_until_it_no_longer_fits() -> None:
    assert topology_gen.pod_pool(16).cidr == IPv4Network("10.50.0.0/24")
    assert topology_gen.pod_pool(17).cidr == IPv4Network("10.50.0.0/23")
    assert topology_gen.pod_pool(100).cidr == IPv4Network("10.50.0.0/21")
    big = topology_gen.pod_pool(200)
    assert big.cidr == IPv4Network("10.50.0.0/20") and big.blocks == 256 and big.block_size == 28
    # Nodes 1-16 keep the blocks the workshop's pool gives them.
    assert list(big.cidr.subnets(new_prefix=28))[:16] == list(IPv4Network("10.50.0.0/24").subnets(new_prefix=28))


def test_the_workshops_pool_would_not_fit_200_nodes(tmp_path: Path) -> None:
    """The check above can fail: without the generated pool, 200 nodes are refused by the plan."""
    path = topology_gen.write_resized(tmp_path, 199)
    with pytest.raises(Exception, match="200 nodes need 200 blocks"):
        cluster.plan(topology.load(path), [], cluster.base_documents())


def test_manifests_replace_the_workshops_pool(tmp_path: Path) -> None:
    path = topology_gen.write_resized(tmp_path, 99)
    docs = cluster.base_documents([topology_gen.manifests_for(path)])
    pools = [d.body["spec"]["cidr"] for d in docs if d.body["kind"] == "IPPool"]
    assert sorted(pools) == ["10.10.10.0/26", "10.50.0.0/21"]
    assert [d.body["metadata"]["name"] for d in read_documents([topology_gen.manifests_for(path)])] == \
        ["default-ipv4-ippool"]


def test_no_mesh_peers_with_the_bastion_only(tmp_path: Path) -> None:
    topo, plan = generated(tmp_path, 200, mesh=False)
    speaker = plan.speakers[topo.k8s_nodes[-1].name]
    assert speaker.mesh == () and [str(p.ip) for p in speaker.global_peers] == [str(topo.bastion.ip)]


def test_kind_config_matches(tmp_path: Path) -> None:
    topo, _ = generated(tmp_path, 50)
    kind = yaml.safe_load((topo.path.parent / topo.kind_config).read_text())
    assert [n["role"] for n in kind["nodes"]] == ["control-plane"] + ["worker"] * 49
    assert kind["networking"]["podSubnet"] == "10.50.0.0/22"


@pytest.mark.skipif(SCHEMA is None, reason="containerlab's clab.schema.json is not beside the checkout")
@pytest.mark.parametrize("nodes", [3, 200])
def test_schema_valid(tmp_path: Path, nodes: int) -> None:
    assert SCHEMA is not None
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    doc = yaml.safe_load(topology_gen.write_resized(tmp_path, nodes - 1).read_text())
    assert [e.message for e in validator.iter_errors(doc)] == []
    doc["topology"]["nodes"]["calico-worker"]["kind"] = "no-such-kind"
    assert list(validator.iter_errors(doc))


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "big" / "topology.clab.yml"
    (tmp_path / "big").mkdir()
    assert topology_gen.main(["--nodes", "200", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "200 nodes" in said and "10.50.0.0/20" in said and f"-f {tmp_path / 'big' / 'topology.calico.yaml'}" in said
    assert len(topology.load(out).k8s_nodes) == 200
    assert topology_gen.main(["--workers", "241", "-o", str(out)]) == 2
    assert "--workers must be 0..240" in capsys.readouterr().err

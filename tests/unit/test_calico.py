"""Calico's resources: strict parsing, IPAM blocks, and the speaker configs confd would render."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT, cluster, manifests, topology
from orchestrator.calico.speakers import CONFIG_FILES
from orchestrator.errors import Problem, ValidationFailed
from orchestrator.k8s.kinds import parse_objects

TOPO = topology.load(PROJECT_ROOT / "topology.clab.yml")


def docs(text: str) -> list[manifests.Document]:
    problems: list[Problem] = []
    out = manifests.parse_documents(text, "test.yaml", problems)
    assert not problems
    return out


def test_workshop_manifests_have_the_workshop_values() -> None:
    parsed = {p.doc.name: p for p in parse_objects(cluster.base_documents())}
    lb = parsed["loadbalancer-ip-pool"]
    assert lb.doc.body["spec"] == {"cidr": "10.10.10.0/26", "blockSize": 31, "natOutgoing": True,
                                   "disabled": False, "assignmentMode": "Automatic",
                                   "allowedUses": ["LoadBalancer"]}
    bgp = parsed["default"].doc.body["spec"]
    assert bgp == {"logSeverityScreen": "Info", "nodeToNodeMeshEnabled": True, "nodeMeshMaxRestartTime": "120s",
                   "asNumber": 64512, "serviceLoadBalancerIPs": [{"cidr": "10.10.10.0/26"}],
                   "listenPort": 179, "bindMode": "NodeIP"}
    assert parsed["my-global-peer"].doc.body["spec"] == {"peerIP": "10.0.1.10", "asNumber": 64512}
    assert parsed["loadbalancer-ip-pool"].ignored == ["spec.natOutgoing"]


def test_speakers_as_confd_renders_them(tmp_path: Path) -> None:
    plan = cluster.plan(TOPO, [], cluster.base_documents())
    blocks = [s.blocks for s in plan.speakers.values()]
    assert [str(b[0]) for b in blocks] == ["10.50.0.0/28", "10.50.0.16/28", "10.50.0.32/28"]
    worker = plan.speakers["calico-worker"]
    files = worker.render(tmp_path)
    cfg = files["bird.cfg"]
    assert "protocol bgp Mesh_10_0_1_11 from bgp_template" in cfg
    assert "protocol bgp Mesh_10_0_1_13 from bgp_template" in cfg
    assert "protocol bgp Global_10_0_1_10 from bgp_template" in cfg
    assert "listen bgp address 10.0.1.12;" in cfg  # bindMode NodeIP
    assert "graceful restart time 120;" in cfg  # nodeMeshMaxRestartTime
    assert "route 10.50.0.16/28 blackhole;" in files["bird_aggr.cfg"]
    assert "route 10.10.10.0/26 blackhole;" in files["bird_aggr.cfg"]
    assert "filter calico_export_to_bgp_peers" in files["bird_ipam.cfg"]
    assert "if ( net ~ 10.10.10.0/26 ) then" in files["bird_ipam.cfg"]


@pytest.mark.skipif(not shutil.which("bird"), reason="BIRD 1.6 is not installed (make deps)")
def test_rendered_speaker_config_parses_with_real_bird(tmp_path: Path) -> None:
    plan = cluster.plan(TOPO, [], cluster.base_documents())
    for node, speaker in plan.speakers.items():
        d = tmp_path / node
        d.mkdir()
        for name, text in speaker.render(d).items():
            (d / name).write_text(text)
        out = subprocess.run(["bird", "-p", "-c", str(d / CONFIG_FILES[0])], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr


def test_mesh_disabled_and_external_ips() -> None:
    change = docs("""
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec:
  nodeToNodeMeshEnabled: false
  asNumber: 64512
  serviceLoadBalancerIPs: [{cidr: 10.10.10.0/26}]
  serviceExternalIPs: [{cidr: 192.0.2.0/24}]
""")
    plan = cluster.plan(TOPO, cluster.base_documents(), change)
    s = plan.speakers["calico-control-plane"]
    assert s.mesh == () and [p.protocol for p in s.global_peers] == ["Global_10_0_1_10"]
    assert [str(c) for c in s.service_cidrs] == ["10.10.10.0/26", "192.0.2.0/24"]
    assert [c.verb for c in plan.changes] == ["configured"]


def test_every_problem_at_once_and_unknown_fields() -> None:
    bad = docs("""
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: p}
spec: {cidr: 10.50.0.1/24, blockSize: 40, allowedUses: [Workload, Gateway], colour: blue}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: x}
spec: {peerIP: 10.0.1.300, asNumber: 64512}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {}
""")
    with pytest.raises(ValidationFailed) as err:
        parse_objects(bad)
    fields = {p.field for p in err.value.problems}
    assert {"spec.cidr", "spec.allowedUses[1]", "spec.colour", "spec.peerIP", "kind"} <= fields
    assert all(p.file == "test.yaml" or p.file.startswith("test.yaml (document") for p in err.value.problems)


def test_more_nodes_than_blocks_is_an_error() -> None:
    # blockSize 25 cuts the /24 into two blocks: three nodes cannot each get one.
    small = docs("""
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: default-ipv4-ippool}
spec: {cidr: 10.50.0.0/24, blockSize: 25}
""")
    with pytest.raises(ValidationFailed, match="3 nodes need 3 blocks but the workload pools hold 2"):
        cluster.plan(TOPO, cluster.base_documents(), small)

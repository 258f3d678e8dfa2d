"""What every part of a containerlab lab is called, and the versions the engine pins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator import PROJECT_ROOT
from orchestrator.rundir import RunDir
from orchestrator.topology import Topology

CALICO_VERSION = "v3.30.5"  # Calico open source 3.30: its Ingress Gateway is Envoy Gateway
TIGERA_OPERATOR_URL = (f"https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}"
                       "/manifests/tigera-operator.yaml")
KIND_NODE_IMAGE = "kindest/node:v1.33.1"  # Kubernetes 1.33, tested by Calico 3.30; kind >= 0.29
BASTION_IMAGE = "gwlab/bastion:bird1.6"
BASTION_BASE_IMAGE = "debian:bookworm-slim"  # FROM of lab/bastion/Dockerfile
BASTION_CONTEXT = PROJECT_ROOT / "lab" / "bastion"
OPERATOR_MANIFESTS = PROJECT_ROOT / "lab" / "calico-operator"
BASTION_SOCKET = "/run/bird/bird.ctl"  # inside the bastion container
CALICO_NODE_SOCKET = "/var/run/calico/bird.ctl"  # inside calico-node
ROLE_LABEL = "gwlab.role"  # our topology's node label; containerlab copies it onto the container
CLAB_LAB_LABEL = "containerlab"  # containerlab's label: the lab's name
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"  # kind's label: the cluster's name


def raw_topology(topo: Topology) -> dict[str, Any]:
    raw = yaml.safe_load(topo.path.read_text())
    return raw if isinstance(raw, dict) else {}


def container_name(prefix: str | None, lab: str, node: str) -> str:
    """The container containerlab makes for a node (its `prefix` rule: default `clab`)."""
    if prefix is None:
        prefix = "clab"
    if prefix == "":
        return node
    if prefix == "__lab-name":
        return f"{lab}-{node}"
    return f"{prefix}-{lab}-{node}"


@dataclass(frozen=True)
class ClabNames:
    lab: str
    run: Path  # the lab's run directory, bind-mounted at the same path into the bastion
    topology: Path  # the derived copy containerlab deploys
    kubeconfig: Path
    bastion: str  # the bastion's topology node name
    bastion_container: str
    bastion_image: str
    bastion_conf: Path  # the file the bastion's BIRD reads (host path = container path)
    cluster: str  # the kind cluster's name (the k8s-kind node)
    kind_image: str
    bridge: str  # the host bridge of the segment
    bird_socket: str = BASTION_SOCKET

    def container(self, node: str) -> str:
        """The container of a topology node: the bastion's is containerlab's, a kind node's is its name."""
        return self.bastion_container if node == self.bastion else node

    def kubectl(self, *args: str) -> tuple[str, ...]:
        return ("kubectl", "--kubeconfig", str(self.kubeconfig), *args)


def names_for(topo: Topology) -> ClabNames:
    raw = raw_topology(topo)
    nodes = (raw.get("topology") or {}).get("nodes") or {}
    bastion_spec = nodes.get(topo.bastion.name) or {}
    kind_spec = nodes.get(topo.cluster) or {}
    files = RunDir.of(topo, "clab")
    run = files.root
    prefix = raw.get("prefix")
    return ClabNames(
        lab=topo.name, run=run, topology=run / "topology.clab.yml", kubeconfig=files.kubeconfig,
        bastion=topo.bastion.name,
        bastion_container=container_name(None if prefix is None else str(prefix), topo.name, topo.bastion.name),
        bastion_image=str(bastion_spec.get("image") or BASTION_IMAGE),
        bastion_conf=files.node(topo.bastion.name).bird_config,
        cluster=topo.cluster, kind_image=str(kind_spec.get("image") or KIND_NODE_IMAGE), bridge=topo.bridge)

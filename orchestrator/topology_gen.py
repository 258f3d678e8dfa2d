"""The project's topology resized: the same bastion and control plane, N workers (10.0.1.12 on),
the kind config that matches it, and a pod pool that holds a block for every node.

    python -m orchestrator.topology_gen --workers 199 -o /tmp/big/topology.clab.yml [--no-mesh]
    gwlab up -t /tmp/big/topology.clab.yml -f /tmp/big/topology.calico.yaml --bgp-only

The pool keeps the workshop's name and block size (default-ipv4-ippool, /28 blocks) and starts at
10.50.0.0, so it replaces the workshop's pool when applied and nodes 1-16 keep their blocks; it
grows from the workshop's /24 to the smallest prefix with a block per node (a /20 for 200 nodes).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import yaml

from orchestrator import PROJECT_ROOT

TOPOLOGY = PROJECT_ROOT / "topology.clab.yml"
BGP_MANIFEST = PROJECT_ROOT / "lab" / "manifests" / "calico" / "20-bgp.yaml"
MAX_WORKERS = 240  # the segment is a /24: nodes take 10.0.1.11 to 10.0.1.251
POOL_BASE = IPv4Network("10.50.0.0/24")  # the workshop's pod pool
BLOCK_SIZE = 28  # the workshop's: 16 addresses per node
POOL_NAME = "default-ipv4-ippool"


@dataclass(frozen=True)
class PodPool:
    cidr: IPv4Network
    block_size: int

    @property
    def blocks(self) -> int:
        return 1 << (self.block_size - self.cidr.prefixlen)

    def manifest(self) -> dict[str, Any]:
        return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": POOL_NAME},
                "spec": {"cidr": str(self.cidr), "blockSize": self.block_size, "natOutgoing": True,
                         "disabled": False, "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"]}}


def pod_pool(nodes: int) -> PodPool:
    """The workshop's pool when it holds a block per node, else the smallest one from 10.50.0.0 that does."""
    if nodes < 1:
        raise ValueError("a cluster has at least one node")
    prefix = min(POOL_BASE.prefixlen, BLOCK_SIZE - math.ceil(math.log2(nodes)))
    return PodPool(IPv4Network(f"{POOL_BASE.network_address}/{prefix}"), BLOCK_SIZE)


def resized(workers: int, base: Path = TOPOLOGY) -> dict[str, Any]:
    if not 0 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 0..{MAX_WORKERS}")
    doc: dict[str, Any] = yaml.safe_load(base.read_text())
    nodes, links = doc["topology"]["nodes"], doc["topology"]["links"]
    cluster = next(n for n, spec in nodes.items() if (spec or {}).get("kind") == "k8s-kind")
    bridge = next(n for n, spec in nodes.items() if (spec or {}).get("kind") == "bridge")
    prefix = f"{cluster}-worker"
    for name in [n for n in nodes if n.startswith(prefix)]:
        del nodes[name]
    links[:] = [link for link in links if not str(link["endpoints"][0].get("node", "")).startswith(prefix)]
    for i in range(1, workers + 1):
        name = prefix + ("" if i == 1 else str(i))
        nodes[name] = {"kind": "ext-container", "labels": {"gwlab.role": "k8s-node"}}
        links.append({"type": "veth", "endpoints": [
            {"node": name, "interface": "eth1", "ipv4": f"10.0.1.{11 + i}/24"},
            {"node": bridge, "interface": f"gwlab-w{i}"}]})
    return doc


def kind_config(base_text: str, workers: int, pool: PodPool) -> str:
    """kind's cluster config for the same nodes, its pod subnet the pool's."""
    doc: dict[str, Any] = yaml.safe_load(base_text)
    doc.setdefault("networking", {})["podSubnet"] = str(pool.cidr)
    doc["nodes"] = [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(workers)]
    return "# kind cluster for the containerlab engine, written by orchestrator.topology_gen\n" + \
        yaml.safe_dump(doc, sort_keys=False)


def calico_manifests(pool: PodPool, mesh: bool = True) -> str:
    """The pod pool, and without the node-to-node mesh the workshop's BGPConfiguration with it off
    (every node then peers with the bastion only, as a Calico cluster behind route reflectors does
    with its reflectors)."""
    docs = [pool.manifest()]
    if not mesh:
        bgp = next(d for d in yaml.safe_load_all(BGP_MANIFEST.read_text()) if d["kind"] == "BGPConfiguration")
        bgp["spec"]["nodeToNodeMeshEnabled"] = False
        docs.append(bgp)
    return yaml.safe_dump_all(docs, sort_keys=False)


def write_resized(directory: Path, workers: int, base: Path = TOPOLOGY, output: Path | None = None,
                  mesh: bool = True) -> Path:
    """Write the topology (default: topology-<nodes>-nodes.clab.yml in `directory`), the kind config it
    names beside it, and its Calico manifests as <stem>.calico.yaml (see `manifests_for`)."""
    doc = resized(workers, base)
    pool = pod_pool(workers + 1)
    path = output or directory / f"topology-{workers + 1}-nodes.clab.yml"
    kind_cfg = next(spec["startup-config"] for spec in doc["topology"]["nodes"].values()
                    if (spec or {}).get("kind") == "k8s-kind")
    target = path.parent / kind_cfg
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(kind_config((base.parent / kind_cfg).read_text(), workers, pool))
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    manifests_for(path).write_text(calico_manifests(pool, mesh))
    return path


def manifests_for(topology_path: Path) -> Path:
    """Where write_resized puts a topology's Calico manifests: `up -f` takes them."""
    return topology_path.with_name(topology_path.name.split(".")[0] + ".calico.yaml")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m orchestrator.topology_gen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--workers", type=int, help=f"worker nodes besides the control plane (0..{MAX_WORKERS})")
    size.add_argument("--nodes", type=int, help=f"cluster nodes, the control plane included (1..{MAX_WORKERS + 1})")
    ap.add_argument("-o", "--output", required=True, metavar="FILE", help="the topology file to write")
    ap.add_argument("--no-mesh", action="store_true",
                    help="turn Calico's node-to-node mesh off: each node peers with the bastion only")
    args = ap.parse_args(argv)
    workers = args.workers if args.workers is not None else args.nodes - 1
    if not 0 <= workers <= MAX_WORKERS:
        print(f"topology_gen: --workers must be 0..{MAX_WORKERS} (--nodes 1..{MAX_WORKERS + 1}): the segment "
              f"10.0.1.0/24 gives nodes 10.0.1.11 to 10.0.1.251", file=sys.stderr)
        return 2
    out = Path(args.output)
    path = write_resized(out.parent, workers, output=out, mesh=not args.no_mesh)
    pool = pod_pool(workers + 1)
    print(f"wrote {path} ({workers + 1} nodes), its kind config, and {manifests_for(path)} (IPPool {POOL_NAME} "
          f"{pool.cidr}, blockSize {pool.block_size}: {pool.blocks} blocks"
          + ("; node-to-node mesh off" if args.no_mesh else "") + ")")
    print(f"run: gwlab up -t {path} -f {manifests_for(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

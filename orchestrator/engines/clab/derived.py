"""The copy of topology.clab.yml that `containerlab deploy` gets, written in the lab's run directory.

It adds only what the containerlab engine needs and the file users read must not carry:
- the k8s-kind node: `extras.k8s_kind.deploy.wait: 0s` (the nodes stay NotReady until Calico is
  installed; containerlab would otherwise wait 15 minutes; containerlab's schema does not list the
  key), the kubeconfig path in the run directory, an absolute startup-config and a pinned node image;
- the bastion: the run directory bind-mounted at the same path (its bird.conf, the certificates for
  the workshop's curl), and a command that keeps it running while gwlab starts and stops BIRD;
- every node linked to the segment: its address, from the link's `ipv4`, set with `exec`
  (containerlab applies endpoint addresses only for some network OS kinds, not linux or ext-container).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from orchestrator.engines.clab.names import ClabNames, raw_topology
from orchestrator.topology import Topology

KEEP_RUNNING = "sleep infinity"


def derived_topology(topo: Topology, names: ClabNames) -> dict[str, Any]:
    doc = copy.deepcopy(raw_topology(topo))
    doc["name"] = topo.name
    nodes: dict[str, Any] = doc["topology"]["nodes"]
    kind = dict(nodes.get(topo.cluster) or {})
    kind["startup-config"] = str((topo.path.parent / topo.kind_config).resolve())
    kind["image"] = names.kind_image
    extras = dict(kind.get("extras") or {})
    extras["k8s_kind"] = {"deploy": {"wait": "0s", "kubeconfig": str(names.kubeconfig)}}
    kind["extras"] = extras
    nodes[topo.cluster] = kind
    for node in topo.routers:
        spec = dict(nodes.get(node.name) or {})
        address = f"ip address add {node.address.with_prefixlen} dev {node.interface}"
        spec["exec"] = [*(spec.get("exec") or []), address]
        if node is topo.bastion:
            spec["image"] = names.bastion_image
            spec["cmd"] = KEEP_RUNNING
            spec["binds"] = [*(spec.get("binds") or []), f"{names.run}:{names.run}"]
        nodes[node.name] = spec
    return doc


def derived_text(topo: Topology, names: ClabNames) -> str:
    header = (f"# Written by gwlab for `containerlab deploy`: {topo.path} with what the containerlab engine\n"
              "# adds (see orchestrator/engines/clab/derived.py). Made again on every `gwlab up`.\n")
    return header + yaml.safe_dump(derived_topology(topo, names), sort_keys=False)

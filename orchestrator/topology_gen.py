"""The project's topology resized: the same bastion and control plane, N workers (10.0.1.12 on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from orchestrator import PROJECT_ROOT

TOPOLOGY = PROJECT_ROOT / "topology.clab.yml"
MAX_WORKERS = 240


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


def write_resized(directory: Path, workers: int, base: Path = TOPOLOGY) -> Path:
    """Write it beside a copy of the kind config it names, so that it loads from `directory`."""
    doc = resized(workers, base)
    kind_cfg = next(spec["startup-config"] for spec in doc["topology"]["nodes"].values()
                    if (spec or {}).get("kind") == "k8s-kind")
    target = directory / kind_cfg
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((base.parent / kind_cfg).read_text())
    path = directory / f"topology-{workers + 1}-nodes.clab.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path

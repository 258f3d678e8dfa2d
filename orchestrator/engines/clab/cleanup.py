"""Removing a containerlab lab: exact from its state file, and by labels when there is none.

Ours are: containers containerlab labels with the lab's name that carry our topology's `gwlab.role`
label (the bastion); the kind cluster the lab recorded making (or named in its run directory, or
wired to our bastion), found by kind's `io.x-k8s.kind.cluster` label; the host bridge the lab recorded
making. A user's own containers, clusters and bridges are never touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import yaml

from orchestrator.engines.clab.bridge import Bridges
from orchestrator.engines.clab.docker import DockerApi
from orchestrator.engines.clab.names import CLAB_LAB_LABEL, KIND_CLUSTER_LABEL, ROLE_LABEL, ClabNames
from orchestrator.engines.clab.runner import Runner
from orchestrator.errors import LabError
from orchestrator.state import LabState


def facts_of(state: LabState | None) -> dict[str, Any]:
    return dict((state.facts.clab if state else None) or {})


def our_containers(docker: DockerApi, lab: str | None = None) -> list[str]:
    return sorted(c.name for c in docker.containers(CLAB_LAB_LABEL, lab) if ROLE_LABEL in c.labels)


def labs_with_containers(docker: DockerApi) -> set[str]:
    """Labs of ours that still have containers, from containerlab's label."""
    return {c.labels[CLAB_LAB_LABEL] for c in docker.containers(CLAB_LAB_LABEL)
            if ROLE_LABEL in c.labels and c.labels.get(CLAB_LAB_LABEL)}


def _cluster_in_run_dir(names: ClabNames) -> str | None:
    """The k8s-kind node of the topology copy this lab handed to containerlab, if it is still there."""
    try:
        doc = yaml.safe_load(names.topology.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    nodes = (doc.get("topology") or {}).get("nodes") or {}
    return next((str(n) for n, spec in nodes.items() if (spec or {}).get("kind") == "k8s-kind"), None)


def remove_lab(names: ClabNames, state: LabState | None, docker: DockerApi | None, docker_why: str,
               runner: Runner, bridges: Bridges, which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """Everything of the lab's outside its run directory; idempotent. Returns what was removed."""
    facts = facts_of(state)
    made = list(facts.get("made") or [])
    removed: list[str] = []
    if docker is not None:
        bastions = our_containers(docker, names.lab)
        in_run_dir = _cluster_in_run_dir(names)
        if (bastions or "deploy" in made) and names.topology.is_file() and which("containerlab"):
            out = runner.run(("containerlab", "destroy", "--cleanup", "-t", str(names.topology)), timeout=600)
            if out.ok:
                removed.append(f"containerlab lab {names.lab} (containerlab destroy --cleanup)")
        removed += [f"container {c}" for c in our_containers(docker, names.lab) if docker.remove(c)]
        cluster = str(facts.get("cluster") or in_run_dir or names.cluster)
        if "deploy" in made or in_run_dir or bastions:
            removed += _remove_cluster(cluster, docker, runner, which)
    elif "deploy" in made:
        raise LabError(f"lab {names.lab}: {docker_why}, so its containers and kind cluster {names.cluster} cannot "
                       "be removed now; its state is kept (fix: start Docker, then `gwlab down` again)")
    bridge = str(facts.get("bridge") or names.bridge)
    if "bridge" in made and bridges.exists(bridge) and bridges.remove(bridge):
        removed.append(f"bridge {bridge}")
    return removed


def _remove_cluster(cluster: str, docker: DockerApi, runner: Runner,
                    which: Callable[[str], str | None]) -> list[str]:
    nodes = sorted(c.name for c in docker.containers(KIND_CLUSTER_LABEL, cluster))
    if not nodes:
        return []
    if which("kind"):
        runner.run(("kind", "delete", "cluster", "--name", cluster), timeout=300)
    for leftover in docker.containers(KIND_CLUSTER_LABEL, cluster):
        docker.remove(leftover.name)
    return [f"kind cluster {cluster} ({', '.join(nodes)})"]

"""Impairments declared in topology.clab.yml (`vars.netem`): validated, and the kernel asked for netem,
before `up` makes anything; applied once the links exist.

On a kernel without the netem qdisc, `up` refuses a topology that declares impairments (naming the
file, the link and the reason) rather than warn and continue: a lab that silently lacks the delay or
loss its topology asks for would give measurements that look right and are not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from orchestrator.errors import LabError, Problem, ValidationFailed
from orchestrator.impair.declared import DeclaredImpairment, declared_impairments
from orchestrator.state import ns_name
from orchestrator.topology import Topology

if TYPE_CHECKING:
    from orchestrator.engines.base import Progress
    from orchestrator.lab import Lab


def declared(topo: Topology) -> list[DeclaredImpairment]:
    """The topology's declared impairments; every problem with them at once (ValidationFailed)."""
    try:
        raw: Any = yaml.safe_load(topo.path.read_text())
    except (OSError, yaml.YAMLError):
        return []  # the topology's own load has reported it already
    found = declared_impairments(raw, str(topo.path))
    problems = list(found.problems)
    names = {n.name for n in topo.routers} | {topo.bridge}
    for d in found.impairments:
        if d.node not in names:
            problems.append(Problem(str(topo.path), d.where, f"{d.node!r} is not a node of the lab",
                                    "nodes are: " + ", ".join(sorted(names))))
    if problems:
        raise ValidationFailed(problems)
    return list(found.impairments)


def declared_for_up(topo: Topology) -> list[DeclaredImpairment]:
    found = declared(topo)
    if found:
        from orchestrator.impair.tc import NO_NETEM_FIX, netem_available

        if not netem_available():
            links = "; ".join(f"{d.where} ({d.node}:{d.interface}: {d.spec.describe()})" for d in found)
            raise LabError(f"{topo.path}: declares impairments ({links}), but {NO_NETEM_FIX}; "
                           "nothing was made (remove the links' vars.netem to run without them)")
    return found


def namespace_of(topo: Topology, node: str) -> str:
    return ns_name(topo.name, node if node == topo.bridge else topo.node(node).name)


def after_build(lab: Lab, found: list[DeclaredImpairment], progress: Progress) -> None:
    """Once the links exist: the declared impairments applied, and the lab's supervisor started."""
    if lab.state.engine == "netns":
        from orchestrator.faults import supervisor

        lab.state.add_processes([supervisor.spawn(lab.state, lab.topo.bastion.name)])
    if not found:
        return
    from orchestrator.impair.tc import set_netem

    for d in found:
        set_netem(namespace_of(lab.topo, d.node), d.interface, d.spec)
    progress("impairments declared in the topology applied: "
             + "; ".join(f"{d.node}:{d.interface} {d.spec.describe()}" for d in found))

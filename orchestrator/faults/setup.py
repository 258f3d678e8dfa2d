"""Impairments declared in topology.clab.yml (`vars.netem`): validated, and the kernel asked whether it
can apply every declared field, before `up` makes anything; applied once the links exist.

On a kernel without the netem qdisc a rate (tbf) and a loss (nftables) are still applied; a topology
that declares a field nothing here can apply (delay, jitter, corruption, duplication) is refused,
naming the file, the links and the fields, rather than warn and continue: a lab that silently lacks the
delay its topology asks for would give measurements that look right and are not."""

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
        from orchestrator.impair.apply import decide
        from orchestrator.impair.plan import missing, works_here

        plans = [(d, decide(d.spec)) for d in found]
        refused = [(d, p) for d, p in plans if not p.possible]
        if refused:
            links = "; ".join(f"{d.where} (vars.netem of {d.node}:{d.interface}: {', '.join(p.refused)})"
                              for d, p in refused)
            fields = tuple(dict.fromkeys(f for _, p in refused for f in p.refused))
            support = refused[0][1].support
            raise LabError(f"{topo.path}: declares impairments this kernel cannot apply: {links}; "
                           f"{missing(support, fields)}; {works_here(support)}; nothing was made "
                           f"(remove those fields from the links' vars.netem to run without them)")
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
    from orchestrator.impair.apply import set_impairment

    for d in found:
        set_impairment(namespace_of(lab.topo, d.node), d.interface, d.spec, f"{d.node}:{d.interface}")
    progress("impairments declared in the topology applied: "
             + "; ".join(f"{d.node}:{d.interface} {d.spec.describe()}" for d in found))

"""Impairments declared in topology.clab.yml, under `vars.netem` of a link or of one endpoint.

containerlab's schema lets a link carry `vars` (link-vars) and each endpoint of a veth link its own
(endpoint-vars), both free-form, so the file stays a valid containerlab topology:

    links:
      - type: veth
        vars: {netem: {delay: 20ms}}           # both ends: each delays what it sends
        endpoints:
          - {node: bastion, interface: eth1, vars: {netem: {loss: 1}}}
          - {node: gwlab-br, interface: gwlab-bastion}

An endpoint's values are laid over the link's, option by option (above: bastion:eth1 gets delay
20ms and loss 1%, the bridge port delay 20ms). netem shapes what an interface sends, so a delay
on both ends adds twice to a round trip. The values are those of `gwlab netem set`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from orchestrator.errors import Problem
from orchestrator.impair.spec import OPTIONS, NetemSpec, check_values

VARS_KEY: Final = "netem"


@dataclass(frozen=True)
class DeclaredImpairment:
    node: str
    interface: str
    spec: NetemSpec
    where: str  # the link it was declared on, e.g. topology.links[2]


@dataclass(frozen=True)
class Declared:
    impairments: tuple[DeclaredImpairment, ...]
    problems: tuple[Problem, ...]

    def by_endpoint(self) -> dict[tuple[str, str], NetemSpec]:
        return {(d.node, d.interface): d.spec for d in self.impairments}


def _netem_of(holder: Any, path: str, file: str, problems: list[Problem]) -> dict[str, tuple[object, str]]:
    """The `vars.netem` options of a link or endpoint: option -> (value, its YAML path)."""
    if not isinstance(holder, Mapping) or "vars" not in holder:
        return {}
    variables = holder["vars"]
    if not isinstance(variables, Mapping) or VARS_KEY not in variables:
        return {}
    netem = variables[VARS_KEY]
    where = f"{path}.vars.{VARS_KEY}"
    if netem is None:  # `netem:` with nothing under it
        return {}
    if not isinstance(netem, Mapping):
        problems.append(Problem(file, where, f"must be a mapping of impairments, not {netem!r}",
                                f"write e.g. {VARS_KEY}: {{delay: 20ms, loss: 1}} (options: {', '.join(OPTIONS)})"))
        return {}
    return {str(k): (v, f"{where}.{k}") for k, v in netem.items()}


def _endpoint(ep: Any) -> tuple[str, str] | None:
    if isinstance(ep, str) and ":" in ep:
        node, interface = ep.split(":", 1)
        return node, interface
    if isinstance(ep, Mapping) and "node" in ep and "interface" in ep:
        return str(ep["node"]), str(ep["interface"])
    return None


def declared_impairments(raw: Any, file: str) -> Declared:
    """Every impairment the topology declares, per (node, interface), and every problem with them.

    `raw` is the loaded YAML document; links this function cannot read are left to the topology's
    own checks, unless they declare an impairment."""
    problems: list[Problem] = []
    found: dict[tuple[str, str], DeclaredImpairment] = {}
    topo = raw.get("topology") if isinstance(raw, Mapping) else None
    links = topo.get("links") if isinstance(topo, Mapping) else None
    for i, link in enumerate(links if isinstance(links, list) else []):
        path = f"topology.links[{i}]"
        on_link = _netem_of(link, path, file, problems)
        endpoints = link.get("endpoints") if isinstance(link, Mapping) else None
        per_end = [_netem_of(ep, f"{path}.endpoints[{j}]", file, problems)
                   for j, ep in enumerate(endpoints if isinstance(endpoints, list) else [])]
        if not on_link and not any(per_end):
            continue
        kind = link.get("type", "veth") if isinstance(link, Mapping) else None
        if kind != "veth" or not isinstance(endpoints, list) or len(endpoints) != 2:
            problems.append(Problem(file, path, f"impairments are declared on a {kind} link",
                                    "declare vars.netem on a veth link between two nodes"))
            continue
        for j, ep in enumerate(endpoints):
            end = _endpoint(ep)
            if end is None:
                problems.append(Problem(file, f"{path}.endpoints[{j}]", f"cannot read endpoint {ep!r}",
                                        "write node:interface, or {node: ..., interface: ...}"))
                continue
            values = {**on_link, **per_end[j]}
            names = {k: p for k, (_, p) in values.items()}
            if "jitter" in names and "delay" not in names:  # so the fix says where a delay goes
                names["delay"] = names["jitter"].rsplit(".", 1)[0] + ".delay"
            spec, bad = check_values({k: v for k, (v, _) in values.items()}, file, names)
            problems += bad
            if spec is None or spec.empty:
                continue
            if end in found:
                problems.append(Problem(file, path, f"{end[0]}:{end[1]} is impaired on {found[end].where} already",
                                        "declare an interface's impairment once"))
                continue
            found[end] = DeclaredImpairment(end[0], end[1], spec, path)
    return Declared(tuple(found.values()), tuple(dict.fromkeys(problems)))  # a link's problem once, not per end

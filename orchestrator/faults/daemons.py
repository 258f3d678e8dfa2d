"""What verify says of the lab's daemons and of checks a fault makes moot.

A node's BIRD is `dead` (its recorded process is gone and nobody stopped it: the supervisor starts
it again) or `stopped` (by `gwlab bird stop`, or by a `gwlab fault kill` until `fault clear`). A
BGP session's row names that instead of BIRD's "start Passive". Routes from a peer in graceful
restart are marked stale. While a fault is injected and the workshop's request does not get
through, the refusal checks (unknown SNI, no SNI, plain HTTP) cannot tell a refusal by the gateway
from the fault: they are marked not judged rather than passed or failed."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from orchestrator.checks import Result
from orchestrator.engines.netns import procs

if TYPE_CHECKING:
    from orchestrator.lab import Lab

GR_ACTIVE = "Neighbor graceful restart active"  # BIRD 1.6's `show protocols all`; its routes are not marked


def daemon_states(lab: Lab) -> dict[str, str]:
    """role -> `dead ...` or `stopped ...`, for each BIRD and pod the lab should be running."""
    out: dict[str, str] = {}
    killed = {role: f for f in lab.state.faults for role in f.roles}
    for node in lab.topo.routers:
        role = f"bird:{node.name}"
        proc = lab.state.process(role)
        if proc is None:
            out[role] = f"BIRD on {node.name} stopped (gwlab bird stop; `gwlab bird start {node.name}` starts it)"
        elif not procs.alive(proc):
            out[role] = _gone(f"BIRD on {node.name}", proc.pid, killed.get(role))
    for proc in lab.state.processes:
        if proc.role.startswith("pod:") and not procs.alive(proc):
            out[proc.role] = _gone(f"pod/{proc.role.split('/', 1)[-1]}", proc.pid, killed.get(proc.role))
    return out


def _gone(what: str, pid: int, fault: object) -> str:
    if fault is not None:
        return f"{what} stopped (gwlab fault {getattr(fault, 'describe')()}; `gwlab fault clear` starts it)"
    return f"{what} dead (pid {pid} is gone; nothing stopped it)"


def graceful_restart_peers(text: str) -> set[str]:
    """Protocols of `show protocols all` (BIRD 1.6) whose neighbour is in graceful restart."""
    found, current = set(), ""
    for line in text.splitlines():
        if line and not line[0].isspace() and not line[0].isdigit() and len(line.split()) >= 3:
            current = line.split()[0]
        elif GR_ACTIVE in line and current:
            found.add(current)
    return found


def annotate(lab: Lab, results: list[Result]) -> list[Result]:
    if lab.state.engine != "netns":  # the containerlab engine's daemons are containers, not records of ours
        return results
    states = daemon_states(lab)
    by_bgp = {n.bgp_name: n.name for n in lab.topo.k8s_nodes}
    try:
        stale = graceful_restart_peers(lab.engine.birdc(lab.topo.bastion.name, "show protocols all").text)
    except Exception:  # a bastion that does not answer is what the session rows already say
        stale = set()
    out = []
    curl_ok = all(r.ok for r in results if r.name.startswith("curl "))
    for r in results:
        for bgp, node in by_bgp.items():
            down = states.get(f"bird:{node}")
            if r.name.startswith(f"BGP session {bgp} ") and down and not r.ok:
                r = dataclasses.replace(r, observed=down)
            routes = r.where.startswith("bastion: show route all") or r.where.startswith("bastion: netlink")
            if bgp in stale and routes and bgp in r.observed:
                r = dataclasses.replace(r, observed=f"{r.observed}; routes via {bgp} stale (graceful restart)")
        refusal = r.expect.startswith("refused")
        if refusal and lab.state.faults and not curl_ok:
            r = dataclasses.replace(r, ok=False, judged=False, observed=(
                f"not judged while {', '.join(f.describe() for f in lab.state.faults)} is injected "
                f"and the workshop's request fails ({r.observed})"))
        out.append(r)
    shown = {r.observed for r in out}
    out += [Result(s.split(" ", 3)[2] if s.startswith("BIRD") else s.split()[0], "the lab's processes",
                   "running", s, False) for role, s in states.items() if s not in shown]
    return out

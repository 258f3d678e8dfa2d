"""The bastion's side of the lab: its import filter, changed only through the safe push."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from orchestrator import checks
from orchestrator.bird import push as bird_push

if TYPE_CHECKING:
    from orchestrator.lab import Lab


def push_filter(lab: Lab, accepted: tuple[IPv4Network, ...], wait: float = 3.0) -> bird_push.PushResult:
    """The workshop's prerequisite 3, automated: render the filter, push it safely, check, confirm."""
    cfg = lab.bastion_config(accepted)
    bastion = lab.topo.bastion.name

    def birdc(command: str) -> tuple[bool, str]:
        reply = lab.engine.birdc(bastion, command)
        return reply.ok, reply.text

    def verify() -> list[checks.Result]:
        expected = [p for p in lab.lb_prefixes() if any(p.subnet_of(a) for a in accepted)]
        wanted = [checks.session_check(lab.topo, n.bgp_name, n.ip) for n in lab.topo.k8s_nodes]
        wanted += [checks.route_via_all_check(lab.topo, p) for p in expected]
        return checks.run(lab.engine, wanted, wait)

    result = bird_push.push(lab.bastion_conf, cfg.render(), cfg.dialect, birdc, verify)
    if result.confirmed:
        lab.state.facts["bastion_accepts"] = [str(a) for a in accepted]
        lab.state.save()
    return result

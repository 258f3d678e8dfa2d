"""kube-proxy's part, as an nftables ruleset per node: a Service's ClusterIP and LoadBalancer IP
are DNATed to its ready endpoints (chosen at random), or rejected when it has none; traffic DNATed
to an endpoint behind another node is SNATed to this node, so that its replies come back here.
A LoadBalancer Service with externalTrafficPolicy Local sends its LoadBalancer address only to the
node's own endpoints (never SNATed: the client's address reaches the pod), rejected when it has none."""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Sequence

from orchestrator.k8s.world import Endpoint, ServiceSpec

TABLE = "gwlab_kube_proxy"


def _targets(eps: Sequence[Endpoint]) -> str:
    return ", ".join(f"{i} : {e.ip} . {e.port}" for i, e in enumerate(eps))


def _shared(eps: Sequence[Endpoint]) -> str:
    """The name of the map of an endpoint set several rules share (from the set, so it stays put)."""
    return "endpoints_" + hashlib.sha256(_targets(eps).encode()).hexdigest()[:12]


def _rule(ip: str, port: int, svc: ServiceSpec, what: str, eps: Sequence[Endpoint], shared: bool) -> str:
    comment = f'comment "{svc.key}:{port} {what}"'
    match = f"ip daddr {ip} tcp dport {port} counter"
    if not eps:
        return f"    {match} reject with tcp reset {comment}"
    if len(eps) == 1:
        return f"    {match} dnat ip to {eps[0].ip}:{eps[0].port} {comment}"
    if shared:
        return f"    {match} dnat ip to numgen random mod {len(eps)} map @{_shared(eps)} {comment}"
    return f"    {match} dnat ip to numgen random mod {len(eps)} map {{ {_targets(eps)} }} {comment}"


def ruleset(node_ip: str, services: list[ServiceSpec], node: str = "") -> str:
    found: list[tuple[str, int, ServiceSpec, str, tuple[Endpoint, ...]]] = []
    for svc in sorted(services, key=lambda s: s.key):
        for port in svc.ports:
            for ip, what in ((svc.cluster_ip, "ClusterIP"), (svc.lb_ip, "LoadBalancer")):
                if not ip:
                    continue
                eps = tuple(svc.endpoints.get(port.port, ()))
                if what == "LoadBalancer" and svc.local:
                    eps = tuple(e for e in eps if e.node == node)
                found.append((ip, port.port, svc, what, eps))
    # An endpoint set that several rules send to is one named map: 10,000 Services over the same pods
    # as 20,000 anonymous maps took nftables 6-7 s to load per node, as one named map 2 s.
    uses = collections.Counter(eps for *_, eps in found if len(eps) > 1)
    shared = sorted({eps for eps, n in uses.items() if n > 1}, key=_shared)
    dnat = [_rule(ip, port, svc, what, eps, eps in uses and uses[eps] > 1) for ip, port, svc, what, eps in found if eps]
    reject = [_rule(ip, port, svc, what, eps, False) for ip, port, svc, what, eps in found if not eps]
    maps = "".join(f"""  map {_shared(eps)} {{
    typeof numgen random mod {len(eps)} : ip daddr . tcp dport
    elements = {{ {_targets(eps)} }}
  }}
""" for eps in shared)
    body, refused = "\n".join(dnat), "\n".join(reject)
    # `add` then `delete` makes the file idempotent: the whole table is replaced in one transaction.
    return f"""add table ip {TABLE}
delete table ip {TABLE}
table ip {TABLE} {{
{maps}  chain services {{
{body}
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    jump services
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    jump services
  }}
  chain no_endpoints {{
{refused}
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    jump no_endpoints
  }}
  chain local {{
    type filter hook output priority filter; policy accept;
    jump no_endpoints
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ct status dnat oifname != "cali*" counter snat ip to {node_ip} comment "return traffic through this node"
  }}
}}
"""

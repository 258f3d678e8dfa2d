"""kube-proxy's part, as an nftables ruleset per node: a Service's ClusterIP and LoadBalancer IP
are DNATed to its ready endpoints (chosen at random), or rejected when it has none; traffic DNATed
to an endpoint behind another node is SNATed to this node, so that its replies come back here.
A LoadBalancer Service with externalTrafficPolicy Local sends its LoadBalancer address only to the
node's own endpoints (never SNATed: the client's address reaches the pod), rejected when it has none."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.k8s.world import Endpoint, ServiceSpec

TABLE = "gwlab_kube_proxy"


def _rule(ip: str, port: int, svc: ServiceSpec, what: str, eps: Sequence[Endpoint]) -> str:
    comment = f'comment "{svc.key}:{port} {what}"'
    match = f"ip daddr {ip} tcp dport {port} counter"
    if not eps:
        return f"    {match} reject with tcp reset {comment}"
    if len(eps) == 1:
        return f"    {match} dnat ip to {eps[0].ip}:{eps[0].port} {comment}"
    targets = ", ".join(f"{i} : {e.ip} . {e.port}" for i, e in enumerate(eps))
    return f"    {match} dnat ip to numgen random mod {len(eps)} map {{ {targets} }} {comment}"


def ruleset(node_ip: str, services: list[ServiceSpec], node: str = "") -> str:
    dnat: list[str] = []
    reject: list[str] = []
    for svc in sorted(services, key=lambda s: s.key):
        for port in svc.ports:
            for ip, what in ((svc.cluster_ip, "ClusterIP"), (svc.lb_ip, "LoadBalancer")):
                if not ip:
                    continue
                eps = svc.endpoints.get(port.port, ())
                if what == "LoadBalancer" and svc.local:
                    eps = tuple(e for e in eps if e.node == node)
                (dnat if eps else reject).append(_rule(ip, port.port, svc, what, eps))
    body, refused = "\n".join(dnat), "\n".join(reject)
    # `add` then `delete` makes the file idempotent: the whole table is replaced in one transaction.
    return f"""add table ip {TABLE}
delete table ip {TABLE}
table ip {TABLE} {{
  chain services {{
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

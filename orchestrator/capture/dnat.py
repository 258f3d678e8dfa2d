"""kube-proxy's DNAT rules on a node, with their counters: which rule matched during a trace.

The rules live in the chain `services` of the nftables table kube-proxy's part writes on each node
(orchestrator.k8s.kube_proxy). NAT rules see only a connection's first packet, so a counter that
grew by one during a trace is one new connection DNATed by that rule on that node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.k8s.kube_proxy import TABLE

if TYPE_CHECKING:
    from orchestrator.lab import Lab

CHAIN = "services"
RULE = re.compile(r"^\s*(?P<match>.*?)\s*counter packets (?P<packets>\d+) bytes \d+\s*(?P<action>.*?)"
                  r"(?:\s+comment \"(?P<comment>[^\"]*)\")?\s*$")


@dataclass(frozen=True)
class NatRule:
    match: str  # e.g. "ip daddr 10.10.10.0 tcp dport 6443"
    action: str  # e.g. "dnat to 10.50.0.33:6443"
    comment: str  # the Service port it implements, e.g. "tigera-gateway/envoy-...:6443 LoadBalancer"
    packets: int

    @property
    def key(self) -> tuple[str, str]:
        return self.match, self.comment


@dataclass(frozen=True)
class DnatMatch:
    node: str  # the node's label (worker1)
    rule: NatRule
    packets: int  # how much its counter grew


def parse_chain(text: str) -> list[NatRule]:
    rules = []
    for line in text.splitlines():
        m = RULE.match(line)
        if m and "counter packets" in line:
            rules.append(NatRule(m["match"], m["action"], m["comment"] or "", int(m["packets"])))
    return rules


def read(lab: Lab, node: str) -> list[NatRule]:
    """The node's kube-proxy rules; none if its table is not there (yet)."""
    out = lab.engine.exec(node, ["nft", "list", "chain", "ip", TABLE, CHAIN], capture=True, timeout=10)
    return parse_chain(out.stdout.decode(errors="replace")) if out.returncode == 0 else []


def matched(node: str, before: list[NatRule], after: list[NatRule]) -> list[DnatMatch]:
    """The rules whose counters grew between the two readings."""
    old = {r.key: r.packets for r in before}
    return [DnatMatch(node, r, r.packets - old.get(r.key, 0)) for r in after if r.packets > old.get(r.key, 0)]

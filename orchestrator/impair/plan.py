"""Which mechanism carries each field of an impairment on this kernel, and the refusal when one cannot.

With the netem qdisc (CONFIG_NET_SCH_NETEM) every field is netem's, as containerlab does it. Without
it, two fields can still be applied faithfully, to what the interface sends, as netem would:
  rate  a tbf qdisc at the interface's root (a token bucket at that rate; netem's rate is a shaper too)
  loss  an nftables rule on the interface's netdev egress hook that drops each packet with that
        probability (`numgen random`), before the qdisc, as netem drops at enqueue
Delay, jitter, corruption and duplication have no faithful stand-in here, so they are refused: a lab
that silently lacked them would give measurements that look right and are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from orchestrator.impair.spec import OPTIONS, NetemSpec


class Mechanism(str, Enum):
    NETEM = "netem"
    TBF = "tbf"
    NFT = "nftables"


@dataclass(frozen=True)
class KernelSupport:
    """What the kernel answered when asked (impair.support.kernel_support)."""

    netem: bool
    tbf: bool
    nft_egress: bool  # an nftables netdev table with an egress chain and numgen


def fields_of(spec: NetemSpec) -> tuple[str, ...]:
    """The fields a spec sets, in the CLI's order."""
    values = {"delay": spec.delay_us, "jitter": spec.jitter_us, "loss": spec.loss_pct, "rate": spec.rate_kbit,
              "corruption": spec.corruption_pct, "duplicate": spec.duplicate_pct}
    return tuple(f for f in OPTIONS if values[f])


@dataclass(frozen=True)
class Plan:
    spec: NetemSpec
    by_field: tuple[tuple[str, Mechanism], ...]  # each set field and what applies it
    refused: tuple[str, ...]  # fields this kernel cannot apply
    support: KernelSupport

    @property
    def possible(self) -> bool:
        return not self.refused

    def mechanism(self, field: str) -> Mechanism | None:
        return dict(self.by_field).get(field)

    def refusal(self, where: str) -> str:
        """One message: what cannot be applied, the missing kernel feature, and what works here."""
        return (f"cannot impair {where} with {', '.join(self.refused)}: {missing(self.support, self.refused)}; "
                f"{works_here(self.support)}; nothing was changed")


def plan(spec: NetemSpec, support: KernelSupport) -> Plan:
    by_field: list[tuple[str, Mechanism]] = []
    refused: list[str] = []
    for field in fields_of(spec):
        if support.netem:
            by_field.append((field, Mechanism.NETEM))
        elif field == "rate" and support.tbf:
            by_field.append((field, Mechanism.TBF))
        elif field == "loss" and support.nft_egress:
            by_field.append((field, Mechanism.NFT))
        else:
            refused.append(field)
    return Plan(spec, tuple(by_field), tuple(refused), support)


def missing(support: KernelSupport, fields: tuple[str, ...]) -> str:
    parts = []
    if not support.netem:
        parts.append("this kernel has no netem queueing discipline (sch_netem; CONFIG_NET_SCH_NETEM is not set)")
    if "rate" in fields and not support.tbf:
        parts.append("nor the tbf queueing discipline (CONFIG_NET_SCH_TBF)")
    if "loss" in fields and not support.nft_egress:
        parts.append("nor nftables' netdev egress hook with numgen (CONFIG_NETFILTER_EGRESS, CONFIG_NFT_NUMGEN)")
    return ", ".join(parts)


def works_here(support: KernelSupport) -> str:
    if support.netem:
        return "netem applies every field here"
    ways = []
    if support.nft_egress:
        ways.append("--loss (an nftables drop rule on the interface's egress)")
    if support.tbf:
        ways.append("--rate (a tbf qdisc)")
    if not ways:
        return "no impairment can be applied on this kernel (Debian's and Ubuntu's have netem: modprobe sch_netem)"
    return ("what works on this kernel: " + " and ".join(ways)
            + "; a kernel with netem (Debian's, Ubuntu's: modprobe sch_netem) applies them all")

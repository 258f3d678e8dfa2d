"""An interface's whole impairment set, shown and reset, by whichever mechanism this kernel has.

With netem (impair/plan.py) this is tc.py's netem, unchanged. Without it, `set` applies a rate as
gwlab's tbf and a loss as gwlab's nftables rule, after refusing, before anything changes, a field
this kernel cannot apply. A set replaces the interface's impairment: the loss rule goes in first (one
nft transaction), then the tbf (one netlink request); if the tbf is refused, the loss rule is put back
as it was, so a refused set leaves the interface as it found it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from orchestrator.errors import LabError
from orchestrator.impair import nft, tc
from orchestrator.impair.plan import KernelSupport, Plan, plan
from orchestrator.impair.spec import NetemSpec
from orchestrator.impair.support import kernel_support


class ImpairmentRefused(LabError):
    """A field this kernel cannot apply: nothing was changed."""


@dataclass(frozen=True)
class Applied:
    """What one interface does to its outgoing packets, and by which mechanisms."""

    interface: str
    spec: NetemSpec | None
    via: tuple[str, ...] = ()  # e.g. "netem 1: root", "tbf 9e: root, burst 12500 B", "nftables ..."
    notes: tuple[str, ...] = ()  # netem features NetemSpec has no field for, other qdiscs, foreign rules

    def describe(self) -> str:
        text = self.spec.describe() if self.spec is not None else "no impairment"
        return "; ".join([text, *self.notes])



def combine(qdiscs: tc.Impairment, loss: nft.LossRule | None) -> Applied:
    spec = qdiscs.spec
    via = [qdiscs.qdisc] if qdiscs.qdisc else []
    notes = [*(f"also {u}" for u in qdiscs.unmodelled), *(f"other qdisc {o}" for o in qdiscs.others)]
    if loss is not None:
        via.append(loss.describe())
        if loss.loss_pct is None:
            notes.append("the nftables chain holds rules gwlab did not write")
        elif loss.loss_pct:
            spec = replace(spec or NetemSpec(), loss_pct=loss.loss_pct)
    return Applied(qdiscs.interface, spec, tuple(via), tuple(notes))


def decide(spec: NetemSpec, support: KernelSupport | None = None) -> Plan:
    return plan(spec, support or kernel_support())


def set_impairment(ns: str, interface: str, spec: NetemSpec, where: str) -> Applied:
    """Make `spec` the interface's whole impairment; `where` names it in a refusal (node:interface)."""
    decision = decide(spec)
    if not decision.possible:
        raise ImpairmentRefused(decision.refusal(where))
    if decision.support.netem:
        return combine(tc.set_netem(ns, interface, spec), None)
    tc.show(ns, interface)  # the interface exists (or is named, with those that do) before anything changes
    if not decision.support.nft_egress:  # no loss asked (plan refused it otherwise), none to replace
        return combine(tc.set_rate(ns, interface, spec.rate_kbit), None)
    old_loss = nft.read(ns).get(interface)
    nft.set_loss(ns, interface, spec.loss_pct)
    try:
        tc.set_rate(ns, interface, spec.rate_kbit)
    except LabError:
        if old_loss is not None and old_loss.loss_pct:
            nft.set_loss(ns, interface, old_loss.loss_pct)
        elif old_loss is None:
            nft.remove(ns, interface)
        raise
    return show(ns, interface)[0]


def show(ns: str, interface: str | None = None) -> list[Applied]:
    qdiscs = tc.show(ns, interface)
    support = kernel_support()
    losses = nft.read(ns) if support.nft_egress and not support.netem else {}
    return [combine(q, losses.get(q.interface)) for q in qdiscs]


def reset(ns: str, interface: str) -> bool:
    """Remove the interface's impairment, every mechanism's; False when it had none."""
    had = tc.reset(ns, interface)
    support = kernel_support()
    if support.nft_egress and not support.netem:
        had = nft.remove(ns, interface) or had
    return had

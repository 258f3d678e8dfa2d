"""`gwlab netem` on a lab: NODE[:IFACE] resolved to a lab namespace, values checked, then the impair
package's set/show/reset. Where the kernel has no netem qdisc, a rate and a loss are applied by tbf and
nftables, and a field nothing here can apply is refused before anything changes, in one message
(orchestrator.impair.plan); show says which mechanism carries what it lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.errors import LabError
from orchestrator.impair import apply
from orchestrator.impair.spec import netem_spec

if TYPE_CHECKING:
    from orchestrator.lab import Lab


@dataclass(frozen=True)
class Row:
    node: str
    interface: str
    text: str
    via: tuple[str, ...] = ()  # the mechanisms that carry it (netem, tbf, nftables), where they sit

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "interface": self.interface, "impairment": self.text, "via": list(self.via)}

    @staticmethod
    def of(node: str, applied: apply.Applied) -> Row:
        return Row(node, applied.interface, applied.describe(), applied.via)


def _where(lab: Lab, target: str) -> tuple[str, str, str]:
    """NODE[:IFACE] -> (label, namespace, interface); a node's default interface is its segment link."""
    from orchestrator.capture.targets import resolve

    t = resolve(lab, target)
    iface = t.iface
    if iface == "any":
        name = target.partition(":")[0]
        nodes = [n for n in lab.topo.routers if name in (n.name, n.bgp_name)]
        if nodes:
            iface = nodes[0].interface
        else:
            real = [i for i in t.interfaces if i != "lo"]
            if len(real) != 1:
                raise LabError(f"{t.label} has interfaces {', '.join(real)}: name one, e.g. {target}:{real[0]}")
            iface = real[0]
    return t.label, t.ns, iface


def set_(lab: Lab, target: str, delay: object = None, jitter: object = None, loss: object = None,
         rate: object = None, corruption: object = None, duplicate: object = None) -> Row:
    spec = netem_spec(delay=delay, jitter=jitter, loss=loss, rate=rate, corruption=corruption, duplicate=duplicate)  # every bad value named, before anything is looked up or changed
    label, ns, iface = _where(lab, target)
    return Row.of(label, apply.set_impairment(ns, iface, spec, f"{label}:{iface}"))


def reset(lab: Lab, target: str) -> Row:
    label, ns, iface = _where(lab, target)
    had = apply.reset(ns, iface)
    return Row(label, iface, "impairment removed" if had else "no impairment (nothing to remove)")


def show(lab: Lab, target: str | None) -> list[Row]:
    from orchestrator.faults.setup import namespace_of

    if target:
        label, ns, iface = _where(lab, target)
        spaces = [(label, ns, iface if ":" in target else None)]
    else:
        spaces = [(n.name, namespace_of(lab.topo, n.name), None) for n in lab.topo.routers]
        spaces.append((lab.topo.bridge, namespace_of(lab.topo, lab.topo.bridge), None))
    return [Row.of(label, applied) for label, ns, iface in spaces for applied in apply.show(ns, iface)]


def restore_declared(lab: Lab) -> list[str]:
    """`fault clear`'s part: every interface's impairment back to what the topology declares (none for
    most), whatever `netem set` did since `up`. One line per interface changed."""
    from orchestrator.faults.setup import declared, namespace_of

    wanted = {(d.node, d.interface): d.spec for d in declared(lab.topo)}
    done = []
    for label in [n.name for n in lab.topo.routers] + [lab.topo.bridge]:
        ns = namespace_of(lab.topo, label)
        for applied in apply.show(ns):
            want = wanted.get((label, applied.interface))
            if applied.spec == want:
                continue
            where = f"{label}:{applied.interface}"
            if want is None:
                apply.reset(ns, applied.interface)
                done.append(f"netem {where}: {applied.describe()} removed")
            else:
                apply.set_impairment(ns, applied.interface, want, where)
                done.append(f"netem {where}: back to the topology's {want.describe()}")
    return done

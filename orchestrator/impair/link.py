"""An interface's link taken down or up inside a lab namespace, and its state read back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from orchestrator.impair.access import index_of, iproute_in

IFF_UP: Final = 0x1


@dataclass(frozen=True)
class LinkState:
    interface: str
    admin_up: bool  # IFF_UP: what `link down|up` sets
    operstate: str  # the kernel's view: UP, DOWN, LOWERLAYERDOWN (the peer is down), ...
    carrier: bool

    @property
    def passing(self) -> bool:
        return self.admin_up and self.operstate == "UP"


def _state(ipr: Any, index: int, interface: str) -> LinkState:
    link = ipr.get_links(index)[0]
    return LinkState(interface, bool(link["flags"] & IFF_UP), str(link.get_attr("IFLA_OPERSTATE") or "UNKNOWN"),
                     bool(link.get_attr("IFLA_CARRIER")))


def link_state(ns: str, interface: str) -> LinkState:
    with iproute_in(ns) as ipr:
        return _state(ipr, index_of(ipr, ns, interface), interface)


def set_link(ns: str, interface: str, up: bool) -> LinkState:
    """Set the interface administratively up or down; returns the state the kernel then reports."""
    with iproute_in(ns) as ipr:
        index = index_of(ipr, ns, interface)
        ipr.link("set", index=index, state="up" if up else "down")
        return _state(ipr, index, interface)

"""Links taken down and brought up again for a fault, with the routes the kernel drops on the way.

Taking an interface down makes the kernel delete every route through it; bringing it up restores only
the connected prefixes. BIRD installs its own routes again (its kernel protocol rescans), but the
routes the lab itself made (a pod's /32 on its node's cali veth, ...) would be gone for good, so
they are read before the link goes down and put back after it comes up."""

from __future__ import annotations

from typing import Any, Final

from orchestrator.impair.access import index_of, iproute_in
from orchestrator.impair.link import set_link

RTPROT_KERNEL: Final = 2
RTPROT_BIRD: Final = 12


def routes_via(ns: str, interface: str) -> list[dict[str, Any]]:
    """The static routes through the interface (neither the kernel's connected ones nor BIRD's)."""
    with iproute_in(ns) as ipr:
        index = index_of(ipr, ns, interface)
        out = []
        for r in ipr.get_routes(family=2, table=254, oif=index):
            if r["proto"] in (RTPROT_KERNEL, RTPROT_BIRD) or r.get_attr("RTA_OIF") != index:
                continue
            dst = r.get_attr("RTA_DST")
            out.append({"dst": f"{dst}/{r['dst_len']}" if dst else "0.0.0.0/0", "gateway": r.get_attr("RTA_GATEWAY"),
                        "scope": r["scope"], "proto": r["proto"]})
        return out


def down(ns: str, interface: str) -> list[dict[str, Any]]:
    saved = routes_via(ns, interface)
    set_link(ns, interface, False)
    return saved


def up(ns: str, interface: str, routes: list[dict[str, Any]]) -> None:
    set_link(ns, interface, True)
    with iproute_in(ns) as ipr:
        index = index_of(ipr, ns, interface)
        for r in routes:
            extra = {"gateway": r["gateway"]} if r.get("gateway") else {}
            ipr.route("replace", dst=r["dst"], oif=index, scope=r["scope"], proto=r["proto"], **extra)

"""A netlink socket inside a lab namespace, and an interface looked up in it, with clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrator.engines.netns import namespaces as netns
from orchestrator.errors import LabError
from orchestrator.engines.netns.rtnl import IPRoute


def check_lab_namespace(ns: str) -> None:
    """Refuse a namespace that is not a lab's, or that does not exist."""
    if not ns.startswith("gwlab-"):
        raise LabError(f"namespace {ns!r} is not a lab's (lab namespaces are named gwlab-...): refused")
    if not netns.exists(ns):
        raise LabError(f"no network namespace {ns!r}: is the lab up? (`gwlab status` lists the labs)")


@contextmanager
def iproute_in(ns: str) -> Iterator[Any]:
    """An IPRoute whose socket lives in namespace `ns` (made there, so it stays there); closed after."""
    check_lab_namespace(ns)
    with netns.inside(ns):
        ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def interface_names(ipr: Any) -> dict[int, str]:
    return {int(link["index"]): str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}


def index_of(ipr: Any, ns: str, interface: str) -> int:
    """The interface's index; a missing one is named with those that exist."""
    found = ipr.link_lookup(ifname=interface)
    if not found:
        known = ", ".join(sorted(n for n in interface_names(ipr).values() if n != "lo"))
        raise LabError(f"no interface {interface!r} in namespace {ns}; its interfaces are: {known or 'none'}")
    return int(found[0])

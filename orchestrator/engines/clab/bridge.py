"""The host bridge of the lab's segment: containerlab connects `bridge` nodes to an existing Linux
bridge and never makes one, so the engine makes it before `containerlab deploy` and removes it on down.
Behind a small interface, so that a recording stand-in can take its place in tests."""

from __future__ import annotations

from typing import Protocol


class Bridges(Protocol):
    def exists(self, name: str) -> bool: ...

    def create(self, name: str) -> None: ...

    def remove(self, name: str) -> bool:
        """False if there was no such link."""


class NetlinkBridges:
    """Bridges in the namespace this process runs in (the host's), made over netlink."""

    def exists(self, name: str) -> bool:
        from orchestrator.engines.netns.rtnl import IPRoute

        with IPRoute() as ipr:
            return bool(ipr.link_lookup(ifname=name))

    def create(self, name: str) -> None:
        from orchestrator.engines.netns.rtnl import IPRoute

        with IPRoute() as ipr:
            ipr.link("add", ifname=name, kind="bridge", br_forward_delay=0, br_stp_state=0)
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")

    def remove(self, name: str) -> bool:
        from orchestrator.engines.netns.rtnl import IPRoute

        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=name)
            if not found:
                return False
            ipr.link("del", index=found[0])
        return True

"""NodeHost: what the netns engine's pod plane and controllers need of the host it built, so that
they do not depend on the engine: a node's namespace and directory, a netlink handle inside a
namespace, running a command in a node, the lab's state (its process registry) and run directory."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.engines.netns import namespaces
from orchestrator.errors import LabError
from orchestrator.rundir import RunDir
from orchestrator.state import LabState, ns_name
from orchestrator.topology import Topology


@dataclass
class NodeHost:
    topo: Topology
    state: LabState
    _netlink: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> RunDir:
        return RunDir.of(self.topo)

    @property
    def dir(self) -> Path:
        return self.files.root

    def ns(self, node: str) -> str:
        return ns_name(self.topo.name, self.topo.node(node).name if node != self.topo.bridge else node)

    def node_dir(self, node: str) -> Path:
        return self.files.node(self.topo.node(node).name).dir

    def netlink(self, ns: str) -> Any:
        """An IPRoute bound to namespace `ns`, opened once and kept until `close`."""
        if ns not in self._netlink:
            from orchestrator.engines.netns.rtnl import IPRoute

            with namespaces.inside(ns):
                self._netlink[ns] = IPRoute()
        return self._netlink[ns]

    def keep_netlink(self, ns: str, handle: Any) -> None:
        """A handle opened while creating `ns` (inside it), kept for later use."""
        self._netlink[ns] = handle

    def close(self) -> None:
        for handle in self._netlink.values():
            handle.close()
        self._netlink.clear()

    def exec(self, node: str, argv: list[str], capture: bool = False,
             timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        ns = self.ns(node)
        if not namespaces.exists(ns):
            raise LabError(f"node {node} of lab {self.topo.name} is not up")
        return subprocess.run(argv, preexec_fn=lambda: namespaces.enter(ns), capture_output=capture,
                              timeout=timeout, check=False)

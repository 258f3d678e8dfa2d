"""What `gwlab clean` asks of the containerlab engine: labs of ours that still have containers, and
their removal. When no Docker engine answers there is nothing of this kind to find: quietly nothing."""

from __future__ import annotations

from orchestrator.engines.clab import cleanup
from orchestrator.engines.clab.bridge import NetlinkBridges
from orchestrator.engines.clab.docker import DockerApi, connect, socket_path
from orchestrator.engines.clab.names import names_for
from orchestrator.engines.clab.runner import SubprocessRunner
from orchestrator.errors import LabError
from orchestrator.state import LabState
from orchestrator.topology import Topology


def local_docker() -> DockerApi | None:
    path, _ = socket_path()
    if path is None or not path.exists():
        return None
    docker, _ = connect()
    return docker


def labs(docker: DockerApi | None) -> set[str]:
    return cleanup.labs_with_containers(docker) if docker is not None else set()


def _topology(name: str, state: LabState | None) -> Topology:
    from orchestrator.topology import load_named as load_topology

    if state is not None:
        try:
            return load_topology(state.topology, name)
        except LabError:
            pass
    return load_topology(None, name)


def clean(name: str, state: LabState | None, docker: DockerApi | None) -> list[str]:
    """The lab's containers, kind cluster and bridge, found by its state and by labels."""
    if docker is None and not (state is not None and state.engine == "clab"):
        return []
    names = names_for(_topology(name, state))
    return cleanup.remove_lab(names, state, docker, "no Docker engine answers", SubprocessRunner(),
                              NetlinkBridges())

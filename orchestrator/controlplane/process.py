"""The control-plane process of a lab: started by `up` inside the control-plane node's namespace and
recorded in the lab's state like BIRD (stopped by its PID by `down`/`clean`), and the client that
gwlab's own writes use, from inside the bastion's namespace."""

from __future__ import annotations

import sys

from orchestrator.controlplane.client import Client
from orchestrator.engines.netns import procs
from orchestrator.fsutil import atomic_write, private_dir
from orchestrator.rundir import RunDir
from orchestrator.state import LabState, Proc, ns_name
from orchestrator.topology import LabNode, Topology

ROLE = "controlplane"


def control_plane(topo: Topology) -> LabNode:
    return next((n for n in topo.k8s_nodes if n.role == "control-plane"), topo.k8s_nodes[0])


def start(topo: Topology, state: LabState) -> Proc:
    files = RunDir.of(topo)
    private_dir(files.apiserver)
    atomic_write(files.kubectl_ns, ns_name(topo.name, topo.bastion.name))
    proc = procs.spawn(ROLE, ns_name(topo.name, control_plane(topo).name),
                       [sys.executable, "-m", "orchestrator.controlplane", "--lab", topo.name],
                       files.controlplane_log, caps=procs.CONTROLPLANE_CAPS)
    state.add_processes([proc])
    return proc


def client(topo: Topology) -> Client:
    return Client(RunDir.of(topo), ns_name(topo.name, topo.bastion.name), str(control_plane(topo).address.ip))

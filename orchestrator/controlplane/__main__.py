"""python -m orchestrator.controlplane --lab NAME: the lab's API server and controllers, in the
foreground, inside the control-plane node's namespace (`up` starts it there and records its PID)."""

from __future__ import annotations

import argparse
import signal
import sys

from orchestrator.apiserver.server import ApiServer, ServerError
from orchestrator.controlplane.admission import KindsAdmission
from orchestrator.controlplane.client import PORT
from orchestrator.controlplane.process import control_plane
from orchestrator.errors import LabError
from orchestrator.rundir import RunDir
from orchestrator.state import LabState
from orchestrator.topology import load_named


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.controlplane",
                                     description="A lab's Kubernetes API server and controllers.")
    parser.add_argument("--lab", required=True)
    args = parser.parse_args(argv)
    try:
        state = LabState.load(args.lab)
        if state is None:
            raise LabError(f"lab {args.lab!r} has no state file; `gwlab up` starts its control plane")
        topo = load_named(state.topology, args.lab)
        host = str(control_plane(topo).address.ip)
        server = ApiServer(RunDir.of(topo).apiserver, host, PORT, [KindsAdmission()])
    except (LabError, ServerError) as exc:
        print(f"controlplane: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"controlplane: cannot start: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.start()
    # The controllers' modules load while the API server already serves (`up` writes its objects
    # then): ~0.2 s of imports off the path of the first writes.
    from orchestrator.controlplane.nodemonitor import NodeLifecycle
    from orchestrator.controlplane.reconcile import Reconciler
    from orchestrator.controlplane.writeback import nodes

    nodes(server.objects, topo)
    try:
        lifecycle = NodeLifecycle(server.objects, topo)
        lifecycle.bind(host)
    except OSError as exc:
        print(f"controlplane: cannot receive the nodes' heartbeats: {exc}", file=sys.stderr)
        server.stop()
        return 1
    lifecycle.start()
    print(f"serving {server.url}; kubeconfig {server.kubeconfig}", flush=True)
    reconciler = Reconciler(server.objects, topo, state)
    try:
        reconciler.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        reconciler.stop()
        lifecycle.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

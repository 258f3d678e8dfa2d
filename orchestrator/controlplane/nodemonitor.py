"""The node lifecycle in the control plane (a thread of its process): heartbeats received on the
control-plane node's segment address renew each node's Lease (the kubelet's part); every
MONITOR_PERIOD the monitor marks a node NotReady or Ready again (the node lifecycle controller's
part): the Node's conditions and taints, the nodes.json the controllers read (their next pass takes
the node's pods out of the endpoints, kube-proxy and Envoy's EDS), and Events."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.registry import Resource, by_kind
from orchestrator.controlplane import nodelife as life
from orchestrator.controlplane.writeback import event
from orchestrator.rundir import RunDir
from orchestrator.topology import Topology


def _res(group_version: str, kind: str) -> Resource:
    r = by_kind(group_version, kind)
    assert r is not None, f"the API server serves {kind}"
    return r


class NodeLifecycle:
    def __init__(self, objects: Objects, topo: Topology, clock: Callable[[], float] = time.monotonic) -> None:
        self.objects = objects
        self.files = RunDir.of(topo)
        self.addresses = {n.name: str(n.address.ip) for n in topo.k8s_nodes}
        self.monitor = life.Monitor(sorted(self.addresses), clock)
        self.leases, self.nodes = _res("coordination.k8s.io/v1", "Lease"), _res("v1", "Node")
        self.pods = _res("v1", "Pod")
        self.clock = clock
        self.sock: socket.socket | None = None
        self.reported: dict[str, float] = {}
        self.written: dict[str, float] = {}  # when each node's Lease object was last written
        self.lease_every = life.lease_interval(len(self.addresses))
        self.beats = 0
        self._stop = threading.Event()
        life.write_unready(self.files, set())

    def bind(self, host: str) -> None:
        """Receive heartbeats at host (the control-plane node's segment address, inside its namespace)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, life.PORT))
        self.sock.settimeout(life.MONITOR_PERIOD)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="node-lifecycle", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        if self.sock is not None:
            self.sock.close()

    def run(self) -> None:
        assert self.sock is not None, "bind() first"
        next_tick = self.clock()
        while not self._stop.is_set():
            try:
                data, (source, _) = self.sock.recvfrom(512)
            except (TimeoutError, socket.timeout):
                data = b""
            except OSError:
                return  # closed by stop()
            node = life.parse_beat(data, source, self.addresses) if data else None
            try:
                if node is not None:
                    self.renew(node)
                if self.clock() >= next_tick:
                    next_tick = self.clock() + life.MONITOR_PERIOD
                    self.tick()
            except Exception as exc:  # noqa: BLE001 - one failed write must not end the lifecycle
                print(f"node lifecycle: {type(exc).__name__}: {exc}", flush=True)

    def renew(self, node: str) -> None:
        """The kubelet's part: the node's Lease renewed; its Ready status posted when it has not been
        for STATUS_REPORT seconds (the monitor posts the changes)."""
        self.beats += 1
        self.monitor.observe(node, str(self.beats))
        last = self.written.get(node)
        # Half a period's slack: beats a little less than a period apart still write every period.
        if last is None or self.clock() - last >= self.lease_every - life.HEARTBEAT_INTERVAL / 2:
            self.written[node] = self.clock()
            self.write_lease(node)
        stale = node not in self.reported or self.clock() - self.reported[node] >= life.STATUS_REPORT
        if stale and node not in self.monitor.unready():
            self.post(node, True)

    def write_lease(self, node: str) -> None:
        renew = life.micro_time()
        try:
            current = self.objects.get(self.leases, life.LEASE_NAMESPACE, node)
        except ApiError:
            try:
                uid = str(self.objects.get(self.nodes, "", node)["metadata"].get("uid") or "")
            except ApiError:
                uid = ""
            self.objects.create(self.leases, life.LEASE_NAMESPACE, life.lease(node, renew, uid), strictness="Ignore")
        else:
            self.objects.update(self.leases, life.LEASE_NAMESPACE, node,
                                {**current, "spec": life.lease(node, renew)["spec"]}, strictness="Ignore")

    def tick(self) -> None:
        changes = self.monitor.tick()
        if not changes:
            return
        # First the file the controllers read, then the Nodes: their update starts the controllers' pass.
        life.write_unready(self.files, self.monitor.unready())
        for change in changes:
            self.post(change.node, change.ready)
            reason, message, kind, component = life.node_event(change.node, change.ready)
            event(self.objects, "default", "Node", change.node, reason, message, kind, component, again=True)
            if not change.ready:
                reason, message, kind, component = life.POD_EVENT
                for pod in self.pods_on(change.node):
                    event(self.objects, pod[0], "Pod", pod[1], reason, message, kind, component, again=True)

    def post(self, node: str, ready: bool) -> None:
        """The Node's conditions and taints: the kubelet's Ready status, or the controller's Unknown."""
        stamp = life.seconds_time()
        try:
            current = self.objects.get(self.nodes, "", node)
        except ApiError:
            return
        status: dict[str, Any] = dict(current.get("status") or {})
        old = status.get("conditions")
        status["conditions"] = life.ready_conditions(old, stamp) if ready else life.unknown_conditions(old, stamp)
        spec = dict(current.get("spec") or {})
        wanted = life.taints(spec.get("taints"), ready, stamp)
        if wanted != (spec.get("taints") or []):
            if wanted:
                spec["taints"] = wanted
            else:
                spec.pop("taints", None)
            current = self.objects.update(self.nodes, "", node, {**current, "spec": spec}, strictness="Ignore").obj
        self.objects.update(self.nodes, "", node, {**current, "status": status}, subresource="status")
        self.reported[node] = self.clock()

    def pods_on(self, node: str) -> list[tuple[str, str]]:
        items = self.objects.list_of(self.pods, None)[0]
        return sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in items
                      if (o.get("spec") or {}).get("nodeName") == node)

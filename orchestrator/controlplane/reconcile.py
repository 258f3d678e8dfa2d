"""The control plane's loop: an in-process watch of everything the API server stores, debounced;
when the lab's modelled objects changed, today's reconcile path (one seam, `Reconciler.sync`: the
cluster plan from the store, the node speakers reconfigured in place, `Controllers.sync`), then what
it derived written back through the API. Each pass leaves a marker (the resourceVersion it saw and
its report) that gwlab's own writes wait on."""

from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import asdict, dataclass, replace

from orchestrator import cluster
from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.store import Event, Watch
from orchestrator.controlplane import nodelife, workloads, writeback
from orchestrator.controlplane.marker import Marker
from orchestrator.controlplane.reading import Reading
from orchestrator.engines.base import SyncReport
from orchestrator.errors import LabError
from orchestrator.fsutil import atomic_write
from orchestrator.k8s.world import Allocations, ServiceSpec, World, compute
from orchestrator.manifests import Document
from orchestrator.engines.netns.records import PodRecords
from orchestrator.rundir import RunDir
from orchestrator.state import LabState
from orchestrator.timing import Clock, recording
from orchestrator.topology import Topology

DEBOUNCE = 0.03  # seconds of quiet gathered into one pass (kubectl apply of a file is several writes)
RETRY, RETRIES = 0.2, 5
READINESS_PERIOD = 1.0  # seconds between the kubelet's readiness probes of every running pod (periodSeconds; 10 s)
POD_CHECK = 0.2  # seconds between looks at the pods' processes while nothing is written (a stat read each)


@dataclass
class _Everything(Watch):
    def matches(self, ev: Event) -> bool:
        return True


class Reconciler:
    def __init__(self, objects: Objects, topo: Topology, state: LabState) -> None:
        from orchestrator.engines import get_engine  # the engine is what acts on the host

        self.objects = objects
        self.topo = topo
        self.files = RunDir.of(topo)
        self.records = PodRecords.open(state)
        self.engine = get_engine(state.engine, topo, self.records)
        self.fingerprint = ""
        self.phase_totals: dict[str, float] = {}
        self.watch = _Everything(objects.store, "", None)
        with objects.store.lock:
            objects.store.watches.append(self.watch)
        self._stop = threading.Event()
        self.owned: list[workloads.Owned] = []  # the controllers' own objects, repaired when deleted
        self._next_probe = 0.0
        self._probe_failures: dict[str, int] = {}  # readiness probes failed in a row, per pod
        self.written: set[str] = set()  # the Pod objects the last pass wrote ("ns/name")
        self.reading = Reading()  # the modelled objects, each read and parsed once per resourceVersion

    def sync(self, docs: list[Document]) -> SyncReport:
        """The seam: today's whole-world reconcile (issue 11 puts watch-driven controllers here)."""
        plan = cluster.plan(self.topo, docs, parse=self.reading.parse_objects)
        with recording(Clock()) as clock:  # what the pass names (the gateway proxy's start) goes to its marker
            report = self.engine.apply(plan)
        report.phases = clock.phases
        from orchestrator.engines.netns.controllers import Controllers  # the netns engine's controllers

        ctl = Controllers(self.engine.host)  # type: ignore[attr-defined]
        alloc = ctl.allocations()
        world = self.world(plan, alloc)
        owned = workloads.proxies(self.objects, world, set(alloc.ready))
        writeback.statuses(self.objects, alloc.statuses)
        waiting = {k: f"MountVolume.SetUp failed: {why}" for k, why in report.waiting.items()}
        specs = alloc.pod_specs()
        writeback.pods(self.objects, self.topo, self.files, specs, set(alloc.ready), waiting, self.records.containers,
                       frozenset(nodelife.unready(self.files)))
        self.written = {s.key for s in specs}
        self.owned = owned + workloads.replica_sets(self.objects, world, set(alloc.ready))
        writeback.endpoints(self.objects, list(world.services.values()), specs, frozenset(report.waiting))
        by_key = {s.key: s for s in specs}
        for key in report.created:  # Events saying why the controllers acted
            if key in by_key:
                spec = by_key[key]
                writeback.event(self.objects, spec.namespace, "Pod", spec.name, "Started",
                                f"Started on {spec.node} at {spec.ip} for {spec.owner}", component="kubelet")
        from orchestrator.engines.netns.kubelet import drain_events

        for key, events in drain_events(self.records).items():  # restarts and back-offs, in order
            namespace, _, name = key.partition("/")
            for reason, message, kind in events:
                writeback.event(self.objects, namespace, "Pod", name, reason, message, kind, "kubelet", again=True)
        for key in report.removed:
            namespace, _, name = key.partition("/")
            writeback.event(self.objects, namespace, "Pod", name, "Killing",
                            "Stopped: its owner no longer wants it (deleted, scaled down or its template changed)",
                            component="kubelet")
        return report

    def services(self, plan: cluster.ClusterPlan, alloc: Allocations) -> list[ServiceSpec]:
        """The Services with their ready endpoints, as the controllers' last pass left them."""
        return list(self.world(plan, alloc).services.values())

    def world(self, plan: cluster.ClusterPlan, alloc: Allocations) -> World:
        """The world as the controllers' last pass left it (what is written back comes from it)."""
        from orchestrator.engines.netns.controllers import now, objects_of, service_cidr

        topo = self.topo
        blocks = {node: s.blocks[0] for node, s in plan.speakers.items() if s.blocks}
        # compute reassigns alloc's lists and fills its address maps: copies of those keep alloc as read
        mine = replace(alloc, cluster_ips=dict(alloc.cluster_ips), lb_ips=dict(alloc.lb_ips))
        return compute(topo, objects_of(plan), blocks, mine,
                       service_cidr(topo.path.parent / topo.kind_config), now())

    def once(self, rv: int, retrying: bool = False) -> bool:
        """One pass at the store's version rv; False if the controllers failed (the marker says why)."""
        with self.objects.store.lock:  # the version and the documents read together
            rv = max(rv, self.objects.store.rv)
            docs, bodies = self.reading.documents(self.objects)
        fingerprint = bodies + "\n" + json.dumps(sorted(nodelife.unready(self.files)))
        if any(o.missing(self.objects) for o in self.owned):
            self.fingerprint = ""  # someone deleted the controllers' own object: a whole pass makes it again
        marker = Marker(rv)
        if not docs and not self.fingerprint:
            # A lab's store is empty until `up` stores the objects its speakers were built from: a pass
            # now would reconfigure every speaker to Calico's defaults, without the bastion's peering,
            # and `up` then waited a second more for the sessions that pass had taken down.
            self.fingerprint = fingerprint
        if deleted := self.deleted_pods():
            from orchestrator.engines.netns.controllers import Controllers  # the netns engine's controllers

            # `kubectl delete pod`: its ReplicaSet makes a replacement (a new name), the old one is drained
            # and stopped by this pass
            Controllers(self.engine.host).delete_pods(deleted)  # type: ignore[attr-defined]
            self.written -= deleted
            self.fingerprint = ""
        # A pod's process died: a whole pass (looked at here too: the nodes' Lease renewals wake this
        # loop every second, so it is seldom quiet long enough for run()'s own look).
        ran = fingerprint != self.fingerprint or self.pod_died()
        if ran:
            try:
                report = self.sync(docs)
                for name, seconds in report.phases.items():
                    self.phase_totals[name] = self.phase_totals.get(name, 0.0) + seconds
                marker.report = asdict(report)
                self.fingerprint = fingerprint
            except LabError as exc:
                marker.error = str(exc)
            except Exception:  # one bad pass must not end the control plane; its log says why
                marker.error = "the controllers failed: " + traceback.format_exc(limit=5)
                print(marker.error, flush=True)
        marker.retrying = bool(marker.error) and retrying
        marker.phases = dict(self.phase_totals)
        marker.record(self.files.reconciled, ran)
        return not marker.error

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            failed = not self.once(self.objects.store.rv, retrying=failures < RETRIES)
            # A failed pass is tried again with back-off (as a controller requeues), a few times.
            failures = failures + 1 if failed else 0
            wait = RETRY * 2 ** (failures - 1) if 0 < failures <= RETRIES else 1.0
            ev = self.watch.next(timeout=wait)
            if ev is None and not 0 < failures <= RETRIES:
                while ev is None and not self._stop.is_set() and not self.pod_died():
                    ev = self.watch.next(timeout=POD_CHECK)
                self.fingerprint = "" if ev is None else self.fingerprint  # a pod died: a whole pass
            while self.watch.next(timeout=DEBOUNCE) is not None:
                pass

    def deleted_pods(self) -> set[str]:
        """Pods the last pass wrote whose objects are gone now (a user's `kubectl delete pod`)."""
        if not self.written:
            return set()
        r = writeback.PODS
        assert r is not None
        have = {f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in self.objects.list_of(r, None)[0]}
        return self.written - have

    def pod_died(self) -> bool:
        """A pod's process is gone and the kubelet's back-off (if any) has run out, or (every
        READINESS_PERIOD) the readiness prober changed its verdict on a pod: a pass is due."""
        from orchestrator.engines.netns import kubelet

        if kubelet.due(self.records):
            return True
        if time.monotonic() < self._next_probe:
            return False
        self._next_probe = time.monotonic() + READINESS_PERIOD
        from orchestrator.engines.netns.controllers import Controllers
        from orchestrator.engines.netns.pods import PodPlane

        host = self.engine.host  # type: ignore[attr-defined]
        alloc = Controllers(host).allocations()
        specs = alloc.pod_specs()
        unready_nodes = nodelife.unready(self.files)
        # the kubelet of a node that cannot report probes on, but nobody hears it
        skip = kubelet.backing_off(self.records) | {s.key for s in specs if s.node in unready_nodes}
        before = kubelet.probe_failed(self.records)
        due = kubelet.probe_round(specs, set(alloc.ready), skip, PodPlane(host, []).answers,
                                  self._probe_failures, self.records.containers)
        self._probe_failures = {k: v for k, v in self._probe_failures.items() if k in {s.key for s in specs}}
        if kubelet.probe_failed(self.records) != before:
            self.records.save()
        return due

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="controllers", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self.watch.close()

"""The control plane's loop: an in-process watch of everything the API server stores, debounced;
when the lab's modelled objects changed, today's reconcile path (one seam, `Reconciler.sync`: the
cluster plan from the store, the node speakers reconfigured in place, `Controllers.sync`), then what
it derived written back through the API. Each pass leaves a marker (the resourceVersion it saw and
its report) that gwlab's own writes wait on."""

from __future__ import annotations

import copy
import json
import threading
import traceback
from dataclasses import asdict, dataclass

from orchestrator import cluster
from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.store import Event, Watch
from orchestrator.controlplane import objects as stored, writeback
from orchestrator.controlplane.marker import Marker
from orchestrator.engines.base import SyncReport
from orchestrator.errors import LabError
from orchestrator.fsutil import atomic_write
from orchestrator.k8s.world import Allocations, ServiceSpec, compute
from orchestrator.manifests import Document
from orchestrator.engines.netns.records import PodRecords
from orchestrator.rundir import RunDir
from orchestrator.state import LabState
from orchestrator.topology import Topology

DEBOUNCE = 0.03  # seconds of quiet gathered into one pass (kubectl apply of a file is several writes)
RETRY, RETRIES = 0.2, 5
POD_CHECK = 0.5  # seconds between looks at the pods' processes while nothing is written  # a failed pass again after 0.2, 0.4, ... s


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
        self.watch = _Everything(objects.store, "", None)
        with objects.store.lock:
            objects.store.watches.append(self.watch)
        self._stop = threading.Event()

    def documents(self) -> list[Document]:
        docs = []
        for r in stored.modelled():
            docs += [stored.document(r, o) for o in self.objects.list_of(r, None)[0]]
        return docs

    def sync(self, docs: list[Document]) -> SyncReport:
        """The seam: today's whole-world reconcile (issue 11 puts watch-driven controllers here)."""
        plan = cluster.plan(self.topo, docs)
        report = self.engine.apply(plan)
        from orchestrator.engines.netns.controllers import Controllers  # the netns engine's controllers

        ctl = Controllers(self.engine.host)  # type: ignore[attr-defined]
        alloc = ctl.allocations()
        writeback.statuses(self.objects, alloc.statuses)
        waiting = {k: f"MountVolume.SetUp failed: {why}" for k, why in report.waiting.items()}
        specs = alloc.pod_specs()
        writeback.pods(self.objects, self.topo, self.files, specs, set(alloc.ready), waiting)
        writeback.endpoints(self.objects, self.services(plan, alloc), specs)
        by_key = {s.key: s for s in specs}
        for key in report.created:  # Events saying why the controllers acted
            if key in by_key:
                spec = by_key[key]
                writeback.event(self.objects, spec.namespace, "Pod", spec.name, "Started",
                                f"Started on {spec.node} at {spec.ip} for {spec.owner}", component="kubelet")
        for key in report.removed:
            namespace, _, name = key.partition("/")
            writeback.event(self.objects, namespace, "Pod", name, "Killing",
                            "Stopped: its owner no longer wants it (deleted, scaled down or its template changed)",
                            component="kubelet")
        return report

    def services(self, plan: cluster.ClusterPlan, alloc: Allocations) -> list[ServiceSpec]:
        """The Services with their ready endpoints, as the controllers' last pass left them."""
        from orchestrator.engines.netns.controllers import now, objects_of, service_cidr

        topo = self.topo
        blocks = {node: s.blocks[0] for node, s in plan.speakers.items() if s.blocks}
        world = compute(topo, objects_of(plan), blocks, copy.deepcopy(alloc),
                        service_cidr(topo.path.parent / topo.kind_config), now())
        return list(world.services.values())

    def once(self, rv: int, retrying: bool = False) -> bool:
        """One pass at the store's version rv; False if the controllers failed (the marker says why)."""
        docs = self.documents()
        fingerprint = json.dumps([d.body for d in docs], sort_keys=True)
        marker = Marker(rv)
        if not docs and not self.fingerprint:
            # A lab's store is empty until `up` stores the objects its speakers were built from: a pass
            # now would reconfigure every speaker to Calico's defaults, without the bastion's peering,
            # and `up` then waited a second more for the sessions that pass had taken down.
            self.fingerprint = fingerprint
        if fingerprint != self.fingerprint:
            try:
                marker.report = asdict(self.sync(docs))
                self.fingerprint = fingerprint
            except LabError as exc:
                marker.error = str(exc)
            except Exception:  # one bad pass must not end the control plane; its log says why
                marker.error = "the controllers failed: " + traceback.format_exc(limit=5)
                print(marker.error, flush=True)
        else:
            marker = Marker(rv, Marker.read(self.files.reconciled).report)
        marker.retrying = bool(marker.error) and retrying
        atomic_write(self.files.reconciled, json.dumps(asdict(marker)))
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

    def pod_died(self) -> bool:
        """A pod's process is gone (the kubelet's part, until issue 11's kubelet restarts it itself)."""
        from orchestrator.engines.netns import procs

        return any(p.role.startswith("pod:") and not procs.alive(p) for p in self.records.processes)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="controllers", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self.watch.close()

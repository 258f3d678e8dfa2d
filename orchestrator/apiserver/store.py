"""The object store: every object by resource, namespace and name; one resourceVersion counter;
persisted atomically (temp file, fsync, rename) before a write returns; a bounded event history
that watches replay from and subscribe to (in process, or over HTTP)."""

from __future__ import annotations

import collections
import copy
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.fsutil import atomic_write

Obj = dict[str, Any]
HISTORY = 5000


@dataclass(frozen=True)
class Event:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    resource: str  # "group/plural"
    rv: int
    object: Obj


class TooOld(Exception):
    """The watch's resourceVersion is older than the history kept (HTTP 410 Gone)."""


@dataclass
class Watch:
    """One subscription: events of one resource (namespace optional) after a resourceVersion."""

    store: Store
    resource: str
    namespace: str | None
    events: queue.Queue[Event | None] = field(default_factory=queue.Queue)
    initial: int = 0  # how many of the first events are the current state (a watch from no version)
    start_rv: int = 0

    def matches(self, ev: Event) -> bool:
        if ev.resource != self.resource:
            return False
        return self.namespace is None or ev.object.get("metadata", {}).get("namespace") == self.namespace

    def next(self, timeout: float) -> Event | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def __iter__(self) -> Iterator[Event]:
        while (ev := self.events.get()) is not None:
            yield ev

    def close(self) -> None:
        self.store.unsubscribe(self)
        self.events.put(None)


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.rv = 0
        self.objects: dict[str, dict[tuple[str, str], Obj]] = collections.defaultdict(dict)
        self.history: collections.deque[Event] = collections.deque(maxlen=HISTORY)
        self.watches: list[Watch] = []
        if path is not None and path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self.rv = int(data["resourceVersion"])
            for resource, items in data["objects"].items():
                for obj in items:
                    meta = obj["metadata"]
                    self.objects[resource][(meta.get("namespace", ""), meta["name"])] = obj

    def _persist(self) -> None:
        if self.path is None:
            return
        data = {"resourceVersion": self.rv,
                "objects": {r: list(objs.values()) for r, objs in self.objects.items() if objs}}
        atomic_write(self.path, json.dumps(data, separators=(",", ":")).encode(), durable=True)

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            obj = self.objects[resource].get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[Obj], int]:
        with self.lock:
            items = [copy.deepcopy(o) for (ns, _), o in sorted(self.objects[resource].items())
                     if namespace is None or ns == namespace]
            return items, self.rv

    def next_rv(self) -> int:
        return self.rv + 1

    def write(self, resource: str, obj: Obj, deleted: bool = False) -> Obj:
        """Store (or remove) obj, stamping the next resourceVersion; persisted before returning."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            existed = key in self.objects[resource]
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            if deleted:
                self.objects[resource].pop(key, None)
            else:
                self.objects[resource][key] = copy.deepcopy(obj)
            self._persist()
            kind = "DELETED" if deleted else ("MODIFIED" if existed else "ADDED")
            ev = Event(kind, resource, self.rv, copy.deepcopy(obj))
            self.history.append(ev)
            for w in self.watches:
                if w.matches(ev):
                    w.events.put(ev)
            return obj

    def watch(self, resource: str, from_rv: int | None, namespace: str | None = None) -> Watch:
        """Events after from_rv (None: ADDED for every current object first, then changes)."""
        with self.lock:
            w = Watch(self, resource, namespace, start_rv=self.rv)
            if from_rv is None:
                for obj in self.list(resource, namespace)[0]:
                    w.events.put(Event("ADDED", resource, int(obj["metadata"]["resourceVersion"]), obj))
                    w.initial += 1
            else:
                earliest = self.history[0].rv - 1 if self.history else self.rv
                if from_rv < earliest:
                    raise TooOld(f"too old resource version: {from_rv} ({earliest})")
                for ev in self.history:
                    if ev.rv > from_rv and w.matches(ev):
                        w.events.put(ev)
            self.watches.append(w)
            return w

    def unsubscribe(self, w: Watch) -> None:
        with self.lock:
            if w in self.watches:
                self.watches.remove(w)

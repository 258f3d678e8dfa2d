"""The object store: every object by resource, namespace and name; one resourceVersion counter;
persisted before a write returns; a bounded event history that watches replay from and subscribe
to (in process, or over HTTP).

Persisted as etcd keeps its data, a snapshot and a log: each write appends one line (the object, or
its deletion, at its resourceVersion) to `<store>.log` before it returns; when the log has
grown past the store's size the whole store becomes the new snapshot (temp file, fsync, rename) and
the log starts again. A write costs what its object costs, not what the store holds (10,000 Services
rewritten whole on every write made the store's writes quadratic). `read_persisted` is the one
reader of the files for other processes."""

from __future__ import annotations

import collections
import copy
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.fsutil import atomic_write

Obj = dict[str, Any]
HISTORY = 5000
COMPACT_MIN = 1000  # log lines always allowed before the snapshot is rewritten


def journal_of(path: Path) -> Path:
    return path.with_name(path.name + ".log")


def _snapshot(path: Path) -> tuple[tuple[int, int] | None, dict[str, Any]]:
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            return (st.st_ino, st.st_mtime_ns), json.loads(f.read())
    except FileNotFoundError:
        return None, {"resourceVersion": 0, "objects": {}}


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def read_persisted(path: Path) -> tuple[int, dict[str, dict[tuple[str, str], Obj]]]:
    """The persisted store: (resourceVersion, resource -> (namespace, name) -> object), the snapshot
    with the log's later writes applied. A snapshot replaced while it was read is read again."""
    follower = Follower(path)
    return follower.read(), follower.objects


class Follower:
    """The persisted store as another process reads it, kept current by reading only the lines the
    log gained while the snapshot is the same file (verify reads the store for one kind after another,
    and the nodes' Lease renewals append to the log every second: a whole read of 10,000 Services'
    snapshot and log per check was most of verify's time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ident: tuple[int, int] | None = None  # the snapshot read (inode, mtime); None: none yet
        self.snapshot_rv = self.rv = 0
        self.offset = 0  # the log's bytes applied (whole lines)
        self.objects: dict[str, dict[tuple[str, str], Obj]] = collections.defaultdict(dict)

    def read(self) -> int:
        """The store's resourceVersion now; self.objects brought to it."""
        if self.ident is not None and self.ident == _identity(self.path):
            try:
                with journal_of(self.path).open("rb") as f:
                    if os.fstat(f.fileno()).st_size >= self.offset:
                        f.seek(self.offset)
                        more = f.read()
                        if _identity(self.path) == self.ident:  # not compacted meanwhile
                            self._apply(more)
                            return self.rv
            except FileNotFoundError:
                pass
        for _ in range(20):
            ident, data = _snapshot(self.path)
            try:
                log = journal_of(self.path).read_bytes()
            except FileNotFoundError:
                log = b""
            if _identity(self.path) == ident:
                break
        self.ident, self.offset = ident, 0
        self.rv = self.snapshot_rv = int(data["resourceVersion"])
        self.objects = collections.defaultdict(dict)
        for resource, items in data["objects"].items():
            for obj in items:
                meta = obj["metadata"]
                self.objects[resource][(meta.get("namespace", ""), meta["name"])] = obj
        self._apply(log)
        return self.rv

    def _apply(self, log: bytes) -> None:
        """The log's whole lines in `log` (what follows the last newline is being written)."""
        whole = log[:log.rfind(b"\n") + 1]
        self.offset += len(whole)
        for line in whole.split(b"\n"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # an empty line
            if entry["rv"] <= self.snapshot_rv:
                continue  # already in the snapshot
            key = (entry["ns"], entry["name"])
            if entry["obj"] is None:
                self.objects[entry["r"]].pop(key, None)
            else:
                self.objects[entry["r"]][key] = entry["obj"]
            self.rv = max(self.rv, int(entry["rv"]))


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
        # Secondary indexes: (resource, name) -> (what an object contributes, how many objects do)
        self.indexes: dict[tuple[str, str], tuple[Callable[[Obj], list[Any]], collections.Counter[Any]]] = {}
        self._log: Any = None  # the open log file (binary, appending)
        self._logged = 0  # its lines since the last snapshot
        if path is not None:
            self.rv, self.objects = read_persisted(path)
            self._compact()

    def _compact(self) -> None:
        """The whole store as the new snapshot; the log starts again."""
        assert self.path is not None
        data = {"resourceVersion": self.rv,
                "objects": {r: list(objs.values()) for r, objs in self.objects.items() if objs}}
        atomic_write(self.path, json.dumps(data, separators=(",", ":")).encode(), durable=True)
        if self._log is not None:
            self._log.close()
        fd = os.open(journal_of(self.path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._log = os.fdopen(fd, "ab")
        self._logged = 0

    def _persist(self, resource: str, key: tuple[str, str], obj: Obj | None) -> None:
        if self.path is None:
            return
        if self._logged >= max(COMPACT_MIN, sum(len(o) for o in self.objects.values())):
            self._compact()
            return
        entry = {"rv": self.rv, "r": resource, "ns": key[0], "name": key[1], "obj": obj}
        self._log.write(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
        # In the kernel's page cache before the write returns: kept if this process dies. No fsync per
        # line (1-2 ms each on a disk, under the store's lock): a lab does not outlive a reboot, its
        # namespaces and daemons go with it.
        self._log.flush()
        self._logged += 1

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            obj = self.objects[resource].get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def version(self, resource: str, namespace: str, name: str) -> str | None:
        """An object's resourceVersion (None: no such object), read without copying it."""
        with self.lock:
            obj = self.objects[resource].get((namespace, name))
            return None if obj is None else str(obj["metadata"]["resourceVersion"])

    def index(self, resource: str, name: str, values: Callable[[Obj], list[Any]]) -> collections.Counter[Any]:
        """How many objects of `resource` hold each value `values` finds, kept current by every
        write (made on first use): what an allocator asks instead of reading every object."""
        with self.lock:
            if (resource, name) not in self.indexes:
                counts: collections.Counter[Any] = collections.Counter()
                for o in self.objects[resource].values():
                    counts.update(values(o))
                self.indexes[(resource, name)] = (values, counts)
            return self.indexes[(resource, name)][1]

    def scan(self, resource: str, keep: Callable[[Obj], bool], namespace: str | None = None) -> list[Obj]:
        """Copies of the objects `keep` accepts, in list order; `keep` sees the stored objects
        (read-only), so a scan costs a copy only of what it finds."""
        with self.lock:
            found = [(k, o) for k, o in self.objects[resource].items()
                     if (namespace is None or k[0] == namespace) and keep(o)]
            return [copy.deepcopy(o) for _, o in sorted(found, key=lambda f: f[0])]

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
            for (indexed, _), (values, counts) in self.indexes.items():
                if indexed == resource:
                    if existed:
                        for v in values(self.objects[resource][key]):
                            counts[v] -= 1
                            if counts[v] <= 0:
                                del counts[v]
                    if not deleted:
                        counts.update(values(obj))
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            if deleted:
                self.objects[resource].pop(key, None)
            else:
                self.objects[resource][key] = copy.deepcopy(obj)
            self._persist(resource, key, None if deleted else obj)
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

"""Deletion: cascading to dependents by ownerReferences inside a namespace (background by default,
foreground and orphan as asked), and namespaces (Terminating, emptied, then gone)."""

from __future__ import annotations

import copy
import threading
from typing import Any, Callable

from orchestrator.apiserver import errors
from orchestrator.apiserver.conversion import is_view
from orchestrator.apiserver.crud import INITIAL_NAMESPACES, Objects, key_of
from orchestrator.apiserver.defaults import now
from orchestrator.apiserver.errors import ApiError
from orchestrator.apiserver.registry import RESOURCES, Resource

Obj = dict[str, Any]


class Deleter:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self._owners: set[str] | None = None  # during a collection's deletion: the uids that own something

    def delete(self, r: Resource, namespace: str, name: str, options: Obj, dry_run: bool = False) -> Obj:
        store = self.objects.store
        with store.lock:
            obj = self.objects.get(r, namespace, name)
            if dry_run:
                return obj
            pre = options.get("preconditions") or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise errors.conflict(r.group, r.plural, name)
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise errors.conflict(r.group, r.plural, name)
            if r.kind == "Namespace":
                return self._namespace(obj)
            policy = str(options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else
                                                              "Background"))
            if policy == "Foreground":  # dependents go first, then the owner
                self._cascade(obj, namespace, policy)
                return self.objects.remove(r, namespace, name)
            gone = self.objects.remove(r, namespace, name)  # the owner goes first, then the collector's work
            if not gone["metadata"].get("deletionTimestamp"):
                self._cascade(obj, namespace, policy)
            return gone

    def _cascade(self, owner: Obj, namespace: str, policy: str) -> None:
        uid = owner["metadata"]["uid"]
        if self._owners is not None and uid not in self._owners:
            return  # nothing names it as its owner: no scan of every object for each of many deletions
        for dep_r, dep in self.objects.dependents(uid, namespace):
            refs = dep["metadata"].get("ownerReferences") or []
            if policy == "Orphan":
                dep["metadata"]["ownerReferences"] = [ref for ref in refs if ref.get("uid") != uid] or None
                if dep["metadata"]["ownerReferences"] is None:
                    del dep["metadata"]["ownerReferences"]
                self.objects.store.write(key_of(dep_r), dep)
            elif len(refs) == 1 or all(ref.get("uid") == uid for ref in refs):
                self._cascade(dep, namespace, policy)
                self.objects.remove(dep_r, namespace, dep["metadata"]["name"])

    def _namespace(self, ns: Obj) -> Obj:
        name = ns["metadata"]["name"]
        if name in INITIAL_NAMESPACES[:1] + INITIAL_NAMESPACES[2:]:
            raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                           {"name": name, "kind": "namespaces"})
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns["metadata"]["deletionTimestamp"] = now()
            ns["metadata"]["deletionGracePeriodSeconds"] = 0
            ns["status"] = {"phase": "Terminating"}
            self.objects.store.write("/namespaces", ns)
            # The namespace controller's work happens after the answer, as on a real cluster.
            threading.Thread(target=self._empty_namespace, args=(name,), daemon=True).start()
        return copy.deepcopy(ns)

    def _empty_namespace(self, name: str) -> None:
        store = self.objects.store
        with store.lock:
            for r in RESOURCES:
                if r.namespaced and not is_view(r):
                    for o in store.list(key_of(r), name)[0]:
                        store.write(key_of(r), o, deleted=True)
            ns = store.get("/namespaces", "", name)
            if ns is not None:
                store.write("/namespaces", ns, deleted=True)

    def delete_collection(self, r: Resource, namespace: str | None, keep: Callable[[Obj], bool]) -> Obj:
        gone = []
        with self.objects.store.lock:  # the owners found stay the owners until the last deletion
            items, _ = self.objects.list_of(r, namespace)
            self._owners = self.objects.owner_uids(namespace)
            try:
                for o in items:
                    if keep(o):
                        meta = o["metadata"]
                        gone.append(self.delete(r, meta.get("namespace", ""), meta["name"], {}))
            finally:
                self._owners = None
        return {"kind": f"{r.kind}List", "apiVersion": r.api_version, "metadata": {}, "items": gone}

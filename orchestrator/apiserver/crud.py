"""Create, update, patch and delete with kube-apiserver's semantics (namespaces, metadata, defaults,
resourceVersion preconditions, the status subresource, strict field validation, admission)."""

from __future__ import annotations

import collections
import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from orchestrator.apiserver import errors
from orchestrator.apiserver.admission import Admission
from orchestrator.apiserver.conversion import from_storage, is_view, storage_key, to_storage
from orchestrator.apiserver.defaults import (allocate_cluster_ip, allocate_node_ports, apply_defaults,
                                             generate_suffix,
                                             name_causes, new_metadata, now)
from orchestrator.apiserver.errors import ApiError, Cause
from orchestrator.apiserver.registry import RESOURCES, Resource, lookup
from orchestrator.apiserver.schemas import resource_schema
from orchestrator.apiserver.store import Store
from orchestrator.apiserver.validation import fill_defaults, validate

Obj = dict[str, Any]
NAMESPACES = lookup("", "v1", "namespaces")
INITIAL_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
_IMMUTABLE_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds",
                   "namespace", "name")


def key_of(r: Resource) -> str:
    return storage_key(r)


@dataclass
class Outcome:
    obj: Obj
    warnings: list[str] = field(default_factory=list)
    changed: bool = True


class Objects:
    def __init__(self, store: Store, admissions: list[Admission] | None = None) -> None:
        self.store = store
        self.admissions: list[Admission] = []
        assert NAMESPACES is not None
        for ns in INITIAL_NAMESPACES:
            if store.get(key_of(NAMESPACES), "", ns) is None:
                self.create(NAMESPACES, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.admissions = admissions or []

    # reading
    def get(self, r: Resource, namespace: str, name: str) -> Obj:
        obj = self.store.get(key_of(r), namespace if r.namespaced else "", name)
        if obj is None:
            raise errors.not_found(r.group, r.plural, name)
        return from_storage(r, obj)

    def list_of(self, r: Resource, namespace: str | None) -> tuple[list[Obj], int]:
        items, rv = self.store.list(key_of(r), namespace if r.namespaced else None)
        return [from_storage(r, o) for o in items], rv

    # checks shared by every write
    def _check_body(self, r: Resource, namespace: str, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request(f"the body of the request must be a {r.kind} object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version and api_version != r.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                     f"API version ({r.api_version})")
        if kind and kind != r.kind:
            raise errors.bad_request(f"{kind} in version \"{r.version}\" cannot be handled as a {r.kind}: "
                                     f"the kind in the data ({kind}) does not match the expected kind ({r.kind})")
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request(f"{r.kind} in version \"{r.version}\" cannot be handled as a {r.kind}: "
                                     "metadata must be an object")
        if r.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                         "on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _validate(self, r: Resource, obj: Obj, old: Obj | None, strictness: str) -> list[str]:
        schema, pool = resource_schema(r)
        found = validate(obj, schema, pool)
        warnings: list[str] = []
        if found.unknown:
            unknown = ", ".join(f'unknown field "{p}"' for p in found.unknown)
            if strictness == "Strict":
                raise errors.bad_request(f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: '
                                         f"strict decoding error: {unknown}")
            if strictness != "Ignore":
                warnings += [f'unknown field "{p}"' for p in found.unknown]
            for path in found.unknown:
                _prune(obj, path)
        causes = list(found.causes)
        if not r.builtin:
            fill_defaults(obj, schema, pool)
        name = str(obj["metadata"].get("name", ""))
        if old is None:
            causes = name_causes(r, name) + causes
        for adm in self.admissions:
            verdict = adm.validate(r, obj, old)
            causes += verdict.causes
            warnings += verdict.warnings
        if causes:
            raise errors.invalid(r.group, r.kind, name, causes)
        return warnings

    def _namespace_ready(self, r: Resource, namespace: str) -> None:
        if not r.namespaced:
            return
        assert NAMESPACES is not None
        ns = self.store.get(key_of(NAMESPACES), "", namespace)
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating":
            raise ApiError(403, "Forbidden", f'{r.qualified} "{ns["metadata"]["name"]}" is forbidden: unable to '
                           f"create new content in namespace {namespace} because it is being terminated",
                           {"name": namespace, "kind": r.plural, "causes": [{"reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace"}]})

    # writes
    def _write(self, r: Resource, obj: Obj, dry_run: bool) -> Obj:
        if dry_run:
            return copy.deepcopy(obj)
        return from_storage(r, self.store.write(key_of(r), to_storage(r, obj)))

    def create(self, r: Resource, namespace: str, body: Any, strictness: str = "Warn",
               dry_run: bool = False) -> Outcome:
        obj = self._check_body(r, namespace, body)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{generate_suffix()}"
        if not meta.get("name"):
            raise errors.invalid(r.group, r.kind, "", [Cause("metadata.name", "Required value: name or "
                                 "generateName is required", "FieldValueRequired")])
        with self.store.lock:
            self._namespace_ready(r, namespace)
            if "status" in r.subresources and r.kind != "Namespace":
                obj.pop("status", None)
            warnings = self._validate(r, obj, None, strictness)
            if self.store.get(key_of(r), meta.get("namespace", ""), meta["name"]) is not None:
                raise errors.already_exists(r.group, r.plural, meta["name"])
            new_metadata(r, obj)
            apply_defaults(r, obj)
            if r.kind == "Service":
                self._allocate(obj)
            return Outcome(self._write(r, obj, dry_run), warnings)

    def _allocate(self, obj: Obj, old: Obj | None = None) -> None:
        # The addresses and node ports taken, from the store's indexes: reading every Service per
        # create made creating many Services quadratic.
        ips = self.store.index("/services", "clusterIP", _cluster_ips)
        ports = self.store.index("/services", "nodePort", _node_ports)
        own_ports = collections.Counter(_node_ports(old) if old is not None else [])
        spec = obj.setdefault("spec", {})
        used = {p for p, n in ports.items() if n > own_ports[p]} if spec.get("type") in ("NodePort", "LoadBalancer") \
            else set()
        causes = []
        if old is None:
            cause = allocate_cluster_ip(spec, ips.keys())
            causes += [cause] if cause is not None else []
        else:
            old_spec = old.get("spec") or {}
            for i, port in enumerate(spec.get("ports") or []):
                kept = next((p for p in old_spec.get("ports") or [] if p.get("port") == port.get("port")
                             and p.get("protocol") == port.get("protocol")), None)
                if isinstance(port, dict) and kept and kept.get("nodePort") and not port.get("nodePort"):
                    port["nodePort"] = kept["nodePort"]
        causes += allocate_node_ports(spec, used)
        if causes:
            raise errors.invalid("", "Service", obj["metadata"]["name"], causes)

    def update(self, r: Resource, namespace: str, name: str, body: Any, strictness: str = "Warn",
               subresource: str = "", dry_run: bool = False) -> Outcome:
        obj = self._check_body(r, namespace, body)
        if obj["metadata"].get("name") not in (None, name):
            raise errors.bad_request("the name of the object does not match the name on the URL")
        obj["metadata"]["name"] = name
        with self.store.lock:
            old = self.get(r, namespace, name)
            wanted_rv = obj["metadata"].get("resourceVersion")
            if wanted_rv and str(wanted_rv) != old["metadata"]["resourceVersion"]:
                raise errors.conflict(r.group, r.plural, name)
            if subresource == "status":
                new = copy.deepcopy(old)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
                obj = new
            else:
                for key in _IMMUTABLE_META:
                    if key in old["metadata"]:
                        obj["metadata"][key] = old["metadata"][key]
                    else:
                        obj["metadata"].pop(key, None)
                if "status" in r.subresources or r.kind == "Namespace":
                    if "status" in old:
                        obj["status"] = old["status"]
                    else:
                        obj.pop("status", None)
                if r.kind == "Service":
                    spec, old_spec = obj.setdefault("spec", {}), old.get("spec") or {}
                    for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                        if k in old_spec and not spec.get(k):
                            spec[k] = old_spec[k]
            warnings = self._validate(r, obj, old, strictness)
            apply_defaults(r, obj)
            if subresource != "status":
                _immutable(r, obj, old)
                if r.kind == "Service":
                    self._allocate(obj, old)
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if obj == old:
                return Outcome(old, warnings, changed=False)
            if subresource != "status" and "generation" in old["metadata"] and _spec_changed(old, obj):
                obj["metadata"]["generation"] = int(old["metadata"]["generation"]) + 1
            if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers") and not dry_run:
                # the last finalizer is gone: the deletion that waited for it happens now
                self.store.write(key_of(r), to_storage(r, obj), deleted=True)
                return Outcome(obj, warnings)
            return Outcome(self._write(r, obj, dry_run), warnings)

    def remove(self, r: Resource, namespace: str, name: str) -> Obj:
        """Take the object out now (no grace period), or, while it has finalizers, mark it deleted and
        leave it until they are gone (an update removing the last one deletes it)."""
        with self.store.lock:
            obj = self.get(r, namespace, name)
            if obj["metadata"].get("finalizers"):
                if not obj["metadata"].get("deletionTimestamp"):
                    obj["metadata"]["deletionTimestamp"] = now()
                    obj["metadata"]["deletionGracePeriodSeconds"] = 0
                    return from_storage(r, self.store.write(key_of(r), to_storage(r, obj)))
                return obj
            self.store.write(key_of(r), to_storage(r, copy.deepcopy(obj)), deleted=True)
            return obj

    def owner_uids(self, namespace: str | None) -> set[str]:
        """The uids that some object's ownerReferences name (one scan, nothing copied)."""
        uids: set[str] = set()

        def note(o: Obj) -> bool:
            uids.update(str(ref.get("uid")) for ref in o["metadata"].get("ownerReferences") or [])
            return False
        for r in RESOURCES:
            if r.namespaced and not is_view(r):
                self.store.scan(key_of(r), note, namespace)
        return uids

    def dependents(self, uid: str, namespace: str) -> list[tuple[Resource, Obj]]:
        found = []
        for r in RESOURCES:
            if not r.namespaced or is_view(r):
                continue
            owned = self.store.scan(key_of(r), lambda o: any(
                ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or []), namespace)
            found += [(r, o) for o in owned]
        return found


def _cluster_ips(service: Obj) -> list[str]:
    return [str((service.get("spec") or {}).get("clusterIP"))]


def _node_ports(service: Obj) -> list[int]:
    return [int(p["nodePort"]) for p in (service.get("spec") or {}).get("ports") or []
            if isinstance(p, dict) and p.get("nodePort")]


_IMMUTABLE_SPEC = {"Service": ("clusterIP",), "Deployment": ("selector",), "ReplicaSet": ("selector",)}


def _immutable(r: Resource, new: Obj, old: Obj) -> None:
    causes = []
    for key in _IMMUTABLE_SPEC.get(r.kind, ()):
        before, after = (old.get("spec") or {}).get(key), (new.get("spec") or {}).get(key)
        if before is not None and after != before:
            shown = json.dumps(after) if not isinstance(after, str) else f'"{after}"'
            causes.append(Cause(f"spec.{key}", f"Invalid value: {shown}: field is immutable"))
    if causes:
        raise errors.invalid(r.group, r.kind, new["metadata"]["name"], causes)


def _spec_changed(old: Obj, new: Obj) -> bool:
    strip = ("metadata", "status", "resourceVersion")
    return {k: v for k, v in old.items() if k not in strip} != {k: v for k, v in new.items() if k not in strip}


def _prune(obj: Obj, path: str) -> None:
    """Drop an unknown field, as decoding into the kind's type (or CRD pruning) drops it."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node: Any = obj
    for p in parts[:-1]:
        node = node[int(p[1:-1])] if p.startswith("[") else node.get(p)
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)

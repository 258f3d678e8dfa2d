"""gwlab's own writes to the lab's API (the demo's steps, the Calico manifests, `certs --apply`):
each object created or replaced as `kubectl replace`/`create` would, its namespace made when missing,
then a wait until the control plane has reconciled past the writes (its marker)."""

from __future__ import annotations

import copy
import time
from typing import Any

from orchestrator.cluster import Change
from orchestrator.controlplane.client import Client, Reply
from orchestrator.controlplane.objects import object_path, resource_of
from orchestrator.controlplane.marker import Marker
from orchestrator.engines.base import SyncReport
from orchestrator.errors import LabError
from orchestrator.k8s import kinds
from orchestrator.manifests import Document
from orchestrator.rundir import RunDir

RECONCILE_WAIT = 60.0
_SERVER_META = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


def _body(doc: Document) -> dict[str, Any]:
    body = {k: copy.deepcopy(v) for k, v in doc.body.items() if k != "status"}
    meta = dict(body.get("metadata") or {})
    for key in _SERVER_META:
        meta.pop(key, None)
    body["metadata"] = meta
    return body


def _check(reply: Reply, what: str) -> Reply:
    if reply.status >= 300:
        raise LabError(f"{what}: the API server refused it: {reply.message}")
    return reply


def _ensure_namespace(client: Client, namespace: str, made: set[str]) -> None:
    if namespace in made:
        return
    reply = client.request("POST", "/api/v1/namespaces",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    if reply.status not in (201, 409):
        _check(reply, f"namespace {namespace}")
    made.add(namespace)


def write(client: Client, docs: list[Document], ignored: dict[tuple[str, str, str], list[str]],
          deleted: list[tuple[str, str, str]]) -> tuple[list[Change], int]:
    """Create or replace each document, delete each (kind, namespace, name); the changes as kubectl
    words them and the store's resourceVersion after the last write."""
    changes: list[Change] = []
    made: set[str] = set()
    for doc in docs:
        r = resource_of(doc.api_version, doc.kind)
        if r is None:
            raise LabError(f"{doc.file}: {doc.kind} ({doc.api_version}) is not served by the lab's API server")
        ns = doc.namespace if r.namespaced else ""
        if ns:
            _ensure_namespace(client, ns, made)
        body = _body(doc)
        # Create first (one request where `up` writes its objects); an object that exists is replaced.
        made_now = client.request("POST", object_path(r, ns), body)
        if made_now.status != 409 or made_now.body.get("reason") != "AlreadyExists":
            _check(made_now, doc.file)
            verb = "created"
        else:
            current = client.request("GET", object_path(r, ns, doc.name))
            old_rv = _check(current, doc.file).body["metadata"]["resourceVersion"]
            body["metadata"]["resourceVersion"] = old_rv
            new = _check(client.request("PUT", object_path(r, ns, doc.name), body), doc.file)
            verb = "unchanged" if new.body["metadata"]["resourceVersion"] == old_rv else "configured"
        changes.append(Change(doc, verb, ignored.get((doc.kind, doc.namespace, doc.name), [])))
    for kind, namespace, name in deleted:
        info = kinds.kind_of(kind)
        r = resource_of(info.api_versions()[0], info.kind)
        if r is None:
            continue
        ns = namespace if r.namespaced else ""
        gone = client.request("DELETE", object_path(r, ns, name))
        if gone.status != 404:
            _check(gone, f"{kind}/{name}")
            body = {"apiVersion": info.api_versions()[0], "kind": info.kind,
                    "metadata": {"name": name, "namespace": namespace}}
            changes.append(Change(Document(f"{kind}/{name}", 0, body), "deleted", []))
    listed = _check(client.request("GET", "/api/v1/namespaces?limit=1"), "the store's version")
    return changes, int(listed.body["metadata"]["resourceVersion"])


def store_rv(files: RunDir) -> int:
    """The store's resourceVersion as persisted (every write is on disk before it returns); 0 if unread."""
    from orchestrator.apiserver.store import read_persisted

    try:
        return read_persisted(files.api_store)[0]
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def wait_reconciled(files: RunDir, rv: int, timeout: float = RECONCILE_WAIT, since: int | None = None) -> SyncReport:
    """What the control plane's controllers did once they have reconciled the store at rv or later:
    every pass after the store's version `since` (before the change was written; default rv - 1)."""
    deadline = time.monotonic() + timeout
    while True:
        marker = Marker.read(files.reconciled)
        if marker.rv >= rv and not marker.retrying:
            if marker.error:
                raise LabError(f"the lab's controllers failed on this change: {marker.error}")
            return marker.sync_report(rv - 1 if since is None else since)
        if time.monotonic() > deadline:
            raise LabError(f"the lab's controllers did not catch up with the change within {timeout:.0f} s "
                           f"(reconciled {marker.rv}, written {rv}); see {files.controlplane_log}")
        time.sleep(0.01)

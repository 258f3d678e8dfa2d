"""The lab's objects as the API server stores them, read as the lab's Documents: the one place
that knows which resource holds each modelled kind. The control plane reads them from its store in
process; a CLI reads the store's persisted files (its snapshot and log, written by the API server,
read-only here)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from orchestrator.apiserver.conversion import from_storage, storage_key
from orchestrator.apiserver.registry import Resource, by_kind
from orchestrator.apiserver.store import Follower, read_persisted
from orchestrator.controlplane.admission import clean, user_body
from orchestrator.k8s import kinds
from orchestrator.k8s.proxy_names import owning_gateway
from orchestrator.manifests import Document, group_of


def resource_of(api_version: str, kind: str) -> Resource | None:
    """The served resource for a document's kind, at the version the document names (else the
    kind's preferred one)."""
    found = by_kind(api_version, kind)
    if found is not None:
        return found
    info = kinds.lookup(api_version, kind)
    if info is None:
        return None
    return by_kind(info.api_versions()[0], kind)


def modelled() -> list[Resource]:
    """The resources of every kind the lab applies (each at its preferred version)."""
    out = []
    for info in kinds.KINDS:
        if info.parser is None:
            continue
        r = by_kind(info.api_versions()[0], info.kind)
        if r is not None:
            out.append(r)
    return out


def controllers_own(obj: dict[str, Any]) -> bool:
    """An object the controllers make from others (a Gateway's proxy Deployment and Service): not an
    input of the cluster plan, and not judged by the lab's models (its image is Envoy's)."""
    return owning_gateway(obj) is not None


def document(r: Resource, obj: dict[str, Any]) -> Document:
    meta = obj.get("metadata") or {}
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return clean(Document(f"{r.plural}/{where}{meta.get('name', '')}", 0, user_body(obj)))


def from_file(path: Path) -> list[Document]:
    """The modelled objects in the API server's persisted store (none when it does not exist yet)."""
    try:
        _, stored = read_persisted(path)
    except (OSError, ValueError):
        return []
    docs = []
    for r in modelled():
        for obj in sorted(stored.get(storage_key(r), {}).values(),
                          key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])):
            if not controllers_own(obj):
                docs.append(document(r, from_storage(r, obj)))
    return docs


def kind_path(api_version: str) -> str:
    """/api/v1 or /apis/GROUP/VERSION."""
    return f"/apis/{api_version}" if group_of(api_version) else f"/api/{api_version}"


def object_path(r: Resource, namespace: str, name: str = "") -> str:
    base = kind_path(r.api_version)
    where = f"/namespaces/{namespace}" if r.namespaced else ""
    return f"{base}{where}/{r.plural}" + (f"/{name}" if name else "")


_read: dict[Path, Follower] = {}


def _persisted(path: Path) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
    """The persisted store, brought up to date by what its log gained since the last read: verify asks
    for one kind after another, and with 10,000 Services each whole read of the store took a second or
    more."""
    if path not in _read:
        _read[path] = Follower(path)
    _read[path].read()
    return _read[path].objects


def bodies(path: Path, kind: str, namespace: str | None) -> list[dict[str, Any]]:
    """Objects of a kind as the API server returns them (status included) from its persisted store;
    namespace None: every namespace."""
    info = kinds.kind_of(kind)
    r = resource_of(info.api_versions()[0], info.kind)
    if r is None:
        return []
    try:
        stored = _persisted(path)
    except (OSError, ValueError):
        return []
    found = [from_storage(r, copy.deepcopy(o)) for o in stored.get(storage_key(r), {}).values()]
    return sorted((o for o in found if namespace is None or not r.namespaced
                   or o["metadata"].get("namespace") == namespace),
                  key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

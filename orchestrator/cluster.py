"""The cluster plan: the lab's objects (stored by the lab's API server, orchestrator.controlplane) merged
with a change and validated whole, and what the cluster's controllers derive from them (here: the node
BGP speakers)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from orchestrator import PROJECT_ROOT, manifests
from orchestrator.calico.models import BGPConfiguration, BGPPeer, IPPool
from orchestrator.calico.speakers import CalicoObjects, SpeakerConfig, speaker_configs
from orchestrator.k8s import kinds
from orchestrator.k8s.kinds import Parsed
from orchestrator.manifests import Document
from orchestrator.topology import Topology

BASE_MANIFESTS = PROJECT_ROOT / "lab" / "manifests" / "calico"


def key(doc: Document) -> tuple[str, str, str]:
    return doc.kind, doc.namespace, doc.name


@dataclass(frozen=True)
class Change:
    doc: Document
    verb: str  # created | configured | unchanged | deleted
    ignored: list[str]

    def line(self) -> str:
        group = manifests.group_of(self.doc.api_version)
        kind = self.doc.kind.lower() + (f".{group}" if group else "")
        # kubectl's words: `kind/name created|configured|unchanged`, but `kind "name" deleted`.
        text = f'{kind} "{self.doc.name}" deleted' if self.verb == "deleted" else f"{kind}/{self.doc.name} {self.verb}"
        if self.ignored:
            text += f" (accepted but not modelled, ignored: {', '.join(self.ignored)})"
        return text


@dataclass(frozen=True)
class ClusterPlan:
    """Everything a change to the store implies, computed before anything is changed."""

    docs: list[Document]
    parsed: list[Parsed]
    speakers: dict[str, SpeakerConfig]
    changes: list[Change]


def calico_objects(parsed: list[Parsed]) -> CalicoObjects:
    bgp = [p.obj for p in parsed if isinstance(p.obj, BGPConfiguration) and p.obj.name == "default"]
    return CalicoObjects([p.obj for p in parsed if isinstance(p.obj, IPPool)], bgp[0] if bgp else None,
                         [p.obj for p in parsed if isinstance(p.obj, BGPPeer)])


def plan(topo: Topology, current: list[Document], applied: list[Document] = (),  # type: ignore[assignment]
         deleted: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
         parse: Callable[[list[Document]], list[Parsed]] = kinds.parse_objects) -> ClusterPlan:
    """Merge `applied` into (and drop `deleted` from) the current objects, validate the result whole
    (`parse`: kinds.parse_objects, or one that keeps what it parsed before)."""
    by_key = {key(d): d for d in current}
    new_parsed = {key(p.doc): p for p in kinds.parse_objects(list(applied))}
    changes: list[Change] = []
    for d in applied:
        old = by_key.get(key(d))
        stored = with_server_fields(d, old)
        verb = "created" if old is None else ("unchanged" if old.body == stored.body else "configured")
        changes.append(Change(d, verb, new_parsed[key(d)].ignored))
        by_key[key(d)] = stored
    for k in deleted:
        if k in by_key:
            changes.append(Change(by_key.pop(k), "deleted", []))
    docs = list(by_key.values())
    parsed = parse(docs)
    return ClusterPlan(docs, parsed, speaker_configs(topo, calico_objects(parsed)), changes)


SERVER_FIELDS = ("generation", "creationTimestamp", "uid")


def _user_part(body: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    return {**{k: v for k, v in body.items() if k != "status"}, "metadata": meta}


def with_server_fields(doc: Document, old: Document | None) -> Document:
    """What the API server stores: uid and creationTimestamp kept, generation bumped on a spec change."""
    meta = dict(doc.body.get("metadata") or {})
    if old is None:
        meta.update(uid=str(uuid.uuid4()), generation=1,
                    creationTimestamp=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    else:
        old_meta = old.body.get("metadata") or {}
        changed = _user_part(old.body).get("spec") != doc.body.get("spec")
        meta.update({k: old_meta[k] for k in SERVER_FIELDS if k in old_meta})
        meta["generation"] = int(old_meta.get("generation", 1)) + (1 if changed else 0)
    body = {k: v for k, v in doc.body.items() if k != "status"}
    body["metadata"] = meta
    return Document(doc.file, doc.index, body)


def base_documents(extra: list[Path] | None = None) -> list[Document]:
    """The workshop's Calico manifests, then the user's: a later object replaces an earlier one."""
    docs = {key(d): d for d in manifests.read_documents([BASE_MANIFESTS, *(extra or [])])}
    return list(docs.values())

"""Kinds served at two API versions over one storage, as kube-apiserver serves Events: core v1 Event
is stored; events.k8s.io/v1 Event is a view of it with its own field names."""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.apiserver.registry import Resource

Obj = dict[str, Any]
# events.k8s.io/v1 name -> core v1 name
_EVENT_FIELDS = {"regarding": "involvedObject", "note": "message", "deprecatedSource": "source",
                 "deprecatedFirstTimestamp": "firstTimestamp", "deprecatedLastTimestamp": "lastTimestamp",
                 "deprecatedCount": "count", "reportingController": "reportingComponent"}


def storage_key(r: Resource) -> str:
    if r.group == "events.k8s.io":
        return "/events"
    return f"{r.group}/{r.plural}"


def is_view(r: Resource) -> bool:
    """A resource whose objects live under another's storage key (skip it when walking storage)."""
    return r.group == "events.k8s.io"


def to_storage(r: Resource, obj: Obj) -> Obj:
    if not is_view(r):
        return obj
    out = {_EVENT_FIELDS.get(k, k): copy.deepcopy(v) for k, v in obj.items()}
    out["apiVersion"], out["kind"] = "v1", "Event"
    return out


def from_storage(r: Resource, obj: Obj) -> Obj:
    if not is_view(r):
        return obj
    back = {v: k for k, v in _EVENT_FIELDS.items()}
    out = {back.get(k, k): v for k, v in obj.items()}
    out["apiVersion"], out["kind"] = r.api_version, r.kind
    return out

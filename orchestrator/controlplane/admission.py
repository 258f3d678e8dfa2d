"""The lab's strict kind models (orchestrator.k8s.kinds) as the API server's admission: a write of a
kind the lab models is parsed whole; every problem comes back as a field cause (the write refused,
nothing stored), and fields accepted but not modelled come back as warnings kubectl prints."""

from __future__ import annotations

import copy
import re
from typing import Any

from orchestrator.apiserver.admission import Verdict
from orchestrator.apiserver.errors import Cause
from orchestrator.apiserver.registry import Resource
from orchestrator.errors import ValidationFailed
from orchestrator.k8s import kinds
from orchestrator.k8s.proxy_names import owning_gateway
from orchestrator.manifests import Document

# What the API server adds to an object: not the user's, so not the models' to judge.
SERVER_METADATA = ("resourceVersion", "managedFields", "selfLink", "deletionTimestamp",
                   "deletionGracePeriodSeconds", "finalizers", "ownerReferences", "generateName")


# Fields the API server fills in with defaults (apiserver/defaults.py) that the lab's models do not
# know: on a stored object they are the server's, not the user's, and neither refused nor warned about.
SERVER_DEFAULTED = frozenset((
    "creationTimestamp", "schedulerName", "terminationMessagePath", "terminationMessagePolicy",
    "revisionHistoryLimit", "progressDeadlineSeconds", "strategy", "enableServiceLinks", "priority",
    "preemptionPolicy", "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "sessionAffinity",
    "internalTrafficPolicy", "allocateLoadBalancerNodePorts", "nodePort", "defaultMode", "resources",
    "imagePullPolicy", "dnsPolicy", "securityContext", "terminationGracePeriodSeconds", "restartPolicy",
    "externalTrafficPolicy", "protocol", "targetPort"))


# Set by the API server on every object (or defaulted inside references): never the user's to be warned of.
SERVER_SET = frozenset(("uid", "generation", "creationTimestamp", "apiVersion"))


def _server_default(path: str) -> bool:
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return leaf in SERVER_DEFAULTED


def user_body(obj: dict[str, Any]) -> dict[str, Any]:
    body = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = dict(body.get("metadata") or {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    body["metadata"] = meta
    return body


def _drop(body: dict[str, Any], path: str) -> bool:
    """Remove the field at a reader's path (a.b[0].c) from body; False if it is not there."""
    node: Any = body
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) and part.isdigit() else (
            node.get(part) if isinstance(node, dict) else None)
        if node is None:
            return False
    if isinstance(node, dict) and parts[-1] in node:
        del node[parts[-1]]
        return True
    return False


def parse(doc: Document) -> list[kinds.Parsed]:
    """The lab's typed object for a stored document: the fields the API server defaulted that the
    model does not know are taken out first (they are the server's, not the user's)."""
    for _ in range(4):
        try:
            return kinds.parse_objects([doc])
        except ValidationFailed as failed:
            server = [p.field for p in failed.problems if p.message == "unknown field" and _server_default(p.field)]
            if not server or len(server) < len(failed.problems) or not all(_drop(doc.body, f) for f in server):
                raise
    return kinds.parse_objects([doc])


def clean(doc: Document) -> Document:
    """doc without the server-defaulted fields its model does not know (unchanged if it has problems)."""
    try:
        parse(doc)
    except ValidationFailed:
        pass
    return doc


class KindsAdmission:
    """Admission by the lab's kinds registry (Pod and the kinds it does not model pass untouched)."""

    def validate(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> Verdict:
        info = kinds.lookup(resource.api_version, resource.kind)
        if info is None or info.parser is None or owning_gateway(obj) is not None:
            return Verdict()  # not modelled, or the gateway controller's own proxy object
        meta = obj.get("metadata") or {}
        name = f"{resource.plural}/{meta.get('name', '')}"
        doc = Document(name, 0, user_body(obj))
        try:
            parsed = parse(doc)
        except ValidationFailed as failed:
            causes = [Cause(p.field, p.message + (f" (fix: {p.fix})" if p.fix else ""))
                      for p in failed.problems if not (p.message == "unknown field" and _server_default(p.field))]
            return Verdict(causes)
        ignored = [f for f in (parsed[0].ignored if parsed else [])
                   if not _server_default(f) and f.rsplit(".", 1)[-1] not in SERVER_SET]
        return Verdict([], [f"{name}: accepted but not modelled by the lab, ignored: {', '.join(ignored)}"]
                       if ignored else [])

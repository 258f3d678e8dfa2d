"""How Envoy Gateway names and labels a Gateway's proxy objects (its Deployment, ReplicaSet, pods and
LoadBalancer Service in `tigera-gateway`), and how its bookkeeping tells them apart from the user's:
ownerReferences cannot cross namespaces, so the owning Gateway is named by labels."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

GATEWAY_NAMESPACE = "tigera-gateway"
MANAGED_BY = "app.kubernetes.io/managed-by"
OWNING_NAME = "gateway.envoyproxy.io/owning-gateway-name"
OWNING_NAMESPACE = "gateway.envoyproxy.io/owning-gateway-namespace"


def proxy_name(namespace: str, name: str) -> str:
    """envoy-<ns>-<gateway>-<hash>: the Deployment's and the Service's name."""
    return f"envoy-{namespace}-{name}-{hashlib.sha256(f'{namespace}/{name}'.encode()).hexdigest()[:8]}"


def proxy_labels(namespace: str, name: str) -> dict[str, str]:
    """The labels of the proxy's Deployment, pods and Service (also the Service's selector)."""
    return {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
            MANAGED_BY: "envoy-gateway", OWNING_NAME: name, OWNING_NAMESPACE: namespace}


def owning_gateway(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the Gateway whose proxy object this is; None for anyone else's object."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if meta.get("namespace") != GATEWAY_NAMESPACE or labels.get(MANAGED_BY) != "envoy-gateway":
        return None
    if not labels.get(OWNING_NAME) or not labels.get(OWNING_NAMESPACE):
        return None
    return str(labels[OWNING_NAMESPACE]), str(labels[OWNING_NAME])

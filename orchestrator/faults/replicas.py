"""The echo Deployment's replicas for a failover run: scaled through the lab's API server (the scale
subresource, as `kubectl scale` does), the controllers waited for, and put back afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from orchestrator.errors import LabError

if TYPE_CHECKING:
    from orchestrator.lab import Lab

ECHO: Final = ("default", "passthrough-echoserver")
WAIT: Final = 20.0  # seconds for the scaled pods to be ready


def _scale_path() -> str:
    ns, name = ECHO
    return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale"


def current(lab: Lab) -> int:
    reply = lab.api.request("GET", _scale_path())
    if reply.status != 200:
        raise LabError(f"the lab has no Deployment {ECHO[0]}/{ECHO[1]} (is the demo applied?): "
                       f"{reply.body.get('message', reply.status)}")
    return int(reply.body.get("spec", {}).get("replicas", 0))


def scale(lab: Lab, replicas: int) -> None:
    """Set the echo Deployment's replicas and wait until the controllers made (or removed) its pods."""
    from orchestrator.controlplane.writes import wait_reconciled

    reply = lab.api.request("PATCH", _scale_path(), {"spec": {"replicas": replicas}},
                            content_type="application/merge-patch+json")
    if reply.status != 200:
        raise LabError(f"scaling {ECHO[0]}/{ECHO[1]} to {replicas} failed: {reply.body.get('message', reply.status)}")
    rv = int(reply.body.get("metadata", {}).get("resourceVersion", 0))
    wait_reconciled(lab.files, rv)
    _wait_ready(lab, replicas)


def echo_nodes(lab: Lab, ready: bool = False) -> list[str]:
    """The nodes of the echo Deployment's pods (only the ready ones if asked), one entry per pod."""
    pods = lab.engine.host_pods() or []
    return sorted(p.spec.node for p in pods
                  if p.spec.owner == f"Deployment/{ECHO[0]}/{ECHO[1]}" and (p.ready or not ready))


def _wait_ready(lab: Lab, replicas: int, timeout: float = WAIT) -> None:
    """Until the Deployment's pods all answered their readiness check (bounded)."""
    deadline = time.monotonic() + timeout
    while len(echo_nodes(lab, ready=True)) != replicas or len(echo_nodes(lab)) != replicas:
        if time.monotonic() > deadline:
            raise LabError(f"{ECHO[0]}/{ECHO[1]} did not have {replicas} ready pods within {timeout:g} s "
                           f"(ready on: {', '.join(echo_nodes(lab, ready=True)) or 'none'})")
        time.sleep(0.1)


@contextmanager
def replicas(lab: Lab, wanted: int | None) -> Iterator[list[str]]:
    """With the echo Deployment at `wanted` replicas (None: as it is); yields their nodes, and puts
    the count back afterwards (a failure included)."""
    if wanted is None:
        yield echo_nodes(lab)
        return
    before = current(lab)
    if before != wanted:
        scale(lab, wanted)
    try:
        yield echo_nodes(lab)
    finally:
        if before != wanted:
            scale(lab, before)

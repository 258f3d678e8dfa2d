"""The containerlab engine's steps as typed data, in order: `--dry-run` prints them, the engine
executes them. One list, so what is printed is what runs."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.engines.clab.names import BASTION_CONTEXT, CALICO_VERSION, TIGERA_OPERATOR_URL, ClabNames
from orchestrator.k8s import kinds
from orchestrator.manifests import Document, group_of

GATEWAY_GROUP = "gateway.networking.k8s.io"
SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
INSTALL_WAIT = 900.0  # seconds: first runs pull Calico's images
READY_WAIT = 300.0


@dataclass(frozen=True)
class BuildImage:
    tag: str
    context: Path
    dockerfile: str = "Dockerfile"

    def lines(self) -> list[str]:
        return [f"$ docker build -t {self.tag} -f {self.context / self.dockerfile} {self.context}"
                "   (docker SDK: images.build)"]


@dataclass(frozen=True)
class WriteFile:
    path: Path
    text: str

    def lines(self) -> list[str]:
        return [f"write {self.path}:", *("    " + ln if ln else "" for ln in self.text.rstrip("\n").split("\n"))]


@dataclass(frozen=True)
class CreateBridge:
    name: str

    def lines(self) -> list[str]:
        return [f"$ ip link add {self.name} type bridge && ip link set {self.name} up   (netlink)"]


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    stdin: str | None = None
    until_ok: float = 0.0  # > 0: run again every 2 s until it succeeds, at most this many seconds
    required: bool = True  # False: a failure is reported (not ready), the run goes on
    timeout: float = 600.0  # one run

    def lines(self) -> list[str]:
        head = f"$ {shlex.join(self.argv)}" + (" <<EOF" if self.stdin is not None else "")
        if self.until_ok:
            head += f"   (again every 2 s until it succeeds, at most {self.until_ok:g} s)"
        out = [head]
        if self.stdin is not None:
            out += ["    " + ln if ln else "" for ln in self.stdin.rstrip("\n").split("\n")] + ["    EOF"]
        return out


@dataclass(frozen=True)
class DockerExec:
    container: str
    argv: tuple[str, ...]

    def lines(self) -> list[str]:
        return [f"$ docker exec {self.container} {shlex.join(self.argv)}   (docker SDK: exec_run)"]


@dataclass(frozen=True)
class Poll:
    argv: tuple[str, ...]
    check: str  # a key of READY
    timeout: float = READY_WAIT

    def lines(self) -> list[str]:
        return [f"$ {shlex.join(self.argv)}   (every 2 s until {READY[self.check][0]}, at most {self.timeout:g} s)"]


Action = BuildImage | WriteFile | CreateBridge | Command | DockerExec | Poll


@dataclass(frozen=True)
class Step:
    title: str
    action: Action
    makes: str = ""  # what it creates that `down` removes (recorded in the state file before it runs)


def render(steps: list[Step], first: int = 1) -> list[str]:
    out: list[str] = []
    for i, step in enumerate(steps, first):
        out.append(f"{i}. {step.title}")
        out += ["   " + ln if ln else "" for ln in step.action.lines()]
    return out


# -- readiness of objects applied: what the real controllers report once they have caught up -----

def _route_status_current(body: dict[str, Any]) -> bool:
    generation = int((body.get("metadata") or {}).get("generation", 1))
    parents = (body.get("status") or {}).get("parents") or []
    return bool(parents) and all(
        p.get("conditions") and all(int(c.get("observedGeneration", generation)) >= generation
                                    for c in p["conditions"]) for p in parents)


READY: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "route-status": ("every parent Gateway has set the route's status for its generation", _route_status_current),
}


# -- the steps -----------------------------------------------------------------------------------

def up_steps(names: ClabNames, topology_text: str, bastion_conf_text: str, operator_yaml: str) -> list[Step]:
    """From nothing to a cluster with Calico and its API server, and the bastion's BIRD running."""
    k = names.kubectl
    return [
        Step("build the bastion image (Debian with BIRD 1.6) from lab/bastion/Dockerfile",
             BuildImage(names.bastion_image, BASTION_CONTEXT)),
        Step("write the topology containerlab deploys (a copy of the lab's topology with the engine's additions)",
             WriteFile(names.topology, topology_text)),
        Step("write the bastion's bird.conf: the workshop's pre-existing import filter (10.50.0.0/24 only)",
             WriteFile(names.bastion_conf, bastion_conf_text)),
        Step(f"create the host bridge {names.bridge} for the segment (containerlab does not create bridges)",
             CreateBridge(names.bridge), makes="bridge"),
        Step(f"deploy the lab: the bastion {names.bastion_container}, the kind cluster {names.cluster}, the links",
             Command(("containerlab", "deploy", "-t", str(names.topology)), timeout=900), makes="deploy"),
        Step("start BIRD on the bastion",
             DockerExec(names.bastion_container, ("bird", "-c", str(names.bastion_conf), "-s", names.bird_socket))),
        Step(f"install the tigera-operator and Calico's CRDs (Calico {CALICO_VERSION})",
             Command(k("apply", "--server-side", "-f", TIGERA_OPERATOR_URL), timeout=300)),
        Step("wait for the operator's CRDs",
             Command(k("wait", "--for=condition=Established", "crd/installations.operator.tigera.io",
                       "crd/apiservers.operator.tigera.io", "--timeout=10s"), until_ok=120)),
        Step("install Calico: BGP on, node addresses on the lab interface, the pod pool, the API server "
             "(lab/calico-operator)", Command(k("apply", "-f", "-"), stdin=operator_yaml)),
        Step("wait for Calico and its API server",
             Command(k("wait", "--for=condition=Available", "tigerastatus/calico", "tigerastatus/apiserver",
                       "--timeout=10s"), until_ok=INSTALL_WAIT)),
        Step("wait for projectcalico.org/v3 to be served",
             Command(k("wait", "--for=condition=Available", "apiservice/v3.projectcalico.org", "--timeout=10s"),
                     until_ok=READY_WAIT)),
        Step("wait for the nodes to be Ready",
             Command(k("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=10s"), until_ok=READY_WAIT)),
    ]


def resource(doc_kind: str, api_version: str) -> str:
    """kubectl's name for a kind, e.g. tlsroutes.gateway.networking.k8s.io."""
    try:
        k = kinds.kind_of(doc_kind)
        plural, group = k.aliases[1], k.group
    except Exception:
        plural, group = doc_kind.lower() + "s", group_of(api_version)
    return f"{plural}.{group}" if group else plural


def _namespaced(kind: str) -> bool:
    try:
        return kinds.kind_of(kind).namespaced
    except Exception:
        return True


def for_kubectl(doc: Document) -> dict[str, Any]:
    """The object as a user writes it: no status, no fields the API server sets."""
    body = {k: v for k, v in doc.body.items() if k != "status"}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    if not _namespaced(doc.kind):
        meta.pop("namespace", None)
    body["metadata"] = meta
    return body


def _where(names: ClabNames, doc: Document) -> tuple[str, ...]:
    return ("-n", doc.namespace) if _namespaced(doc.kind) else ()


def apply_steps(names: ClabNames, applied: list[Document], deleted: list[Document]) -> list[Step]:
    """kubectl apply of the documents that changed (Gateway API kinds once their CRDs exist), kubectl
    delete of the deleted ones, then the waits that tell when the controllers have caught up."""
    k = names.kubectl
    steps: list[Step] = []
    first = [d for d in applied if group_of(d.api_version) != GATEWAY_GROUP]
    gateway = [d for d in applied if group_of(d.api_version) == GATEWAY_GROUP]

    def apply(docs: list[Document], what: str) -> Step:
        text = yaml.safe_dump_all([for_kubectl(d) for d in docs], sort_keys=False)
        return Step(f"apply {what}: " + ", ".join(f"{d.kind.lower()}/{d.name}" for d in docs),
                    Command(k("apply", "-f", "-"), stdin=text))
    if first:
        steps.append(apply(first, "the manifests"))
    if gateway:
        crds = sorted({"crd/" + resource(d.kind, d.api_version) for d in gateway})
        steps.append(Step("wait for the Gateway API CRDs (the operator installs them for the GatewayAPI resource)",
                          Command(k("wait", "--for=condition=Established", *crds, "--timeout=10s"),
                                  until_ok=READY_WAIT)))
        steps.append(apply(gateway, "the Gateway API manifests"))
    for d in deleted:
        steps.append(Step(f"delete {d.kind.lower()}/{d.name}",
                          Command(k("delete", resource(d.kind, d.api_version), d.name, *_where(names, d),
                                    "--ignore-not-found"))))
    for d in applied:
        steps += _readiness(names, d)
    return steps


def _readiness(names: ClabNames, d: Document) -> list[Step]:
    k = names.kubectl
    if d.kind == "GatewayAPI":
        return [Step("wait for Calico's Ingress Gateway (Envoy Gateway) to be available",
                     Command(k("wait", "--for=condition=Available", "tigerastatus/gatewayapi", "--timeout=10s"),
                             until_ok=READY_WAIT, required=False))]
    if d.kind == "Deployment":
        return [Step(f"wait for deployment/{d.name} to roll out",
                     Command(k("rollout", "status", f"deployment/{d.name}", "-n", d.namespace,
                               f"--timeout={READY_WAIT:g}s"), required=False))]
    if d.kind == "Gateway":
        return [Step(f"wait for gateway/{d.name} to be programmed (its proxy and LoadBalancer address)",
                     Command(k("wait", "--for=condition=Programmed", f"gateway/{d.name}", "-n", d.namespace,
                               "--timeout=10s"), until_ok=READY_WAIT, required=False))]
    if d.kind.endswith("Route"):
        return [Step(f"wait for {d.kind.lower()}/{d.name}'s status",
                     Poll(k("get", resource(d.kind, d.api_version), d.name, "-n", d.namespace, "-o", "json"),
                          "route-status"))]
    return []

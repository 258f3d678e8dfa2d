"""Every path of a lab on this host, named once: the run directory /run/gwlab/<lab>/ (GWLAB_RUN_DIR
moves the root) and each file in it. Nothing else spells a file name of the run directory.

    <lab>/state.json        what the lab made (orchestrator.state)
    <lab>/apiserver/        the lab's API server: its CA, certificates, kubeconfig and store.json
    <lab>/kube-cache/       kubectl's discovery cache (KUBECACHEDIR)
    <lab>/controllers.json  what the control plane last reconciled (resourceVersion, its report)
    <lab>/pods.json         the control plane's record of the pods it runs
    <lab>/cluster.json      the controllers' allocations and statuses
    <lab>/certs/            the workshop's CA and the echo server's certificate
    <lab>/scratch/          the route-policy test's throwaway routers
    <lab>/<node>/           a router: its BIRD config (bird.conf on the bastion, bird.cfg on a node),
                            control socket bird.ctl, log bird.log, output bird.out, kube-proxy.nft
    <lab>/pods/<hash>/      a pod: volumes/, container.log, haproxy.cfg and its stats socket
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.errors import LabError

RUN_ROOT = Path(os.environ.get("GWLAB_RUN_DIR", "/run/gwlab"))

# A lab's name becomes part of paths and namespace names: nothing else is ever accepted.
LAB_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$")


def check_lab_name(lab: str) -> str:
    if not LAB_NAME.match(lab):
        raise LabError(f"{lab!r} is not a lab name: use 1-24 lowercase letters, digits and '-', "
                       "starting and ending with a letter or digit")
    return lab


def run_dir(lab: str) -> Path:
    return RUN_ROOT / check_lab_name(lab)


@dataclass(frozen=True)
class NodeFiles:
    """A router's directory and files (the bastion's BIRD reads bird.conf, a node's bird.cfg, as
    Calico's confd names it)."""

    dir: Path
    is_bastion: bool

    @property
    def bird_config(self) -> Path:
        return self.dir / ("bird.conf" if self.is_bastion else "bird.cfg")

    @property
    def bird_socket(self) -> Path:
        return self.dir / "bird.ctl"

    @property
    def bird_log(self) -> Path:
        return self.dir / "bird.log"

    @property
    def bird_out(self) -> Path:
        return self.dir / "bird.out"

    @property
    def kube_proxy_rules(self) -> Path:
        return self.dir / "kube-proxy.nft"


@dataclass(frozen=True)
class PodFiles:
    root: Path

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def haproxy_cfg(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def stats_socket(self) -> Path:
        return self.root / "haproxy.sock"

    @property
    def log(self) -> Path:
        return self.root / "container.log"

    @property
    def marker(self) -> Path:
        """Names the pod the directory belongs to (its name is a hash)."""
        return self.root / "pod"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Lab(Protocol):
    """A topology, as far as its run directory needs it (rundir sits below orchestrator.topology)."""

    @property
    def name(self) -> str: ...
    @property
    def bastion(self) -> _Named: ...


@dataclass(frozen=True)
class RunDir:
    lab: str
    bastion: str = "bastion"  # the topology's bastion node (its BIRD config is bird.conf)

    @classmethod
    def of(cls, topo: _Lab) -> RunDir:
        return cls(topo.name, topo.bastion.name)

    @property
    def root(self) -> Path:
        return run_dir(self.lab)

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def apiserver(self) -> Path:
        return self.root / "apiserver"

    @property
    def kubeconfig(self) -> Path:
        return self.apiserver / "kubeconfig"

    @property
    def api_store(self) -> Path:
        return self.apiserver / "store.json"

    @property
    def kube_cache(self) -> Path:
        return self.root / "kube-cache"

    @property
    def kubectl_ns(self) -> Path:
        """The namespace kubectl runs in (the bastion's), so `gwlab kubectl` need not read the topology."""
        return self.apiserver / "kubectl-netns"

    @property
    def controlplane_log(self) -> Path:
        return self.root / "controlplane.log"

    @property
    def reconciled(self) -> Path:
        return self.root / "controllers.json"

    @property
    def pod_records(self) -> Path:
        """The control plane's own record of the pods it runs (their processes and namespaces)."""
        return self.root / "pods.json"

    @property
    def cluster(self) -> Path:
        return self.root / "cluster.json"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    @property
    def pods(self) -> Path:
        return self.root / "pods"

    def node(self, name: str) -> NodeFiles:
        return NodeFiles(self.root / name, name == self.bastion)

    def pod(self, key: str) -> PodFiles:
        """A pod's directory, by its namespace/name. Short: a UNIX socket path (HAProxy's stats
        socket) holds at most ~100 bytes."""
        return PodFiles(self.pods / hashlib.sha1(key.encode()).hexdigest()[:12])

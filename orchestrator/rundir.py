"""Every path of a lab on this host, named once: the run directory /run/gwlab/<lab>/ (GWLAB_RUN_DIR
moves the root) and each file in it. Nothing else spells a file name of the run directory.

    <lab>/state.json        what the lab made (orchestrator.state)
    <lab>/apiserver/        the lab's API server: its CA, certificates, kubeconfig, store.json and its log
    <lab>/kube-cache/       kubectl's discovery cache (KUBECACHEDIR)
    <lab>/controllers.json  what the control plane last reconciled (resourceVersion, its report)
    <lab>/pods.json         the control plane's record of the pods it runs
    <lab>/cluster.json      the controllers' allocations and statuses
    <lab>/nodes.json        the nodes the node lifecycle holds NotReady (their pods are not ready)
    <lab>/certs/            the workshop's CA and the echo server's certificate
    <lab>/scratch/          the route-policy test's throwaway routers
    <lab>/<node>/           a router: its BIRD config (bird.cfg on a node; the bastion's bird.conf
                            here only on the containerlab engine), control socket bird.ctl, log
                            bird.log, output bird.out, kube-proxy.nft, heartbeat.log
    <lab>/kubeconfig        the lab's kubeconfig (for the real kubectl); <lab>/kube-cache/ its cache

Outside the run directory, on the netns engine, one directory per namespace that needs files of its
own: /etc/netns/gwlab-<lab>.<node>/ (`ip netns exec` bind-mounts each entry over /etc/<entry>). The
bastion's BIRD reads /etc/netns/gwlab-<lab>.<bastion>/bird/bird.conf, so that inside its namespace
(`gwlab shell`) /etc/bird/bird.conf is its live config, and `sed -i` on it edits what BIRD reads.
The nodes' calico configs stay in the run directory: /etc/netns/<ns>/calico/ would be bind-mounted
over an /etc/calico the host does not have, and `ip netns exec` would warn at every command; a node's
/etc/netns/<ns>/bird/bird.conf only says where its config is, so that no shell reads the host's.
    <lab>/pods/<hash>/      a pod: volumes/, container.log, exit-status, container.pid; a gateway pod's envoy.yaml, xds/, admin.sock (envoy/layout.py)
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
NETNS_ETC = Path("/etc/netns")  # `ip netns exec` reads per-namespace /etc entries here
NS_PREFIX = "gwlab-"

# A lab's name becomes part of paths and namespace names: nothing else is ever accepted.
LAB_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$")


def check_lab_name(lab: str) -> str:
    if not isinstance(lab, str) or not LAB_NAME.match(lab):
        empty = " (an empty --lab or GWLAB_LAB: give a name, or leave it out for the default lab)" \
            if lab == "" else ""
        raise LabError(f"{lab!r} is not a lab name{empty}: use 1-24 lowercase letters, digits and '-', "
                       "starting and ending with a letter or digit")
    return lab


def ns_name(lab: str, node: str) -> str:
    return f"{NS_PREFIX}{lab}.{node}"


def lab_of_ns(name: str) -> str | None:
    if not name.startswith(NS_PREFIX) or "." not in name:
        return None
    return name[len(NS_PREFIX):].split(".", 1)[0]


def netns_etc_dirs(lab: str | None = None) -> list[Path]:
    """/etc/netns entries of gwlab's namespaces (of one lab, or of every lab), found by name."""
    if not NETNS_ETC.is_dir():
        return []
    return sorted(p for p in NETNS_ETC.iterdir()
                  if (found := lab_of_ns(p.name)) is not None and (lab is None or found == lab))


def run_dir(lab: str) -> Path:
    return RUN_ROOT / check_lab_name(lab)


@dataclass(frozen=True)
class NodeFiles:
    """A router's directory and files (the bastion's BIRD reads bird.conf, a node's bird.cfg, as
    Calico's confd names it)."""

    dir: Path
    is_bastion: bool
    etc: Path | None = None  # /etc/netns/<ns>/ on the netns engine: what `ip netns exec` shows as /etc

    @property
    def bird_config(self) -> Path:
        """The file the router's BIRD reads: on the netns engine the bastion's is its namespace's
        /etc/bird/bird.conf (by its /etc/netns path), as on the workshop's bastion."""
        if self.is_bastion and self.etc is not None:
            return self.etc / "bird" / "bird.conf"
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

    @property
    def heartbeat_log(self) -> Path:
        return self.dir / "heartbeat.log"


@dataclass(frozen=True)
class PodFiles:
    root: Path

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def log(self) -> Path:
        return self.root / "container.log"

    @property
    def marker(self) -> Path:
        """Names the pod the directory belongs to (its name is a hash)."""
        return self.root / "pod"

    @property
    def exit_status(self) -> Path:
        """The container's exit status, written by the shell that waits for it (procs.spawn)."""
        return self.root / "exit-status"

    @property
    def container_pid(self) -> Path:
        """The container's PID, as the shell that waits for it started it."""
        return self.root / "container.pid"


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
    netns: bool = True  # the netns engine: the bastion's config lives under /etc/netns (see above)

    @classmethod
    def of(cls, topo: _Lab, engine: str = "netns") -> RunDir:
        return cls(topo.name, topo.bastion.name, engine == "netns")

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
    def node_health(self) -> Path:
        return self.root / "nodes.json"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    @property
    def pods(self) -> Path:
        return self.root / "pods"

    @property
    def supervisor_log(self) -> Path:
        """What the lab's supervisor did: one line per BIRD it found dead and started again."""
        return self.root / "supervisor.log"

    def etc(self, node: str) -> Path:
        """/etc/netns/<ns>/ of a node's namespace."""
        return NETNS_ETC / ns_name(self.lab, node)

    def node(self, name: str) -> NodeFiles:
        return NodeFiles(self.root / name, name == self.bastion, self.etc(name) if self.netns else None)

    def pod(self, key: str) -> PodFiles:
        """A pod's directory, by its namespace/name. Short: a UNIX socket path (Envoy's admin
        socket) holds at most ~100 bytes."""
        return PodFiles(self.pods / hashlib.sha1(key.encode()).hexdigest()[:12])

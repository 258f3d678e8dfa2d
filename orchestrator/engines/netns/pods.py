"""Pods in the netns engine: a namespace per pod, wired to its node as Calico wires pods, with the
container's process inside; kube-proxy's nftables rules per node; a gateway pod's Envoy (proxy.py).

Calico's wiring: the node side of the veth is `cali<hash>` with MAC ee:ee:ee:ee:ee:ee and a /32
route to the pod; the pod has its address as a /32 on eth0, a link route to 169.254.1.1 and a
permanent neighbour entry for it, and routes only the lab's ranges through it (no default route).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from orchestrator.engines.netns import namespaces, neighbours, procs, proxy
from orchestrator.engines.netns.proxy import POD_UID
from orchestrator.engines.netns.host import NodeHost
from orchestrator.engines.netns.rtnl import IPRoute
from orchestrator.errors import LabError
from orchestrator.fsutil import atomic_write
from orchestrator.envoy.validate import EnvoyRefused
from orchestrator.k8s import kube_proxy
from orchestrator.k8s.world import PodSpec, ServiceSpec, World
from orchestrator.rundir import PodFiles
from orchestrator.state import Proc, ns_name
from orchestrator.timing import phase

CALICO_MAC = "ee:ee:ee:ee:ee:ee"
# Named parts of a pass (timing.phase), which `up` reports among its phases.
ENVOY_START = "Envoy start (xDS translated, checked by envoy --mode validate, spawned)"
ENVOY_UPDATE = "Envoy xDS update (translated, checked, files renamed into place)"
ENVOY_READY = "Envoy ready (/ready LIVE, every listener active, every endpoint held)"
POD_GATEWAY = IPv4Address("169.254.1.1")
PROBE_TIMEOUT = 0.5  # the readiness probe's timeoutSeconds (Kubernetes' default: 1 s)
POD_SYSCTLS = {
    "net.ipv4.ip_forward": "0",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}


def pod_ns(lab: str, pod: PodSpec) -> str:
    return ns_name(lab, f"pod-{pod.name}")


def cali_name(pod: PodSpec) -> str:
    return "cali" + hashlib.sha1(f"{pod.namespace}.{pod.name}".encode()).hexdigest()[:11]


def role(pod: PodSpec) -> str:
    return f"pod:{pod.key}"


class PodPlane:
    def __init__(self, host: NodeHost, lab_ranges: list[IPv4Network]) -> None:
        self.host = host
        self.lab = host.topo.name
        self.lab_ranges = lab_ranges

    def paths(self, pod: PodSpec) -> PodFiles:
        return self.host.files.pod(pod.key)

    # -- network -----------------------------------------------------------------------------
    def _wire(self, pod: PodSpec) -> None:
        ns = pod_ns(self.lab, pod)
        node_ns = self.host.ns(pod.node)
        self.host.state.plan_namespaces([ns])
        with namespaces.create(ns):
            namespaces.write_sysctls(POD_SYSCTLS)
            ipr = IPRoute()
        try:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            node_ipr = self.host.netlink(node_ns)
            cali = cali_name(pod)
            fd = os.open(namespaces.path_of(ns), os.O_RDONLY)
            try:
                node_ipr.link("add", ifname=cali, kind="veth", address=CALICO_MAC,
                              peer={"ifname": "eth0", "net_ns_fd": fd})
            finally:
                os.close(fd)
            cali_index = node_ipr.link_lookup(ifname=cali)[0]
            node_ipr.link("set", index=cali_index, state="up")
            eth0 = ipr.link_lookup(ifname="eth0")[0]
            eth0_mac = ipr.get_links(eth0)[0].get_attr("IFLA_ADDRESS")
            ipr.addr("add", index=eth0, address=pod.ip, prefixlen=32)
            ipr.link("set", index=eth0, state="up")
            ipr.route("add", dst=f"{POD_GATEWAY}/32", oif=eth0, scope=253)
            with namespaces.inside(ns):
                neighbours.add_permanent(eth0, [(POD_GATEWAY, CALICO_MAC)])
            for net in self.lab_ranges:
                ipr.route("add", dst=str(net), gateway=str(POD_GATEWAY), oif=eth0)
            node_ipr.route("add", dst=f"{pod.ip}/32", oif=cali_index, scope=253)
            with namespaces.inside(node_ns):
                neighbours.add_permanent(cali_index, [(IPv4Address(pod.ip), eth0_mac)])
        finally:
            ipr.close()

    # -- processes ---------------------------------------------------------------------------
    def _echo_env(self, pod: PodSpec, world: World) -> dict[str, str]:
        paths = self.paths(pod)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1"}
        translated: dict[str, str] = {}
        for mount, secret_name in pod.secret_mounts.items():
            secret = world.secrets.get(f"{pod.namespace}/{secret_name}")
            if secret is None:
                raise LabError(f"pod {pod.key}: Secret {secret_name!r} does not exist "
                               f"(the workshop makes it in demo step 1: `gwlab certs --apply`)")
            volume = paths.volumes / secret_name
            for d in (paths.volumes, volume):
                d.mkdir(mode=0o700, exist_ok=True)
                os.chown(d, POD_UID, POD_UID)
            for key, data in secret.data.items():
                atomic_write(volume / key, data)  # 0600, readable by the pod's user only
                os.chown(volume / key, POD_UID, POD_UID)
            translated[mount.rstrip("/")] = str(volume)
        for name, value in pod.env.items():
            for mount, target in translated.items():
                # The pod's filesystem view: a mounted Secret lives in the lab's run directory.
                if value == mount or value.startswith(mount + "/"):
                    value = target + value[len(mount):]
            env[name] = value
        return env

    def _start(self, pod: PodSpec, world: World) -> Proc:
        paths = self._pod_dir(pod)
        ns = pod_ns(self.lab, pod)
        if pod.role == "echo":
            return procs.spawn(role(pod), ns, [sys.executable, "-m", "orchestrator.echo"], paths.log,
                               env=self._echo_env(pod, world), cwd=paths.root, uid=POD_UID,
                               status=(paths.exit_status, paths.container_pid))
        gw = next(g for g in world.gateways.values() if g.pod == pod.key)
        where = proxy.layout(paths.root)
        with phase(ENVOY_START):
            # Envoy starts on what is on file (nothing yet for a new pod) while its translation is
            # checked (envoy --mode validate, ~0.1 s beside Envoy's own ~0.25 s start); a refused one
            # never reaches it, and the proxy is stopped and its pod removed as before.
            proxy.prepare(where, pod.name, str(gw.key))
            proc = procs.spawn(role(pod), ns, proxy.argv(where), paths.log, cwd=paths.root, uid=POD_UID,
                               status=(paths.exit_status, paths.container_pid))
            try:
                proxy.configure(gw, world, where, pod.name)
            except BaseException:
                procs.stop([proc], 0)
                raise
            return proc

    def namespace(self, pod: PodSpec) -> str:
        return pod_ns(self.lab, pod)

    def restart(self, pod: PodSpec, world: World) -> None:
        """The pod's process started again in its namespace, as the kubelet restarts a container in
        its sandbox: its address, veth and routes stay."""
        if pod.role == "gateway":
            proxy.layout(self.paths(pod).root).admin_socket.unlink(missing_ok=True)
        self.host.state.add_processes([self._start(pod, world)])

    def _pod_dir(self, pod: PodSpec) -> PodFiles:
        """The pod's directory, owned by the pod's user (0700), with its log; the directories above
        it let that user through (0711) and list nothing."""
        paths = self.paths(pod)
        for d in (self.host.files.root, paths.root.parent):
            d.mkdir(mode=0o711, parents=True, exist_ok=True)
            d.chmod(0o711)
        paths.root.mkdir(mode=0o700, exist_ok=True)
        os.chown(paths.root, POD_UID, POD_UID)
        atomic_write(paths.marker, pod.key + "\n")
        fd = os.open(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.fchown(fd, POD_UID, POD_UID)  # Envoy's access log appends to it as the pod's user
        finally:
            os.close(fd)
        return paths

    # -- readiness ---------------------------------------------------------------------------
    def echo_ready(self, pod: PodSpec) -> bool:
        """kubelet's TCP probe, from the pod's node."""
        with namespaces.inside(self.host.ns(pod.node)):
            s = socket.socket()
        try:
            s.settimeout(0.2)
            return all(s.connect_ex((pod.ip, port)) == 0 for port in pod.ports[:1]) if pod.ports else True
        finally:
            s.close()

    def answers(self, pod: PodSpec, timeout: float = PROBE_TIMEOUT) -> bool:
        """The kubelet's periodic readiness probe of a running pod: its process must answer, not only
        its kernel (a stopped process's listening socket still completes TCP handshakes). From the pod's
        node, a line of HTTP to its first port: the echo server's TLS closes on it, plain HTTP answers;
        either is an answer, silence within `timeout` (timeoutSeconds) is a failure. The gateway's Envoy:
        Envoy Gateway's probe, /ready over its admin socket."""
        proc = self.host.state.process(role(pod))
        if proc is None or not procs.alive(proc):
            return False
        if pod.role != "echo":
            return proxy.answers(proxy.layout(self.paths(pod).root), timeout)
        if not pod.ports:
            return True
        with namespaces.inside(self.host.ns(pod.node)):
            s = socket.socket()
        try:
            s.settimeout(timeout)
            s.connect((pod.ip, pod.ports[0]))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.recv(1)  # data or end of stream: the process read the request and acted
            return True
        except ConnectionResetError:
            return True  # closed with unread data: the process acted too
        except OSError:
            return False
        finally:
            s.close()

    def backend_sessions(self, pod: PodSpec) -> int | None:
        """Connections the gateway pod's Envoy has opened to any backend so far."""
        return proxy.backend_sessions(proxy.layout(self.paths(pod).root))

    def gateway_ready(self, pod: PodSpec) -> bool:
        return proxy.ready(proxy.layout(self.paths(pod).root))

    def ready(self, pod: PodSpec) -> bool:
        proc = self.host.state.process(role(pod))
        if proc is None or not procs.alive(proc):
            return False
        return self.echo_ready(pod) if pod.role == "echo" else self.gateway_ready(pod)

    # -- the sync ----------------------------------------------------------------------------
    def existing(self) -> dict[str, Proc]:
        return {p.role[4:]: p for p in self.host.state.processes if p.role.startswith("pod:")}

    def drain(self, world: World, leaving: list[PodSpec], timeout: float = 5.0) -> None:
        """Endpoints first, as a cluster removes a terminating pod: kube-proxy's rules and every
        proxy's EDS without the leaving pods, then wait (bounded) until no running Envoy holds
        them any more. Established connections stay (conntrack, Envoy's open upstreams)."""
        gone = {f"{p.ip}:{port}" for p in leaving for port in p.ports}
        self.sync_kube_proxy(list(world.services.values()))
        self.sync_gateways(world)
        proxies = [proxy.layout(self.paths(p).root) for p in world.pods.values()
                   if p.role == "gateway" and p.key in self.existing()]
        deadline = time.monotonic() + timeout
        while gone and time.monotonic() < deadline:
            held = [proxy.upstream_hosts(w) for w in proxies]
            if all(h is None or not (h & gone) for h in held):
                return
            time.sleep(0.02)

    def remove(self, key: str, grace: float = 2.0) -> None:
        """Stop a pod's process (SIGTERM, SIGKILL after `grace` s: the pod's
        terminationGracePeriodSeconds) and remove its namespace (its veth and the node's /32 go with it)."""
        namespace, name = key.split("/", 1)
        proc = self.host.state.process(f"pod:{key}")
        if proc:
            procs.stop([proc], grace)
            self.host.state.drop_process(f"pod:{key}")
        ns = ns_name(self.lab, f"pod-{name}")
        for pid in namespaces.pids_in([ns]):
            procs.kill_pids([pid])
        if namespaces.exists(ns):
            # The veth first, at once: a namespace is dismantled in the background, its devices with it,
            # and a pod made again under the same name would find the node's end still there.
            with namespaces.inside(ns):
                ipr = IPRoute()
            try:
                for index in ipr.link_lookup(ifname="eth0"):
                    ipr.link("del", index=index)
            finally:
                ipr.close()
        namespaces.remove(ns)
        if ns in self.host.state.namespaces:
            self.host.state.namespaces.remove(ns)
            self.host.state.save()
        import shutil

        shutil.rmtree(self.host.files.pod(key).root, ignore_errors=True)

    def create(self, pods: list[PodSpec], world: World) -> None:
        started = []
        try:
            for pod in pods:
                try:
                    self._wire(pod)
                    started.append(self._start(pod, world))
                except BaseException:
                    self.remove(pod.key)  # a half-made pod would hold its address and /32 route
                    raise
        finally:
            self.host.state.add_processes(started)

    def missing_secrets(self, pod: PodSpec, world: World) -> list[str]:
        return [s for s in pod.secret_mounts.values() if f"{pod.namespace}/{s}" not in world.secrets]

    def sync_kube_proxy(self, services: list[ServiceSpec]) -> list[str]:
        from concurrent.futures import ThreadPoolExecutor

        changed = []
        for node in self.host.topo.k8s_nodes:
            text = kube_proxy.ruleset(str(node.ip), services, node.name)
            path = self.host.files.node(node.name).kube_proxy_rules
            if path.is_file() and path.read_text() == text:
                continue
            atomic_write(path, text)
            changed.append(node.name)

        def load(node: str) -> subprocess.CompletedProcess[bytes]:
            return self.host.exec(node, ["nft", "-f", str(self.host.files.node(node).kube_proxy_rules)], capture=True)
        # Every node's nft at once, as each node's kube-proxy runs on its own: with thousands of Services
        # one load takes seconds, most of it in the kernel.
        with ThreadPoolExecutor(max(1, len(changed))) as pool:
            outs = dict(zip(changed, pool.map(load, changed)))
        refused = [n for n, out in outs.items() if out.returncode != 0]
        for name in refused:
            self.host.files.node(name).kube_proxy_rules.unlink()
        if refused:
            raise LabError("nftables refused kube-proxy's rules on " + "; ".join(
                f"{n}: {outs[n].stderr.decode().strip()}" for n in refused))
        return changed

    def sync_gateways(self, world: World) -> tuple[list[str], dict[str, str]]:
        """Each running proxy's files brought to its Gateway's plan (Envoy reloads them itself,
        draining what leaves). Returns the pods whose files changed, and per Gateway ("ns/name")
        Envoy's reason for refusing a translation (its running config then stays as it was)."""
        changed, refused = [], {}
        for gw in world.gateways.values():
            pod = world.pod(gw.pod)
            proc = self.host.state.process(role(pod))
            if proc is None or not procs.alive(proc):
                continue
            try:
                with phase(ENVOY_UPDATE):
                    if proxy.configure(gw, world, proxy.layout(self.paths(pod).root), pod.name):
                        changed.append(gw.pod)
            except EnvoyRefused as exc:
                refused[str(gw.key)] = str(exc)
        return changed, refused

    def wait_ready(self, pods: list[PodSpec], timeout: float) -> tuple[list[str], list[str]]:
        """(ready, not ready) pod keys, polling until all are ready or `timeout` is spent."""
        deadline = time.monotonic() + timeout
        pending, ready = list(pods), []
        while True:
            still = []
            for pod in pending:
                if self.ready(pod):
                    ready.append(pod.key)
                else:
                    still.append(pod)
            pending = still
            if not pending or time.monotonic() >= deadline:
                return ready, [p.key for p in pending]
            time.sleep(0.02)

    def counters(self, node: str) -> dict[str, int]:
        """kube-proxy rule comment -> packets, from the node's nftables."""
        out = self.host.exec(node, ["nft", "-a", "list", "chain", "ip", kube_proxy.TABLE, "services"], capture=True)
        counts: dict[str, int] = {}
        for line in out.stdout.decode().splitlines():
            if "counter packets" in line and 'comment "' in line:
                packets = int(line.split("counter packets ")[1].split()[0])
                counts[line.split('comment "')[1].split('"')[0]] = packets
        return counts


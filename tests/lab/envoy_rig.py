"""A scratch rig for the real Envoy: namespaces `gwlab-<random>.<role>` (a client, the gateway pod,
two TLS echo backends) wired by veths made from inside them, no default route anywhere, nothing in
the root namespace; processes started by Popen with setns and stopped by their PID."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from orchestrator import PROJECT_ROOT, pki
from orchestrator.engines.netns import namespaces as netns
from orchestrator.envoy import xds_files
from orchestrator.envoy.admin import Admin
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.envoy.spawn import envoy_argv

GW_IP = "10.210.1.2"  # the gateway pod, as the client sees it
CLIENT_IP = "10.210.1.1"
BACKENDS = {"b1": ("10.210.2.1", "10.210.2.2"), "b2": ("10.210.3.1", "10.210.3.2")}  # gw side, backend side
ECHO_PORT = 8443
NODE_ID = "envoy-default-tls-passthrough-gateway-5d6f7c8b9-x2x4z"
GATEWAY = "default/tls-passthrough-gateway"
T = TypeVar("T")


def poll(what: str, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """The first truthy answer of probe, checked every 20 ms for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Rig:
    tag: str
    root: Path  # short: the admin socket's path must fit a UNIX socket name
    certs: pki.LabCerts
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def ns(self, role: str) -> str:
        return f"gwlab-{self.tag}.{role}"

    @property
    def layout(self) -> ProxyLayout:
        return ProxyLayout(self.root / "pod")

    def pod(self, backend: str) -> str:
        return f"passthrough-echoserver-{self.tag}-{backend}"

    def spawn(self, role: str, ns: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=env, preexec_fn=lambda: netns.enter(ns), close_fds=True)
        self.procs[role] = proc
        return proc.pid

    def stop(self, role: str) -> None:
        proc = self.procs.pop(role, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    # -- backends and Envoy ------------------------------------------------------------------
    def start_backend(self, name: str) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_ROOT), "HTTPS_PORT": str(ECHO_PORT),
               "HTTP_PORT": "off", "H2C_PORT": "off", "TLS_SERVER_CERT": str(self.certs.leaf_cert),
               "TLS_SERVER_PRIVKEY": str(self.certs.leaf_key), "POD_NAME": self.pod(name), "NAMESPACE": "default"}
        self.spawn(name, self.ns(name), [sys.executable, "-m", "orchestrator.echo"], self.root / f"{name}.log", env)

    def backend_listening(self, name: str) -> bool:
        with netns.inside(self.ns("gw")):
            s = socket.socket()
        try:
            s.settimeout(0.5)
            return s.connect_ex((BACKENDS[name][1], ECHO_PORT)) == 0
        finally:
            s.close()

    def start_envoy(self) -> int:
        xds_files.prepare(self.layout, node_id=NODE_ID, gateway=GATEWAY)
        return self.spawn("envoy", self.ns("gw"), envoy_argv(self.layout, log_flush_ms=50, concurrency=1),
                          self.layout.log)

    @property
    def admin(self) -> Admin:
        return Admin(self.layout.admin_socket)

    def envoy_pid(self) -> int | None:
        proc = self.procs.get("envoy")
        return proc.pid if proc is not None and proc.poll() is None else None

    # -- clients -----------------------------------------------------------------------------
    def curl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=20,
                              preexec_fn=lambda: netns.enter(self.ns("client")))

    def tls_connection(self, sni: str, address: str = GW_IP, port: int = 6443) -> ssl.SSLSocket:
        """An HTTP/1.1 TLS connection from the client, verified against the lab's CA, kept open."""
        ctx = ssl.create_default_context(cafile=str(self.certs.ca_cert))
        ctx.check_hostname = sni == pki.LEAF_NAME
        if not ctx.check_hostname:
            ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        with netns.inside(self.ns("client")):
            raw = socket.socket()
        raw.settimeout(10)
        raw.connect((address, port))
        return ctx.wrap_socket(raw, server_hostname=sni)


def http_get(conn: ssl.SSLSocket, path: str, host: str) -> tuple[int, dict[str, Any]]:
    """One request on a kept-alive connection: status and the echo server's JSON."""
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the response body")
        body += chunk
    return int(lines[0].split()[1]), json.loads(body[:length])


def _ip(ns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True, timeout=10)


def _wire(rig: Rig) -> None:
    for role in ("client", "gw", *BACKENDS):
        with netns.create(rig.ns(role)):
            netns.write_sysctls({"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.disable_ipv6": "1",
                                 "net.ipv6.conf.default.disable_ipv6": "1"})
        _ip(rig.ns(role), "link", "set", "lo", "up")
    gw = rig.ns("gw")
    links = [("client", "c0", GW_IP, CLIENT_IP)] + [(b, b, gw_ip, b_ip) for b, (gw_ip, b_ip) in BACKENDS.items()]
    for role, ifname, gw_ip, peer_ip in links:
        _ip(gw, "link", "add", ifname, "type", "veth", "peer", "name", "eth0", "netns", rig.ns(role))
        _ip(gw, "addr", "add", f"{gw_ip}/24", "dev", ifname)
        _ip(gw, "link", "set", ifname, "up")
        _ip(rig.ns(role), "addr", "add", f"{peer_ip}/24", "dev", "eth0")
        _ip(rig.ns(role), "link", "set", "eth0", "up")


@contextmanager
def rig() -> Iterator[Rig]:
    """The namespaces, links, certificates and both echo backends; everything removed at the end."""
    tag = uuid.uuid4().hex[:6]
    root = Path(tempfile.mkdtemp(prefix=f"gwlab-{tag}-"))
    r = Rig(tag, root, pki.write_lab_certs(root / "certs"))
    try:
        _wire(r)
        for name in BACKENDS:
            r.start_backend(name)
        for name in BACKENDS:
            poll(f"echo backend {name} listening", lambda: r.backend_listening(name))
        yield r
    finally:
        for role in list(r.procs):
            r.stop(role)
        for role in ("client", "gw", *BACKENDS):
            netns.remove(r.ns(role))
        shutil.rmtree(root, ignore_errors=True)

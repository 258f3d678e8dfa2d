import os
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import LabError
from orchestrator.k8s.gateway.plan import BackendTarget, GatewayPlan, ListenerPlan, PortPlan, SniRoute
from orchestrator.k8s.gateway.status import ObjKey
from orchestrator.k8s.haproxy import (
    HAPROXY_BIN,
    HAProxySettings,
    backend_name,
    haproxy_check,
    render_haproxy_config,
)

needs_haproxy = pytest.mark.skipif(not os.access(HAPROXY_BIN, os.X_OK), reason="haproxy is not installed")

ECHO = BackendTarget("default", "passthrough-echoserver", 443, 1)
WORKSHOP_PLAN = GatewayPlan(
    ObjKey("default", "tls-passthrough-gateway"),
    "10.10.10.23",
    (
        PortPlan(
            6443,
            (ListenerPlan("tls", "passthrough.example.com", True),),
            (SniRoute("tls", "passthrough.example.com", ObjKey("default", "tls-passthrough"), (ECHO,)),),
        ),
    ),
    ("http (HTTP/80)",),
)
ECHO_ENDPOINTS = {("default", "passthrough-echoserver", 443): [("10.50.0.5", 8443)]}
SETTINGS = HAProxySettings(bind_address="10.10.10.23", stats_socket="/run/gwlab/gw.sock")


def test_workshop_config() -> None:
    cfg = render_haproxy_config(WORKSHOP_PLAN, ECHO_ENDPOINTS, SETTINGS)
    lines = [line.strip() for line in cfg.splitlines()]
    for expected in (
        "mode tcp",
        "frontend fe_6443",
        "bind 10.10.10.23:6443",
        "tcp-request inspect-delay 5000ms",
        "tcp-request content reject if !{ req.ssl_hello_type 1 }",
        "tcp-request content accept if { req.ssl_hello_type 1 }",
        "tcp-request content set-var(sess.listener) str(tls) if !listener_set { req.ssl_sni -i passthrough.example.com }",
        "stats socket /run/gwlab/gw.sock mode 600 level admin expose-fd listeners",
        "default-server check inter 1000ms rise 1 fall 2",
        "backend be_default_passthrough-echoserver_443",
        "server ep_10.50.0.5_8443 10.50.0.5:8443",
        "use_backend be_default_passthrough-echoserver_443 if { var(sess.backend) -m str be_default_passthrough-echoserver_443 }",
        "log stderr format raw daemon",
    ):
        assert expected in lines, expected
    assert "default_backend" not in cfg
    assert "daemon\n" not in cfg.replace("raw daemon\n", "")  # master-worker (-W) runs in the foreground
    assert "bind 10.10.10.23:80" not in cfg  # the HTTP listener is not served by this proxy


@needs_haproxy
def test_workshop_config_passes_haproxy_check() -> None:
    haproxy_check(render_haproxy_config(WORKSHOP_PLAN, ECHO_ENDPOINTS, SETTINGS))


def test_rendering_is_deterministic() -> None:
    a = render_haproxy_config(WORKSHOP_PLAN, {ECHO_KEY: [("10.50.0.7", 8443), ("10.50.0.5", 8443)]}, SETTINGS)
    b = render_haproxy_config(WORKSHOP_PLAN, {ECHO_KEY: [("10.50.0.5", 8443), ("10.50.0.7", 8443)]}, SETTINGS)
    assert a == b
    assert a.index("ep_10.50.0.5_8443") < a.index("ep_10.50.0.7_8443")


ECHO_KEY = ("default", "passthrough-echoserver", 443)
CANARY = BackendTarget("default", "canary", 443, 1)


def plan_with(*routes: SniRoute, listeners: tuple[ListenerPlan, ...] | None = None, port: int = 6443) -> GatewayPlan:
    lst = listeners or (ListenerPlan("tls", "*.example.com", True),)
    return GatewayPlan(ObjKey("default", "gw"), None, (PortPlan(port, lst, routes),))


def test_backend_names() -> None:
    assert backend_name(("default", "passthrough-echoserver", 443)) == "be_default_passthrough-echoserver_443"


def test_weights_use_one_draw_per_connection() -> None:
    route = SniRoute("tls", "*.example.com", ObjKey("default", "r"),
                     (BackendTarget("default", "passthrough-echoserver", 443, 3), CANARY), rejected_weight=2)  # fmt: skip
    cfg = render_haproxy_config(plan_with(route), {}, SETTINGS)
    assert "set-var(sess.pick) rand(6) if { var(sess.rule) -m str r0 }" in cfg
    assert ("str(be_default_passthrough-echoserver_443) if { var(sess.rule) -m str r0 }"
            " { var(sess.pick) -m int ge 0 } { var(sess.pick) -m int lt 3 }") in cfg  # fmt: skip
    assert "str(be_default_canary_443) if { var(sess.rule) -m str r0 } { var(sess.pick) -m int ge 3 }" in cfg
    assert "{ req.ssl_sni -m end -i .example.com }" in cfg
    assert "backend be_default_canary_443\n" in cfg  # no endpoints: a backend without servers


def test_routes_without_backends_and_catch_all() -> None:
    routes = (
        SniRoute("tls", "gone.example.com", ObjKey("default", "gone"), (), rejected_weight=1),
        SniRoute("any", None, ObjKey("default", "all"), (ECHO,)),
    )
    listeners = (ListenerPlan("https", "a.example.com", False), ListenerPlan("tls", "*.example.com", True),
                 ListenerPlan("any", None, True))  # fmt: skip
    cfg = render_haproxy_config(plan_with(*routes, listeners=listeners), {}, SETTINGS)
    assert "set-var(sess.listener) str(any) if !listener_set\n" in cfg
    assert "set-var(sess.rule) str(r1) if !rule_set { var(sess.listener) -m str any }\n" in cfg
    assert "str(listener-not-served) if { var(sess.listener) -m str https }" in cfg
    assert "rand(" not in cfg


def test_ipv6_addresses() -> None:
    settings = HAProxySettings(bind_address="::", stats_socket="/run/s.sock")
    cfg = render_haproxy_config(WORKSHOP_PLAN, {ECHO_KEY: [("fd00::5", 8443)]}, settings)
    assert "bind [::]:6443" in cfg and "server ep_fd00--5_8443 [fd00::5]:8443" in cfg


@pytest.mark.parametrize(
    "target, line",
    [("stderr", "log stderr format raw daemon"), ("stdout", "log stdout format raw daemon"),
     ("unix:/run/gwlab/log.sock", "log /run/gwlab/log.sock daemon")],
)  # fmt: skip
def test_log_targets(target: str, line: str) -> None:
    settings = HAProxySettings(bind_address="0.0.0.0", stats_socket="/run/s.sock", log_target=target)
    assert f"    {line}\n" in render_haproxy_config(WORKSHOP_PLAN, {}, settings)


@pytest.mark.parametrize(
    "settings, message",
    [
        (HAProxySettings("10.0.0.1", "/run/s.sock", log_target="/var/log/haproxy.log"), "cannot write a regular file|not supported"),
        (HAProxySettings("gateway", "/run/s.sock"), "not an IP address"),
        (HAProxySettings("10.0.0.1", "relative.sock"), "absolute path"),
    ],
)
def test_bad_settings(settings: HAProxySettings, message: str) -> None:
    with pytest.raises(LabError, match=message):
        render_haproxy_config(WORKSHOP_PLAN, {}, settings)


def test_optional_settings() -> None:
    settings = HAProxySettings("0.0.0.0", "/run/s.sock", server_state_file="/run/state", hard_stop_after_ms=30000)
    cfg = render_haproxy_config(WORKSHOP_PLAN, {}, settings)
    assert "server-state-file /run/state" in cfg and "load-server-state-from-file global" in cfg
    assert "hard-stop-after 30000ms" in cfg


@needs_haproxy
def test_haproxy_check_reports_haproxy_output() -> None:
    cfg = render_haproxy_config(WORKSHOP_PLAN, ECHO_ENDPOINTS, SETTINGS).replace("balance roundrobin", "balance nope")
    with pytest.raises(LabError, match=r"refused the configuration:(.|\n)*<config>:\d+"):
        haproxy_check(cfg)


def test_haproxy_check_without_haproxy() -> None:
    with pytest.raises(LabError, match="not installed"):
        haproxy_check("global\n", haproxy="/nonexistent/haproxy")


@needs_haproxy
def test_every_shape_of_plan_passes_haproxy_check() -> None:
    routes = (
        SniRoute("exact", "passthrough.example.com", ObjKey("default", "a"), (ECHO, CANARY)),
        SniRoute("tls", "*.a.example.com", ObjKey("default", "b"), (ECHO,), rejected_weight=5),
        SniRoute("tls", "*.example.com", ObjKey("other", "c"), ()),
        SniRoute("any", None, ObjKey("default", "d"), (CANARY,)),
    )
    listeners = (ListenerPlan("exact", "passthrough.example.com", True), ListenerPlan("h", "h.example.com", False),
                 ListenerPlan("tls", "*.example.com", True), ListenerPlan("any", None, True))  # fmt: skip
    plan = GatewayPlan(ObjKey("default", "gw"), None,
                       (PortPlan(443, listeners, routes), PortPlan(6443, listeners[:1], routes[:1])))  # fmt: skip
    settings = HAProxySettings("::", "/run/s.sock", server_state_file="/run/st", hard_stop_after_ms=1000)
    haproxy_check(render_haproxy_config(plan, {ECHO_KEY: [("10.50.0.5", 8443), ("fd00::1", 8443)]}, settings))


# ---- a real HAProxy on loopback ----------------------------------------------------------------


def client_hello(sni: str | None) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


class Tagged(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tag: bytes):
        self.tag = tag
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(socketserver.BaseRequestHandler):
    """Answers the first bytes (a ClientHello) with the server's tag, then echoes."""

    def handle(self) -> None:
        assert isinstance(self.server, Tagged)
        if not self.request.recv(4096):
            return  # a health check
        self.request.sendall(self.server.tag)
        while data := self.request.recv(4096):
            self.request.sendall(data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connect(port: int, payload: bytes) -> tuple[socket.socket, bytes]:
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(payload)
    try:
        answer = s.recv(100)
    except (ConnectionResetError, TimeoutError):
        answer = b""
    return s, answer


def ask(port: int, payload: bytes) -> bytes:
    s, answer = connect(port, payload)
    s.close()
    return answer


def stats(sock: str, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.fixture
def servers() -> Iterator[dict[str, Tagged]]:
    found = {name: Tagged(name.encode()) for name in ("a", "b")}
    for srv in found.values():
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield found
    for srv in found.values():
        srv.shutdown()
        srv.server_close()


A = BackendTarget("default", "a", 443, 1)
B = BackendTarget("default", "b", 443, 1)


def live_plan(port: int, passthrough_to: BackendTarget) -> GatewayPlan:
    listeners = (ListenerPlan("tls", "passthrough.example.com", True), ListenerPlan("wild", "*.example.com", True))
    routes = (
        SniRoute("tls", "passthrough.example.com", ObjKey("default", "workshop"), (passthrough_to,)),
        SniRoute("wild", "split.example.com", ObjKey("default", "split"), (A, B)),
        SniRoute("wild", "half.example.com", ObjKey("default", "half"), (A,), rejected_weight=1),
        SniRoute("wild", "gone.example.com", ObjKey("default", "gone"), (), rejected_weight=1),
        SniRoute("wild", "*.example.com", ObjKey("default", "rest"), (B,)),
    )
    return GatewayPlan(ObjKey("default", "gw"), "127.0.0.1", (PortPlan(port, listeners, routes),))


@needs_haproxy
def test_live_sni_routing_rejections_logs_and_seamless_reload(servers: dict[str, Tagged], tmp_path: Path) -> None:
    port = free_port()
    endpoints = {("default", name, 443): [("127.0.0.1", srv.server_address[1])] for name, srv in servers.items()}
    sock = str(tmp_path / "stats.sock")
    settings = HAProxySettings("127.0.0.1", sock, inspect_delay_ms=1000, check_interval_ms=200)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_haproxy_config(live_plan(port, A), endpoints, settings))
    log = (tmp_path / "haproxy.log").open("w")
    proc = subprocess.Popen([HAPROXY_BIN, "-W", "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30  # the most it may take; it goes on as soon as both are UP
        while time.monotonic() < deadline:
            if os.path.exists(sock) and stats(sock, "show servers state").count(" 127.0.0.1 2 ") == 2:
                break  # both servers UP (srv_op_state 2)
            time.sleep(0.05)
        else:
            pytest.fail("haproxy did not come up:\n" + (tmp_path / "haproxy.log").read_text())

        assert ask(port, client_hello("passthrough.example.com")) == b"a"
        assert ask(port, client_hello("other.example.com")) == b"b"
        assert ask(port, client_hello("deep.other.example.com")) == b"b"
        assert ask(port, client_hello("example.com")) == b""
        assert ask(port, client_hello(None)) == b""
        assert ask(port, b"GET / HTTP/1.1\r\nHost: passthrough.example.com\r\n\r\n") == b""
        assert ask(port, client_hello("gone.example.com")) == b""
        assert {ask(port, client_hello("split.example.com")) for _ in range(30)} == {b"a", b"b"}
        assert {ask(port, client_hello("half.example.com")) for _ in range(30)} == {b"a", b""}
        assert "be_default_a_443" in stats(sock, "show stat")

        # An established connection survives a reload (master-worker, SIGUSR2) to a changed config.
        held, first = connect(port, client_hello("passthrough.example.com"))
        assert first == b"a"
        cfg.write_text(render_haproxy_config(live_plan(port, B), endpoints, settings))
        proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while ask(port, client_hello("passthrough.example.com")) != b"b":
            assert time.monotonic() < deadline, "the reload did not take effect"
            time.sleep(0.1)
        held.sendall(b"still here")
        assert held.recv(100) == b"still here"
        held.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    text = (tmp_path / "haproxy.log").read_text()
    for verdict in ("routed", "unknown-sni", "no-sni", "not-tls", "no-backend"):
        assert f"verdict={verdict}" in text, verdict
    assert "sni=passthrough.example.com listener=tls route=default/workshop verdict=routed" in text
    assert "sni=example.com listener=- route=- verdict=unknown-sni" in text

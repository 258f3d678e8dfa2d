"""The echo-basic compatible server: pure functions, then the real server under curl and h2load.

Every server here listens on 127.0.0.1 of a scratch network namespace this module makes (named as
the lab's are, so `gwlab clean` finds a leftover) and removes at its end; the servers, curl and
h2load run inside it, never in the host's namespace. Ports are the kernel's pick; each server is
stopped by the PID this module started.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator import pki
from orchestrator.echo.handler import (
    Context,
    Echo,
    Request,
    canonical_header,
    echo_set_headers,
    go_escape,
    parse_go_duration,
    tls_json,
)
from orchestrator.echo.server import EchoConfig
from orchestrator.echo.tlsinfo import ServerTLS, TLSInfo
from orchestrator.engines.netns import namespaces as netns

POD = "passthrough-echoserver-674f8cf47b-4l64m"
HOST = "passthrough.example.com"
KEY_ORDER = ["path", "host", "method", "proto", "headers", "namespace", "ingress", "service", "pod"]
TLS_KEY_ORDER = ["version", "serverName", "negotiatedProtocol", "cipherSuite"]
REPO = Path(__file__).resolve().parents[2]

needs_curl = pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
needs_h2load = pytest.mark.skipif(not shutil.which("h2load"), reason="h2load not installed")



@pytest.fixture(scope="module", autouse=True)
def scratch_namespace() -> Iterator[None]:
    """This module's tests run with this thread in a namespace of their own, its loopback up: what
    they start (servers, curl, h2load) inherits it."""
    if os.geteuid() != 0:
        pytest.skip("a scratch network namespace needs root")
    name = f"gwlab-echo-{uuid.uuid4().hex[:8]}.scratch"
    try:
        with netns.create(name):
            pass
        with netns.inside(name):
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
            yield
    finally:
        netns.remove(name)


# ---- pure functions ---------------------------------------------------------------------------


def test_canonical_header_names_like_go() -> None:
    assert canonical_header("user-agent") == "User-Agent"
    assert canonical_header("ACCEPT") == "Accept"
    assert canonical_header("x-echo-set-header") == "X-Echo-Set-Header"
    assert canonical_header("content-md5") == "Content-Md5"
    assert canonical_header("www-authenticate") == "Www-Authenticate"
    assert canonical_header("bad header") == "bad header"  # not a token: left alone, as Go does


def test_go_durations() -> None:
    assert parse_go_duration("1.5s") == pytest.approx(1.5)
    assert parse_go_duration("300ms") == pytest.approx(0.3)
    assert parse_go_duration("1m30s") == pytest.approx(90)
    assert parse_go_duration("2h") == pytest.approx(7200)
    assert parse_go_duration("10us") == pytest.approx(1e-5)
    assert parse_go_duration("0") == 0
    assert parse_go_duration("-1s") == pytest.approx(-1)
    with pytest.raises(ValueError, match=r'^time: invalid duration "abc"$'):
        parse_go_duration("abc")
    with pytest.raises(ValueError, match=r'^time: missing unit in duration "10"$'):
        parse_go_duration("10")
    with pytest.raises(ValueError, match=r'^time: unknown unit "x" in duration "10x"$'):
        parse_go_duration("10x")
    with pytest.raises(ValueError):
        parse_go_duration("")


def test_echo_set_header_parsing() -> None:
    assert echo_set_headers(["X-Foo: bar, X-Baz: 1"]) == [("X-Foo", "bar"), ("X-Baz", "1")]
    assert echo_set_headers(["X-Foo: a", "X-Foo: b"]) == [("X-Foo", "a,b")]
    assert echo_set_headers([""]) == []


def test_go_escapes_html_characters() -> None:
    assert go_escape('"<a>&"') == '"\\u003ca\\u003e\\u0026"'
    assert go_escape("plain") == "plain"


def _request(**changes: object) -> Request:
    tls = TLSInfo("TLSv1.3", HOST, "h2", "TLS_AES_128_GCM_SHA256")
    fields: dict[str, object] = dict(
        method="GET",
        target="/get",
        host=HOST,
        proto="HTTP/2.0",
        headers={"User-Agent": ["curl/7.68.0"], "Accept": ["*/*"]},
        tls=tls,
        tls_json=tls_json(tls),
    )
    fields.update(changes)
    return Request(**fields)  # type: ignore[arg-type]


def test_body_is_go_marshal_indent_with_one_space() -> None:
    echo = Echo(Context(namespace="default", pod=POD))
    body = echo.body(_request())
    doc = json.loads(body)
    # json.MarshalIndent(v, "", " ") and Python's indent=1 agree on layout (sorted map keys).
    assert body == json.dumps(doc, indent=1)
    assert list(doc) == [*KEY_ORDER, "tls"]
    assert list(doc["tls"]) == TLS_KEY_ORDER
    assert list(doc["headers"]) == ["Accept", "User-Agent"]
    # The workshop's sample response: same request, same pod name -> content-length 441.
    assert len(body.encode()) == 441


def test_body_edge_cases() -> None:
    echo = Echo(Context())
    plain = json.loads(echo.body(_request(tls=None, tls_json="", headers={})))
    assert "tls" not in plain
    assert plain["headers"] == {}
    odd = echo.body(_request(headers={"X-Html": ["<b>&é\u2028"], "Empty": []}))
    assert "\\u003cb\\u003e\\u0026é\\u2028" in odd
    assert json.loads(odd)["headers"] == {"Empty": [], "X-Html": ["<b>&é\u2028"]}
    no_alpn = TLSInfo("TLSv1.2", "", "", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    doc = json.loads(echo.body(_request(tls=no_alpn, tls_json="")))
    assert list(doc["tls"]) == ["version", "serverName", "cipherSuite"]  # omitempty


def test_routes() -> None:
    echo = Echo(Context())
    assert echo.handle(_request(target="/health")).body == b"OK"
    assert echo.handle(_request(target="/status/404")).status == 404
    assert echo.handle(_request(target="/status/404?x=1")).status == 400
    assert echo.handle(_request(target="/status/abc")).status == 400
    assert echo.handle(_request(target="/status/000")).abort
    assert echo.handle(_request(target="/status")).status == 301
    assert echo.handle(_request(target="/?delay=250ms")).delay == pytest.approx(0.25)
    bad = echo.handle(_request(target="/?delay=abc"))
    assert bad.status == 500 and bad.body == b'{"message":"time: invalid duration \\"abc\\""}'
    assert len(echo.handle(_request(target="/bytes/1000")).body) == 1000
    assert echo.handle(_request(target="/bytes/999999999")).status == 400
    assert echo.handle(_request(target="/bytes/x")).status == 400
    # echo-basic's h2c port runs only the echo handler
    echoed = echo.handle(_request(target="/health"), routes=False)
    assert ("Content-Type", "application/json") in echoed.headers


def test_config_defaults_follow_echo_basic() -> None:
    config = EchoConfig.from_env({})
    assert (config.http_port, config.h2c_port, config.https_port) == ("3000", "3001", "8443")
    assert config.bind == "0.0.0.0"
    assert not config.https_enabled  # no cert and key: no HTTPS, as echo-basic
    half = EchoConfig.from_env({"TLS_SERVER_CERT": "/x"})
    assert not half.https_enabled
    full = EchoConfig.from_env(
        {"TLS_SERVER_CERT": "/x", "TLS_SERVER_PRIVKEY": "/y", "POD_NAME": "p", "NAMESPACE": "n"}
    )
    assert full.https_enabled and full.context == Context(namespace="n", pod="p")


def test_cipher_suite_names(tmp_path: Path) -> None:
    paths = pki.write_lab_certs(tmp_path)
    tls = ServerTLS(str(paths.leaf_cert), str(paths.leaf_key))
    assert tls.suite_name("TLS_AES_128_GCM_SHA256") == "TLS_AES_128_GCM_SHA256"
    assert tls.suite_name("ECDHE-RSA-AES128-GCM-SHA256") == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert (
        tls.suite_name("ECDHE-RSA-CHACHA20-POLY1305")
        == "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
    )
    # Go prefers AES-128-GCM in TLS 1.3; the context is told the same.
    assert tls.context.get_ciphers()[0]["name"] == "TLS_AES_128_GCM_SHA256"


# ---- the real server --------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    ports: dict[str, int]
    certs: pki.LabCerts
    stderr_path: Path

    def url(self, path: str = "/get") -> str:
        return f"https://{HOST}:{self.ports['https']}{path}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_server(tmp: Path, certs: pki.LabCerts | None, **env: str) -> Server:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TLS_", "HTTP"))}
    environ.update(
        HTTP_PORT="0",
        H2C_PORT="0",
        HTTPS_PORT="0",
        ECHO_BIND_ADDRESS="127.0.0.1",
        POD_NAME=POD,
        NAMESPACE="default",
        PYTHONPATH=str(REPO),
    )
    if certs is not None:
        environ.update(TLS_SERVER_CERT=str(certs.leaf_cert), TLS_SERVER_PRIVKEY=str(certs.leaf_key))
    environ.update(env)
    stderr_path = tmp / f"echo-{time.monotonic_ns()}.err"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.echo"],
            stdout=subprocess.PIPE,
            stderr=err,
            env=environ,
            cwd=REPO,
        )
    try:
        line = _read_line(proc, timeout=15)
        match = re.fullmatch(r"echo-basic listening (.*) bind=127\.0\.0\.1", line)
        assert match, f"unexpected ready line {line!r}; stderr: {stderr_path.read_text()}"
        ports = {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}
        for port in ports.values():  # readiness by connecting, not only by the line
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except BaseException:
        stop_server(proc)
        raise
    assert certs is not None or "https" not in ports
    return Server(proc, ports, certs or pki.LabCerts(tmp, tmp, tmp, tmp, tmp), stderr_path)


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise AssertionError(f"server did not get ready (exit {proc.poll()}): {buf!r}")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                continue
            buf += chunk
    return buf.decode().strip()


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 5) -> int:
    """SIGTERM the PID we started; SIGKILL it if it does not go. Returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> pki.LabCerts:
    return pki.write_lab_certs(tmp_path_factory.mktemp("echo-certs"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certs: pki.LabCerts) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("echo"), certs)
    try:
        yield srv
    finally:
        code = stop_server(srv.proc)
        assert code == 0, srv.stderr()
    assert "Traceback" not in srv.stderr(), srv.stderr()
    assert "socket.send() raised" not in srv.stderr(), srv.stderr()


@dataclass
class CurlResult:
    status: int
    headers: dict[str, str]
    body: bytes
    protocol: str

    def json(self) -> dict[str, object]:
        doc = json.loads(self.body)
        assert isinstance(doc, dict)
        return doc

    def headers_json(self) -> dict[str, list[str]]:
        headers = self.json()["headers"]
        assert isinstance(headers, dict)
        return headers


def curl(server: Server, *args: str, url: str | None = None) -> CurlResult:
    port = server.ports.get("https", 0)
    cmd = [
        "curl", "-sS", "--max-time", "20", "-D", "-", "-o", "-",
        "--resolve", f"{HOST}:{port}:127.0.0.1", "--cacert", str(server.certs.ca_cert),
        *args, url or server.url(),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout
    # skip interim responses (101 Switching Protocols, 100 Continue)
    while True:
        head, _, rest = out.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode()
        if status_line.split()[1].startswith("1") and rest.startswith(b"HTTP/"):
            out = rest
            continue
        break
    lines = head.decode("latin-1").split("\r\n")
    protocol, status = lines[0].split()[0], int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return CurlResult(status, headers, rest, protocol)


def check_echo(doc: dict[str, object], *, proto: str, host: str, path: str = "/get") -> None:
    assert list(doc)[:9] == KEY_ORDER
    assert doc["path"] == path
    assert doc["host"] == host
    assert doc["method"] == "GET"
    assert doc["proto"] == proto
    assert doc["namespace"] == "default"
    assert doc["ingress"] == ""
    assert doc["service"] == ""
    assert doc["pod"] == POD
    headers = doc["headers"]
    assert isinstance(headers, dict)
    assert headers["Accept"] == ["*/*"]
    assert headers["User-Agent"][0].startswith("curl/")
    assert "Host" not in headers and "host" not in headers


def check_response_headers(res: CurlResult) -> None:
    assert res.status == 200
    assert res.headers["content-type"] == "application/json"
    assert res.headers["x-content-type-options"] == "nosniff"
    assert int(res.headers["content-length"]) == len(res.body)
    assert "date" in res.headers
    assert res.body.decode() == json.dumps(json.loads(res.body), indent=1)


@needs_curl
def test_workshop_curl_over_http2(server: Server) -> None:
    res = curl(server, "-H", f"Host:{HOST}", "-A", "curl/7.68.0")
    check_response_headers(res)
    assert res.protocol == "HTTP/2"
    doc = res.json()
    check_echo(doc, proto="HTTP/2.0", host=HOST)
    assert doc["tls"] == {
        "version": "TLSv1.3",
        "serverName": HOST,
        "negotiatedProtocol": "h2",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
    }
    assert list(doc) == [*KEY_ORDER, "tls"]
    assert res.headers["content-length"] == "441"  # byte for byte the workshop's sample size


@needs_curl
def test_http11_over_tls(server: Server) -> None:
    res = curl(server, "--http1.1")
    check_response_headers(res)
    assert res.protocol == "HTTP/1.1"
    doc = res.json()
    check_echo(doc, proto="HTTP/1.1", host=f"{HOST}:{server.ports['https']}")
    assert doc["tls"] == {
        "version": "TLSv1.3",
        "serverName": HOST,
        "negotiatedProtocol": "http/1.1",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
    }


@needs_curl
def test_tls12_cipher_suite_has_its_iana_name(server: Server) -> None:
    doc = curl(server, "--tls-max", "1.2").json()
    tls = doc["tls"]
    assert isinstance(tls, dict)
    assert tls["version"] == "TLSv1.2"
    assert tls["cipherSuite"] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert tls["negotiatedProtocol"] == "h2"


@needs_curl
def test_no_sni_gives_empty_server_name(server: Server) -> None:
    url = f"https://127.0.0.1:{server.ports['https']}/nosni"
    doc = curl(server, "-k", url=url).json()
    check_echo(doc, proto="HTTP/2.0", host=f"127.0.0.1:{server.ports['https']}", path="/nosni")
    tls = doc["tls"]
    assert isinstance(tls, dict)
    assert tls["serverName"] == ""


@needs_curl
def test_no_alpn_means_http11_and_no_negotiated_protocol(server: Server) -> None:
    doc = curl(server, "--http1.1", "--no-alpn").json()
    tls = doc["tls"]
    assert isinstance(tls, dict)
    assert "negotiatedProtocol" not in tls
    assert doc["proto"] == "HTTP/1.1"


@needs_curl
def test_plain_http(server: Server) -> None:
    url = f"http://127.0.0.1:{server.ports['http']}/plain?x=1"
    res = curl(server, url=url)
    check_response_headers(res)
    doc = res.json()
    check_echo(doc, proto="HTTP/1.1", host=f"127.0.0.1:{server.ports['http']}", path="/plain?x=1")
    assert "tls" not in doc


@needs_curl
def test_h2c_port(server: Server) -> None:
    base = f"http://127.0.0.1:{server.ports['h2c']}"
    prior = curl(server, "--http2-prior-knowledge", url=base + "/prior")
    assert prior.protocol == "HTTP/2"
    check_echo(prior.json(), proto="HTTP/2.0", host=base[7:], path="/prior")
    upgraded = curl(server, "--http2", url=base + "/upgrade")
    assert upgraded.protocol == "HTTP/2"
    assert upgraded.json()["proto"] == "HTTP/2.0"
    plain = curl(server, url=base + "/plain")
    assert plain.status == 400 and plain.body == b"Expected h2c request"
    # echo-basic's h2c handler echoes everything, /health included
    assert curl(server, "--http2-prior-knowledge", url=base + "/health").json()["path"] == "/health"


@needs_curl
def test_health_status_delay_and_errors(server: Server) -> None:
    health = curl(server, url=server.url("/health"))
    assert (health.status, health.body) == (200, b"OK")
    assert curl(server, url=server.url("/status/418")).status == 418
    assert curl(server, "--http1.1", url=server.url("/status/503")).status == 503
    assert curl(server, url=server.url("/status/503?x")).status == 400
    bad = curl(server, url=server.url("/?delay=abc"))
    assert bad.status == 500
    assert bad.json() == {"message": 'time: invalid duration "abc"'}
    start = time.monotonic()
    assert curl(server, url=server.url("/?delay=300ms")).status == 200
    assert time.monotonic() - start >= 0.3


@needs_curl
def test_x_echo_set_header(server: Server) -> None:
    for proto in ("--http2", "--http1.1"):
        res = curl(server, proto, "-H", "X-Echo-Set-Header: X-Foo: bar, X-Other: 1")
        assert res.headers["x-foo"] == "bar"
        assert res.headers["x-other"] == "1"
        assert res.headers_json()["X-Echo-Set-Header"] == ["X-Foo: bar, X-Other: 1"]


@needs_curl
def test_request_bodies_are_read(server: Server, tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"x" * 300_000)  # more than the HTTP/2 windows; the server must ack it
    payload = f"@{body}"
    for proto in ("--http2", "--http1.1"):
        res = curl(server, proto, "--data-binary", payload)
        assert res.json()["method"] == "POST"
        assert res.headers_json()["Content-Length"] == ["300000"]
    te = "Transfer-Encoding: chunked"
    headers = curl(server, "--http1.1", "-H", te, "--data-binary", payload).headers_json()
    assert "Transfer-Encoding" not in headers and "Content-Length" not in headers


@needs_curl
def test_bytes_endpoint(server: Server) -> None:
    for proto in ("--http2", "--http1.1"):
        for size in (0, 1, 70_000, 3 * 1024 * 1024 + 7):
            res = curl(server, proto, url=server.url(f"/bytes/{size}"))
            assert res.status == 200
            assert res.headers["content-type"] == "application/octet-stream"
            assert len(res.body) == size == int(res.headers["content-length"])
            assert res.body[:10] == b"0123456789"[: min(size, 10)]
    h2c = f"http://127.0.0.1:{server.ports['h2c']}/bytes/100"
    assert len(curl(server, "--http2-prior-knowledge", url=h2c).body) != 100  # echo only there
    assert curl(server, url=server.url(f"/bytes/{64 * 1024 * 1024 + 1}")).status == 400


def raw_exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_http1_keep_alive_pipelining_and_close(server: Server) -> None:
    port = server.ports["http"]
    out = raw_exchange(
        port,
        b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n0\r\nTrailer: 1\r\n\r\n"
        b"PUT /y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /status/404 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) [A-Z]", out)
    assert statuses == [b"200", b"200", b"200", b"404"]
    assert b'"method": "POST"' in out and b'"method": "PUT"' in out
    assert out.endswith(b"Content-Length: 0\r\n\r\n")
    old = raw_exchange(port, b"GET /health HTTP/1.0\r\n\r\n")  # HTTP/1.0: closes after one
    assert old.startswith(b"HTTP/1.1 200 OK\r\n") and old.endswith(b"\r\n\r\nOK")


def test_http1_errors(server: Server) -> None:
    port = server.ports["http"]
    assert raw_exchange(port, b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(port, b"\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    te = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"
    assert raw_exchange(port, te).startswith(b"HTTP/1.1 501 ")
    bad_chunk = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    assert raw_exchange(port, bad_chunk).startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(port, b"GET /status/000 HTTP/1.1\r\nHost: a\r\n\r\n") == b""


def test_misbehaving_clients_do_not_hurt_the_server(server: Server) -> None:
    https, http, h2c = server.ports["https"], server.ports["http"], server.ports["h2c"]
    for port in (https, http, h2c):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(os.urandom(4096))
            sock.settimeout(2)
            try:
                sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                pass
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # connect, say nothing
    with socket.create_connection(("127.0.0.1", https), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    requests = [
        b"GET /bytes/30000000 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /?delay=5s HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    for request in requests:
        with socket.create_connection(("127.0.0.1", https), timeout=5) as raw:
            with ctx.wrap_socket(raw) as tls:  # no SNI, then gone mid-response
                tls.sendall(request)
                if b"bytes" in request:
                    tls.recv(1000)
        with socket.create_connection(("127.0.0.1", http), timeout=5) as sock:
            sock.sendall(request)
            if b"bytes" in request:
                sock.recv(1000)
    huge = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * (2 << 20)
    with socket.create_connection(("127.0.0.1", http), timeout=5) as sock:
        try:
            sock.sendall(huge)
            assert sock.recv(100).startswith(b"HTTP/1.1 431 ")
        except ConnectionResetError:
            pass  # the server answered 431 and closed while we were still sending
    time.sleep(0.3)
    assert server.proc.poll() is None
    assert curl(server).json()["pod"] == POD


@needs_curl
def test_h2_client_that_resets_mid_stream(server: Server) -> None:
    subprocess.run(
        ["curl", "-s", "-k", "--max-time", "0.3", "-o", "/dev/null",
         f"https://127.0.0.1:{server.ports['https']}/bytes/60000000"],
        timeout=30,
    )  # fmt: skip
    time.sleep(0.2)
    assert server.proc.poll() is None
    assert curl(server).status == 200


def h2load(*args: str) -> str:
    result = subprocess.run(["h2load", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@needs_h2load
def test_h2load_multiplexing_and_flow_control(server: Server) -> None:
    port = server.ports["https"]
    out = h2load("-n", "400", "-c", "4", "-m", "20", f"https://127.0.0.1:{port}/get")
    assert "400 succeeded, 0 failed, 0 errored" in out
    assert "Application protocol: h2" in out
    # a 64 KiB stream window makes every 1 MiB response wait for WINDOW_UPDATEs
    out = h2load("-n", "20", "-c", "2", "-m", "4", "-w", "16", "-W", "16",
                 f"https://127.0.0.1:{port}/bytes/1048576")  # fmt: skip
    assert "20 succeeded, 0 failed, 0 errored" in out
    assert re.search(r"traffic: .* 20\.00MB \(20971520\) data", out), out
    h2c = h2load("-n", "100", "-c", "2", "-m", "10", f"http://127.0.0.1:{server.ports['h2c']}/")
    assert "100 succeeded, 0 failed, 0 errored" in h2c


def test_without_certificates_there_is_no_https(tmp_path: Path) -> None:
    srv = start_server(tmp_path, None)
    try:
        assert set(srv.ports) == {"http", "h2c"}
        out = raw_exchange(srv.ports["http"], b"GET /health HTTP/1.0\r\n\r\n")
        assert out.endswith(b"OK")
    finally:
        assert stop_server(srv.proc) == 0


def test_disabled_ports_and_bad_certificate(tmp_path: Path, certs: pki.LabCerts) -> None:
    srv = start_server(tmp_path, certs, HTTP_PORT="off", H2C_PORT="off")
    try:
        assert set(srv.ports) == {"https"}
    finally:
        assert stop_server(srv.proc) == 0
    env = dict(os.environ, TLS_SERVER_CERT=str(tmp_path / "missing.crt"), TLS_SERVER_PRIVKEY="x",
               HTTP_PORT="0", H2C_PORT="0", HTTPS_PORT="0", ECHO_BIND_ADDRESS="127.0.0.1",
               PYTHONPATH=str(REPO))  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator.echo"], env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stderr.startswith(b"echo: ")


def unread(port: int, peer: int) -> int:
    """Bytes the server has not read yet on its connection from local port `peer` (its Recv-Q)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", "sport", f"= :{port}", "dport", f"= :{peer}"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out, f"no connection from :{peer} to :{port}"
    return int(out[0])


def test_sigterm_with_open_connections_exits_cleanly(tmp_path: Path, certs: pki.LabCerts) -> None:
    srv = start_server(tmp_path, certs)
    idle = socket.create_connection(("127.0.0.1", srv.ports["http"]), timeout=5)
    busy = socket.create_connection(("127.0.0.1", srv.ports["http"]), timeout=5)
    try:
        busy.sendall(b"GET /?delay=30s HTTP/1.1\r\nHost: a\r\n\r\n")
        deadline = time.monotonic() + 30
        while unread(srv.ports["http"], busy.getsockname()[1]):  # until the server has read the request
            assert time.monotonic() < deadline, "the server never read the request"
            time.sleep(0.01)
        start = time.monotonic()
        assert stop_server(srv.proc) == 0
        assert time.monotonic() - start < 15  # it did not wait out the request's 30 s
        assert idle.recv(100) == b""  # the server closed it
    finally:
        idle.close()
        busy.close()
        stop_server(srv.proc)
    assert "Traceback" not in srv.stderr()


def test_workers_share_the_ports(tmp_path: Path, certs: pki.LabCerts) -> None:
    srv = start_server(tmp_path, certs, ECHO_WORKERS="2")
    try:
        for _ in range(20):
            out = raw_exchange(srv.ports["http"], b"GET /health HTTP/1.0\r\n\r\n")
            assert out.endswith(b"OK")
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(srv.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) == 1
    finally:
        assert stop_server(srv.proc) == 0
    for pid in children:  # the worker went with its parent
        deadline = time.monotonic() + 30  # the most it may take; it goes on as soon as the worker is gone
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text()

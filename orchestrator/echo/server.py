"""Listeners, configuration from the environment, readiness line and clean shutdown."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .connection import Connection
from .handler import Context, Echo
from .http1 import H1Session
from .session import Conn, Kind, Session, Sessions, Shared
from .tlsinfo import ServerTLS

DISABLED = "off"


@dataclass(frozen=True)
class EchoConfig:
    """echo-basic's environment, plus a bind address (it binds every address: ":PORT").

    A port of "0" asks the kernel for a free one; "off" (an extension) disables that listener.
    """

    http_port: str = "3000"
    h2c_port: str = "3001"
    https_port: str = "8443"
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    bind: str = "0.0.0.0"
    context: Context = Context()
    log_requests: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EchoConfig:
        env = os.environ if env is None else env
        return cls(
            http_port=env.get("HTTP_PORT") or "3000",
            h2c_port=env.get("H2C_PORT") or "3001",
            https_port=env.get("HTTPS_PORT") or "8443",
            tls_cert=env.get("TLS_SERVER_CERT", ""),
            tls_key=env.get("TLS_SERVER_PRIVKEY", ""),
            tls_client_ca=env.get("TLS_CLIENT_CACERTS", ""),
            bind=env.get("ECHO_BIND_ADDRESS") or "0.0.0.0",
            context=Context(
                namespace=env.get("NAMESPACE", ""),
                ingress=env.get("INGRESS_NAME", ""),
                service=env.get("SERVICE_NAME", ""),
                pod=env.get("POD_NAME", ""),
            ),
            log_requests=env.get("ECHO_LOG_REQUESTS", "") not in ("", "0", "false"),
        )

    @property
    def https_enabled(self) -> bool:
        # echo-basic serves HTTPS only when both the certificate and the key are given.
        return bool(self.tls_cert and self.tls_key) and self.https_port != DISABLED


Listener = tuple[Kind, socket.socket]


def bind_listeners(config: EchoConfig) -> list[Listener]:
    """Bind every enabled port (HTTPS first), or raise OSError and leave nothing bound."""
    plan: list[tuple[Kind, str]] = [("https", config.https_port)] if config.https_enabled else []
    plan += [("http", config.http_port), ("h2c", config.h2c_port)]
    bound: list[Listener] = []
    try:
        for kind, port in plan:
            if port != DISABLED:
                bound.append((kind, _listen(config.bind, int(port))))
    except (OSError, ValueError):
        for _, sock in bound:
            sock.close()
        raise
    return bound


def _h2_session(conn: Conn, upgrade: Any) -> Session:
    from .http2 import H2Session  # h2 is imported by the first HTTP/2 connection, not at start

    return H2Session(conn, upgrade)


class EchoServer:
    def __init__(self, config: EchoConfig) -> None:
        self.config = config
        tls = None
        if config.https_enabled:
            tls = ServerTLS(config.tls_cert, config.tls_key, config.tls_client_ca)
        self.tls = tls
        self.shared = Shared(Echo(config.context), tls, config.log_requests, Sessions(H1Session, _h2_session))
        self.servers: list[asyncio.Server] = []
        self.ports: dict[str, int] = {}

    async def start(self, listeners: list[Listener] | None = None) -> None:
        loop = asyncio.get_running_loop()
        for kind, sock in listeners if listeners is not None else bind_listeners(self.config):
            server = await loop.create_server(
                self._factory(kind),
                sock=sock,
                ssl=self.tls.context if kind == "https" and self.tls else None,
                ssl_handshake_timeout=10.0 if kind == "https" else None,
            )
            self.servers.append(server)
            self.ports[kind] = sock.getsockname()[1]

    def _factory(self, kind: Kind) -> Callable[[], Connection]:
        return lambda: Connection(self.shared, kind)

    def ready_line(self) -> str:
        ports = " ".join(f"{kind}={port}" for kind, port in self.ports.items())
        return f"echo-basic listening {ports} bind={self.config.bind}"

    async def stop(self, grace: float = 1.0) -> None:
        for server in self.servers:
            server.close()
        for conn in list(self.shared.connections):
            conn.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.shared.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.shared.connections):
            conn.abort()
        for server in self.servers:
            await server.wait_closed()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _quiet_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A client that sends garbage or hangs up mid-handshake is not worth a traceback."""
    error = context.get("exception")
    if isinstance(error, (ssl.SSLError, ConnectionError, TimeoutError, EOFError)):
        return
    # CPython 3.11's socket transport: when its buffer drains while closing, it resumes the protocol
    # (TLS, which writes at once; a client that hung up fails that send and schedules the teardown),
    # then tears the connection down itself as well: the scheduled teardown finds nothing left. The
    # same double teardown as python/cpython#156512.
    if isinstance(error, AttributeError) and "._call_connection_lost(" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


async def serve(
    config: EchoConfig,
    listeners: list[Listener] | None = None,
    announce: bool = True,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT; then stop accepting, close connections and return."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_handler)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = EchoServer(config)
    await server.start(listeners)
    if announce:
        print(server.ready_line(), flush=True)
    try:
        await stop.wait()
    finally:
        if on_stop is not None:
            on_stop()
        await server.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run_workers(config: EchoConfig, workers: int) -> None:
    """Serve from `workers` processes that share the listening sockets (one accept queue)."""
    listeners = bind_listeners(config)
    children: list[int] = []
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _die_with_parent()
                asyncio.run(serve(config, listeners, announce=False))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def stop_children() -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    try:
        asyncio.run(serve(config, listeners, on_stop=stop_children))
    finally:
        stop_children()
        for pid in children:
            os.waitpid(pid, 0)


def _die_with_parent() -> None:
    """A worker must not outlive the process its supervisor knows (Linux PR_SET_PDEATHSIG)."""
    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def tune_malloc() -> bool:
    """Keep glibc from mmap()ing and unmapping each ~256 KiB buffer of a large response.

    Every TLS record batch and joined HTTP/2 frame batch is a fresh bytes object above glibc's
    default 128 KiB mmap threshold; the page faults of mapping them again cost more CPU than the
    encryption (measured: 2.8 ms -> 1.5 ms of CPU per MiB over HTTP/2). Returns False where the
    C library has no such knob.
    """
    m_trim_threshold, m_mmap_threshold = -1, -3
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok_mmap: bool = mallopt(m_mmap_threshold, 4 << 20) == 1
    ok_trim: bool = mallopt(m_trim_threshold, 32 << 20) == 1
    return ok_mmap and ok_trim


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m orchestrator.echo",
        description="echo-basic compatible echo server (configured by its environment variables)",
    )
    parser.add_argument(
        "--bind", help="address to listen on (env ECHO_BIND_ADDRESS, default 0.0.0.0)"
    )
    parser.add_argument("--http-port", help="env HTTP_PORT (default 3000)")
    parser.add_argument("--h2c-port", help="env H2C_PORT (default 3001)")
    parser.add_argument("--https-port", help="env HTTPS_PORT (default 8443)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    for key, value in (
        ("ECHO_BIND_ADDRESS", args.bind),
        ("HTTP_PORT", args.http_port),
        ("H2C_PORT", args.h2c_port),
        ("HTTPS_PORT", args.https_port),
    ):
        if value:
            env[key] = value
    config = EchoConfig.from_env(env)
    tune_malloc()
    try:
        workers = int(env.get("ECHO_WORKERS") or "1")
        if workers > 1:
            run_workers(config, workers)
        else:
            asyncio.run(serve(config))
    except (OSError, ssl.SSLError, ValueError) as err:
        print(f"echo: {err}", file=sys.stderr, flush=True)
        return 1
    return 0

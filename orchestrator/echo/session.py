"""What a connection and its HTTP session see of each other: the connection's side as a Protocol (so
http1 and http2 need not import connection), the session's, and what every connection of a server
shares, including the session types it speaks (handed in by the server: connection imports neither)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .handler import Echo, HttpDate
from .tlsinfo import ServerTLS, TLSInfo

Kind = Literal["http", "h2c", "https"]


class Session(Protocol):
    def data_received(self, data: bytes) -> None: ...

    def connection_lost(self) -> None: ...


class Conn(Protocol):
    """The connection as a session uses it: flow-controlled writes, its TLS facts, its tasks."""

    shared: Shared
    kind: Kind
    session: Session | None
    tls: TLSInfo | None
    tls_json: str
    peer: str

    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]: ...

    def start_h2(self, upgrade: Any = None) -> None: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class Sessions:
    h1: Callable[[Conn, bool], Session]  # (connection, on the h2c port)
    h2: Callable[[Conn, Any], Session]  # (connection, the HTTP/1.1 upgrade it continues, or None)


class Shared:
    """What every connection of one server uses."""

    def __init__(self, echo: Echo, tls: ServerTLS | None, log_requests: bool, sessions: Sessions) -> None:
        self.echo = echo
        self.tls = tls
        self.date = HttpDate()
        self.log_requests = log_requests
        self.sessions = sessions
        self.connections: set[Conn] = set()

"""One accepted connection: picks HTTP/1.1 or HTTP/2 and gives sessions flow-controlled writes."""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Coroutine
from typing import Any, cast

from .handler import tls_json
from .session import Kind, Session, Shared
from .tlsinfo import TLSInfo

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class ConnectionLost(Exception):
    pass


class Connection(asyncio.Protocol):
    def __init__(self, shared: Shared, kind: Kind) -> None:
        self.shared = shared
        self.kind = kind
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.tls: TLSInfo | None = None
        self.tls_json = ""
        self.peer = ""
        self.closed = False
        self._paused = False
        self._resumed: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sniffed = b""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike
        self.transport = cast(asyncio.Transport, transport)
        self.shared.connections.add(self)
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        if self.kind == "https":
            sslobj = self.transport.get_extra_info("ssl_object")
            if isinstance(sslobj, ssl.SSLObject) and self.shared.tls is not None:
                self.tls = self.shared.tls.info(sslobj)
                self.tls_json = tls_json(self.tls)
            if self.tls is not None and self.tls.negotiated_protocol == "h2":
                self.start_h2()
            else:
                self.start_h1()
        elif self.kind == "http":
            self.start_h1()
        # h2c: wait for the first bytes to tell prior-knowledge HTTP/2 from HTTP/1.1

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.data_received(data)
            return
        self._sniffed += data
        if self._sniffed[: len(H2_PREFACE)] == H2_PREFACE[: len(self._sniffed)]:
            if len(self._sniffed) < len(H2_PREFACE):
                return
            self.start_h2()
        else:
            self.start_h1(h2c_port=True)
        data, self._sniffed = self._sniffed, b""
        assert self.session is not None
        self.session.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.shared.connections.discard(self)
        if self.session is not None:
            self.session.connection_lost()
        for task in list(self._tasks):
            task.cancel()
        self._wake_writers()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writers()

    # for sessions

    def start_h1(self, h2c_port: bool = False) -> None:
        self.session = self.shared.sessions.h1(self, h2c_port)

    def start_h2(self, upgrade: Any = None) -> None:
        self.session = self.shared.sessions.h2(self, upgrade)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        transport = self.transport
        if transport is None or self.closed:
            return
        if transport.is_closing():
            # a failed send closed it; connection_lost comes in a later loop iteration
            self.closed = True
            return
        transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport's buffer is over its high-water mark.

        Always yields once: after a failed send, a TLS transport reports the loss only in a
        later loop iteration, and a writer that never yields would write on into the void.
        """
        await asyncio.sleep(0)
        if self.transport is not None and self.transport.is_closing():
            self.closed = True
        while self._paused and not self.closed:
            if self._resumed is None or self._resumed.done():
                self._resumed = asyncio.get_running_loop().create_future()
            await self._resumed
        if self.closed:
            raise ConnectionLost()

    def shutdown(self) -> None:
        """Server stopping: tell an HTTP/2 peer with GOAWAY, then close after the writes."""
        shutdown = getattr(self.session, "shutdown", None)
        if callable(shutdown):
            shutdown()
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, ConnectionLost):
            print(f"echo: connection {self.peer}: {error!r}", file=sys.stderr, flush=True)
            self.abort()

    def _wake_writers(self) -> None:
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)

"""HTTP/2 for one connection, on the `h2` state machine.

Small responses are answered inside data_received and flushed once per batch of frames. Large
ones (and delayed ones) go to a task that sends as much as the peer's flow-control windows allow,
waits for WINDOW_UPDATE, and waits for the transport to drain.
"""

from __future__ import annotations

import asyncio
import struct

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from .handler import Request, Response, canonical_header_cached
from .session import Conn

MAX_CONCURRENT_STREAMS = 250  # what a Go server announces (the workshop's curl prints it)
WINDOW = 1 << 20  # what we let a client send before we acknowledge; bodies are dropped anyway
SEND_CHUNK = 256 * 1024  # bytes handed to the transport at once
_NO_BODY_STATUS = frozenset({204, 304})
# 24-bit length (as 16 + 8 bits), type 0 (DATA), flags, stream id: RFC 9113 section 4.1
_DATA_HEADER = struct.Struct(">HBBBL")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding"})

_CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_outbound_headers=False,  # we only send lower-case, valid names
    normalize_outbound_headers=False,
)


class H2Session:
    def __init__(self, conn: Conn, upgrade: tuple[bytes, Request] | None = None) -> None:
        self.conn = conn
        self.routes = conn.kind != "h2c"
        self.h2 = h2.connection.H2Connection(config=_CONFIG)
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 20,
            },
        )
        self.heads: dict[int, list[tuple[bytes, bytes]]] = {}
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.done = False
        self.fast_data = isinstance(getattr(self.h2, "streams", None), dict) and isinstance(
            getattr(self.h2, "outbound_flow_control_window", None), int
        )
        if upgrade is not None:
            settings, request = upgrade
            self.h2.initiate_upgrade_connection(settings)
        else:
            self.h2.initiate_connection()
        self.h2.increment_flow_control_window(WINDOW - 65535)
        self.flush()
        if upgrade is not None:
            self._respond(1, request)
            self.flush()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.conn.write(data)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._fail()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.heads[event.stream_id] = event.headers
            elif isinstance(event, h2.events.DataReceived):
                if event.flow_controlled_length:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers = self.heads.pop(event.stream_id, None)
                if headers is not None:
                    self._on_request(event.stream_id, headers)
            elif isinstance(event, h2.events.StreamReset):
                self.heads.pop(event.stream_id, None)
                self._wake(event.stream_id)
            elif isinstance(event, h2.events.WindowUpdated):
                self._wake(event.stream_id)
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                self._wake(0)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.done = True
                self.flush()
                self.conn.close()
                return
        self.flush()

    def connection_lost(self) -> None:
        self.done = True
        self._wake(0)

    def shutdown(self) -> None:
        if not self.done:
            self.done = True
            self.h2.close_connection(h2.errors.ErrorCodes.NO_ERROR)
            self.flush()

    def _fail(self) -> None:
        self.done = True
        try:
            self.h2.close_connection(h2.errors.ErrorCodes.PROTOCOL_ERROR)
        except h2.exceptions.ProtocolError:
            pass
        self.flush()
        self.conn.close()

    def _on_request(self, stream_id: int, raw: list[tuple[bytes, bytes]]) -> None:
        method = path = authority = ""
        headers: dict[str, list[str]] = {}
        host_header = ""
        for name_b, value_b in raw:
            name = name_b.decode("latin-1")
            value = value_b.decode("utf-8", "replace")
            if name[0] == ":":
                if name == ":method":
                    method = value
                elif name == ":path":
                    path = value
                elif name == ":authority":
                    authority = value
                continue
            if name == "host":
                host_header = value
                continue
            key = canonical_header_cached(name)
            if key in headers:
                headers[key].append(value)
            else:
                headers[key] = [value]
        if not method or not path:
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        cookies = headers.get("Cookie")
        if cookies is not None and len(cookies) > 1:
            headers["Cookie"] = ["; ".join(cookies)]  # as Go's HTTP/2 server joins them
        req = Request(
            method=method,
            target=path,
            host=authority or host_header,
            proto="HTTP/2.0",
            headers=headers,
            tls=self.conn.tls,
            tls_json=self.conn.tls_json,
        )
        if self.conn.shared.log_requests:
            print(f"Echoing back request made to {path} to client ({self.conn.peer})")
        self._respond(stream_id, req)

    def _respond(self, stream_id: int, req: Request) -> None:
        resp = self.conn.shared.echo.handle(req, routes=self.routes)
        if resp.abort:
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            return
        body = resp.body
        if req.method == "HEAD" or resp.status in _NO_BODY_STATUS:
            body = b""
        if resp.delay > 0 or len(body) > self._sendable_now(stream_id):
            self.conn.spawn(self._respond_later(stream_id, req, resp, body))
            return
        self.h2.send_headers(stream_id, self._headers(resp, len(resp.body)), end_stream=not body)
        if body:
            self.h2.send_data(stream_id, body, end_stream=True)

    def _write_data_frames(self, stream_id: int, data: memoryview) -> None:
        """DATA frames (never the stream's last) framed here and written in one piece.

        h2 would copy each 16 KiB frame three times and cost ~15 us of Python per frame; the
        flow-control windows it keeps are charged the same way its own send_data charges them.
        """
        stream = self.h2.streams[stream_id]
        size = len(data)
        frame = self.h2.max_outbound_frame_size
        parts: list[bytes | memoryview] = []
        for start in range(0, size, frame):
            piece = data[start : start + frame]
            parts.append(_DATA_HEADER.pack(len(piece) >> 8, len(piece) & 0xFF, 0, 0, stream_id))
            parts.append(piece)
        self.h2.outbound_flow_control_window -= size
        stream.outbound_flow_control_window -= size
        self.flush()  # frames h2 has queued go first
        self.conn.write(b"".join(parts))

    def _sendable_now(self, stream_id: int) -> int:
        return min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)

    async def _respond_later(
        self, stream_id: int, req: Request, resp: Response, body: bytes | memoryview
    ) -> None:
        try:
            if resp.delay > 0:
                await asyncio.sleep(resp.delay)
            self.h2.send_headers(
                stream_id, self._headers(resp, len(resp.body)), end_stream=not body
            )
            self.flush()
            view = memoryview(body)
            offset, total = 0, len(view)
            while offset < total:
                window = self.h2.local_flow_control_window(stream_id)  # raises if reset
                if window <= 0:
                    await self._window(stream_id)
                    continue
                end = offset + min(window, total - offset, SEND_CHUNK)
                frame = self.h2.max_outbound_frame_size
                # h2 itself sends the stream's last frame, so that its END_STREAM is tracked.
                fast_end = min(end, total - frame)
                if self.fast_data and fast_end > offset:
                    self._write_data_frames(stream_id, view[offset:fast_end])
                    offset = fast_end
                else:
                    while offset < end:
                        size = min(frame, end - offset)
                        last = offset + size == total
                        self.h2.send_data(stream_id, view[offset : offset + size], end_stream=last)
                        offset += size
                    self.flush()
                await self.conn.drain()
        except h2.exceptions.StreamClosedError:
            return  # the client reset the stream
        except h2.exceptions.ProtocolError:
            if not self.done:
                raise

    async def _window(self, stream_id: int) -> None:
        if self.done:
            raise h2.exceptions.StreamClosedError(stream_id)
        future = self.waiting.get(stream_id)
        if future is None or future.done():
            future = asyncio.get_running_loop().create_future()
            self.waiting[stream_id] = future
        await future

    def _wake(self, stream_id: int) -> None:
        """A window grew (stream_id 0: the connection's, or all of them)."""
        if stream_id == 0:
            waiting, self.waiting = self.waiting, {}
        else:
            future = self.waiting.pop(stream_id, None)
            waiting = {stream_id: future} if future is not None else {}
        for future in waiting.values():
            if not future.done():
                future.set_result(None)

    def _headers(self, resp: Response, length: int) -> list[tuple[str, str]]:
        headers = [(":status", str(resp.status))]
        for name, value in sorted(resp.headers):
            lower = name.lower()
            if lower not in _HOP_BY_HOP and _valid_name(lower):
                headers.append((lower, value))
        if resp.status not in _NO_BODY_STATUS:
            headers.append(("content-length", str(length)))
        headers.append(("date", self.conn.shared.date.now()))
        return headers


_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_valid_names: dict[str, bool] = {}


def _valid_name(name: str) -> bool:
    """A lower-case token that HTTP/2 can carry (X-Echo-Set-Header can ask for anything)."""
    valid = _valid_names.get(name)
    if valid is None:
        valid = bool(name) and all(c in _TOKEN for c in name)
        if len(_valid_names) < 4096:
            _valid_names[name] = valid
    return valid

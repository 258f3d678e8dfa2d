"""HTTP/1.x for one connection: keep-alive, pipelining, Content-Length and chunked request bodies.

Request heads and bodies are parsed incrementally from one buffer; bodies are read and dropped
(echo-basic never looks at them). Responses follow Go's net/http: headers sorted, then
Connection, Date and Content-Length.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from enum import Enum

from .handler import Request, Response, canonical_header_cached, reason
from .session import Conn

MAX_HEAD = 1 << 20  # Go's http.DefaultMaxHeaderBytes
MAX_LINE = 4096  # a chunk-size or trailer line
STREAM_ABOVE = 256 * 1024  # bodies larger than this are written in pieces, with back-pressure
PIECE = 256 * 1024
PAUSE_INPUT_ABOVE = 1 << 20  # pipelined input buffered while a response is streaming
_METHOD_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_NO_BODY_STATUS = frozenset({204, 304})


class State(Enum):
    HEAD = 1
    BODY = 2
    CHUNK_SIZE = 3
    CHUNK_DATA = 4
    CHUNK_END = 5
    TRAILER = 6


class BadRequest(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class H1Session:
    def __init__(self, conn: Conn, h2c_port: bool = False) -> None:
        self.conn = conn
        self.h2c_port = h2c_port
        self.buf = bytearray()
        self.state = State.HEAD
        self.remaining = 0
        self.request: Request | None = None
        self.keep_alive = True
        self.upgrade_settings: bytes | None = None
        self.busy = False
        self.done = False

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.buf += data
        if self.busy:
            if len(self.buf) > PAUSE_INPUT_ABOVE:
                self.conn.pause_reading()
            return
        try:
            self._process()
        except BadRequest as err:
            self._reject(err)

    def connection_lost(self) -> None:
        self.done = True

    def _process(self) -> None:
        buf = self.buf
        while buf and not self.busy and not self.done:
            if self.state is State.HEAD:
                if not self._read_head():
                    return
            elif self.state is State.BODY:
                take = min(self.remaining, len(buf))
                del buf[:take]
                self.remaining -= take
                if self.remaining == 0:
                    self._complete()
            elif self.state is State.CHUNK_SIZE:
                line = self._line()
                if line is None:
                    return
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise BadRequest(400, "invalid chunk length") from None
                if size < 0 or not size_text.isalnum():
                    raise BadRequest(400, "invalid chunk length")
                self.remaining = size
                self.state = State.CHUNK_DATA if size else State.TRAILER
            elif self.state is State.CHUNK_DATA:
                take = min(self.remaining, len(buf))
                del buf[:take]
                self.remaining -= take
                if self.remaining == 0:
                    self.state = State.CHUNK_END
            elif self.state is State.CHUNK_END:
                line = self._line()
                if line is None:
                    return
                if line:
                    raise BadRequest(400, "malformed chunked encoding")
                self.state = State.CHUNK_SIZE
            elif self.state is State.TRAILER:
                line = self._line()
                if line is None:
                    return
                if not line:
                    self._complete()
        if self.state is State.BODY and self.remaining == 0 and not (self.busy or self.done):
            self._complete()  # a request without a body needs no more bytes

    def _line(self) -> bytes | None:
        end = self.buf.find(b"\n")
        if end < 0:
            if len(self.buf) > MAX_LINE:
                raise BadRequest(400, "line too long")
            return None
        line = bytes(self.buf[:end]).rstrip(b"\r")
        del self.buf[: end + 1]
        return line

    def _read_head(self) -> bool:
        buf = self.buf
        while buf[:2] == b"\r\n" or buf[:1] == b"\n":  # stray CRLFs between requests
            del buf[: 2 if buf[:1] == b"\r" else 1]
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head_end, body_start = end, end + 4
        else:
            end = buf.find(b"\n\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise BadRequest(431, "Request Header Fields Too Large")
                return False
            head_end, body_start = end, end + 2
        if head_end > MAX_HEAD:
            raise BadRequest(431, "Request Header Fields Too Large")
        head = bytes(buf[:head_end])
        del buf[:body_start]
        self._parse_head(head)
        return True

    def _parse_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\n")
        method, sep1, rest = lines[0].rstrip("\r").partition(" ")
        target, sep2, proto = rest.partition(" ")
        if not sep1 or not sep2 or not method or not target or " " in proto:
            raise BadRequest(400, "malformed HTTP request")
        if any(c not in _METHOD_CHARS for c in method):
            raise BadRequest(400, "invalid method")
        if proto not in ("HTTP/1.1", "HTTP/1.0"):
            if proto.startswith("HTTP/1.") and proto[7:].isdigit():
                proto = "HTTP/1.1"
            else:
                raise BadRequest(505 if proto.startswith("HTTP/") else 400, "bad protocol")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
            raise BadRequest(400, "invalid request target")
        headers: dict[str, list[str]] = {}
        for raw in lines[1:]:
            line = raw.rstrip("\r")
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip() or " " in name or "\t" in name:
                raise BadRequest(400, "malformed MIME header line")
            value = value.strip(" \t")
            if any(ord(c) < 0x20 and c != "\t" for c in value):
                raise BadRequest(400, "invalid header value")
            # Header values are bytes on the wire; Go keeps them and its JSON encoder shows
            # UTF-8, so decode as UTF-8 (invalid bytes become U+FFFD, as Go's encoder does).
            value = value.encode("latin-1").decode("utf-8", "replace")
            key = canonical_header_cached(name)
            if key in headers:
                headers[key].append(value)
            else:
                headers[key] = [value]
        self._start_request(method, target, proto, headers)

    def _start_request(
        self, method: str, target: str, proto: str, headers: dict[str, list[str]]
    ) -> None:
        hosts = headers.pop("Host", [])
        if len(hosts) > 1:
            raise BadRequest(400, "too many Host headers")
        if proto == "HTTP/1.1" and not hosts:
            raise BadRequest(400, "missing required Host header")
        host = hosts[0] if hosts else ""
        if target.startswith(("http://", "https://")):
            host = target.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
        connection = _tokens(headers.get("Connection", ()))
        if proto == "HTTP/1.1":
            self.keep_alive = "close" not in connection
        else:
            self.keep_alive = "keep-alive" in connection
        self.state = State.BODY
        self.remaining = 0
        te = headers.get("Transfer-Encoding")
        if te is not None and proto == "HTTP/1.1":
            if len(te) != 1 or te[0].lower() != "chunked":
                raise BadRequest(501, "Unsupported transfer encoding")
            del headers["Transfer-Encoding"]  # Go moves it to r.TransferEncoding
            headers.pop("Content-Length", None)
            self.state = State.CHUNK_SIZE
        elif "Content-Length" in headers:
            lengths = {v.strip() for v in headers["Content-Length"]}
            if len(lengths) != 1:
                raise BadRequest(400, "conflicting Content-Length")
            text = lengths.pop()
            if not text.isdigit() or len(text) > 18:
                raise BadRequest(400, "bad Content-Length")
            self.remaining = int(text)
        self.upgrade_settings = None
        if self.h2c_port and "h2c" in _tokens(headers.get("Upgrade", ())):
            settings = headers.get("Http2-Settings")
            if settings is not None and "http2-settings" in connection and len(settings) == 1:
                self.upgrade_settings = settings[0].encode("latin-1")
        if self.state is not State.BODY or self.remaining:
            if "100-continue" in _tokens(headers.get("Expect", ())) and proto == "HTTP/1.1":
                self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.request = Request(
            method=method,
            target=target,
            host=host,
            proto=proto,
            headers=headers,
            tls=self.conn.tls,
            tls_json=self.conn.tls_json,
        )

    def _complete(self) -> None:
        req = self.request
        assert req is not None
        self.request = None
        self.state = State.HEAD
        if self.conn.shared.log_requests:
            print(f"Echoing back request made to {req.target} to client ({self.conn.peer})")
        if self.upgrade_settings is not None:
            self._upgrade(req, self.upgrade_settings)
            return
        if self.h2c_port and req.headers.get("Upgrade", [""])[0] != "h2c":
            # echo-basic's h2c port answers plain HTTP/1.1 with this
            body = b"Expected h2c request"
            resp = Response(400, [("Content-Type", "text/plain; charset=utf-8")], body)
        else:
            resp = self.conn.shared.echo.handle(req, routes=not self.h2c_port)
        if resp.abort:
            self.done = True
            self.conn.abort()
            return
        head_only = req.method == "HEAD"
        if resp.delay > 0 or (len(resp.body) > STREAM_ABOVE and not head_only):
            self.busy = True
            self.conn.spawn(self._respond_later(req, resp))
            return
        self._write_response(req, resp)

    def _write_response(self, req: Request, resp: Response) -> None:
        body = resp.body
        allowed = resp.status not in _NO_BODY_STATUS and resp.status >= 200
        if req.method == "HEAD" or not allowed:
            self.conn.write(self._head(req, resp, len(body) if allowed else -1))
        elif len(body) <= 16384:
            self.conn.write(self._head(req, resp, len(body)) + body)
        else:
            self.conn.write(self._head(req, resp, len(body)))
            self.conn.write(body)
        self._after_response()

    async def _respond_later(self, req: Request, resp: Response) -> None:
        if resp.delay > 0:
            await asyncio.sleep(resp.delay)
        if req.method == "HEAD" or len(resp.body) <= STREAM_ABOVE:
            self._write_response(req, resp)
        else:
            body = memoryview(resp.body)
            self.conn.write(self._head(req, resp, len(body)))
            for offset in range(0, len(body), PIECE):
                await self.conn.drain()
                self.conn.write(body[offset : offset + PIECE])
            self._after_response()
        self.busy = False
        if self.done:
            return
        self.conn.resume_reading()
        try:
            self._process()
        except BadRequest as err:
            self._reject(err)

    def _after_response(self) -> None:
        if not self.keep_alive:
            self.done = True
            self.conn.close()

    def _head(self, req: Request, resp: Response, length: int) -> bytes:
        status = resp.status
        lines = [f"HTTP/1.1 {status} {reason(status)}\r\n"]
        for name, value in sorted(resp.headers, key=_first):
            lines.append(f"{name}: {value}\r\n")
        if not self.keep_alive:
            lines.append("Connection: close\r\n")
        elif req.proto == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append(f"Date: {self.conn.shared.date.now()}\r\n")
        if length > 0 or (length == 0 and req.method != "HEAD"):
            lines.append(f"Content-Length: {length}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1", "replace")

    def _upgrade(self, req: Request, settings: bytes) -> None:
        """`Upgrade: h2c`: answer 101, then serve the same request as HTTP/2 stream 1."""
        try:
            base64.urlsafe_b64decode(settings + b"=" * (-len(settings) % 4))
        except (binascii.Error, ValueError):
            raise BadRequest(400, "bad HTTP2-Settings") from None
        self.done = True
        self.conn.write(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        )
        rest = bytes(self.buf)
        self.buf.clear()
        req.proto = "HTTP/2.0"
        self.conn.start_h2(upgrade=(settings, req))
        if rest and self.conn.session is not None:
            self.conn.session.data_received(rest)

    def _reject(self, err: BadRequest) -> None:
        """Go's answer to a request it cannot parse: a short text, then close."""
        self.done = True
        self.busy = True
        text = f"{err.status} {reason(err.status)}"
        if err.status == 400 and err.text:
            text += ": " + err.text
        self.conn.write(
            (
                f"HTTP/1.1 {err.status} {reason(err.status)}\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Connection: close\r\n\r\n" + text
            ).encode("latin-1", "replace")
        )
        self.conn.close()


def _first(item: tuple[str, str]) -> str:
    return item[0]


def _tokens(values: list[str] | tuple[str, ...]) -> set[str]:
    return {t.strip().lower() for v in values for t in v.split(",")}

"""What echo-basic answers, independent of HTTP version: routes, the JSON body, extra headers."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qs

from .tlsinfo import TLSInfo

MAX_BYTES = 64 * 1024 * 1024
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

_STATUS_RE = re.compile(r"^/status/(\d\d\d)$")
_BYTES_RE = re.compile(r"^/bytes/(\d{1,12})$")
_DURATION_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")
_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0
}  # fmt: skip
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_encode_str = json.encoder.encode_basestring


@dataclass(frozen=True)
class Context:
    namespace: str = ""
    ingress: str = ""
    service: str = ""
    pod: str = ""


@dataclass
class Request:
    method: str
    target: str  # the request-target as sent (Go's r.RequestURI): echoed as "path"
    host: str
    proto: str  # "HTTP/1.1", "HTTP/1.0" or "HTTP/2.0", as Go's r.Proto
    headers: dict[str, list[str]]  # canonical names, Host excluded, as Go's r.Header
    tls: TLSInfo | None = None
    tls_json: str = ""  # the pre-encoded "tls" member for this connection, if any


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | memoryview = b""
    delay: float = 0.0
    abort: bool = False  # Go's handler panicked: drop the connection (HTTP/1) or reset the stream


class Echo:
    def __init__(self, context: Context) -> None:
        self.context = context
        self._context_json = (
            f' "namespace": {_quote(context.namespace)},\n'
            f' "ingress": {_quote(context.ingress)},\n'
            f' "service": {_quote(context.service)},\n'
            f' "pod": {_quote(context.pod)}'
        )
        self._pattern = b""

    def handle(self, req: Request, routes: bool = True) -> Response:
        """echo-basic's mux (health, status, echo) plus /bytes/N; routes=False: echo only, as
        on its h2c port."""
        if routes:
            path, _, query = req.target.partition("?")
            path = path.replace("//", "/")  # echo-basic's preserveSlashes wrapper
            if path == "/health":
                return Response(200, [("Content-Type", TEXT_TYPE)], b"OK")
            if path.startswith("/status/"):
                return _status(req.target)
            if path == "/status":
                return _redirect("/status/" + ("?" + query if query else ""), req.method)
            if path.startswith("/bytes/"):
                return self._bytes(path)
        return self.echo(req)

    def echo(self, req: Request) -> Response:
        delay = 0.0
        query = req.target.partition("?")[2]
        if query and "delay=" in query:
            values = parse_qs(query, keep_blank_values=True).get("delay", [""])
            if values[0]:
                try:
                    delay = max(0.0, parse_go_duration(values[0]))
                except ValueError as err:
                    return error_response(str(err), 500)
        headers = echo_set_headers(req.headers.get("X-Echo-Set-Header", ()))
        headers += [("Content-Type", JSON_TYPE), ("X-Content-Type-Options", "nosniff")]
        return Response(200, headers, self.body(req).encode("utf-8"), delay=delay)

    def body(self, req: Request) -> str:
        """The JSON document, formatted as Go's json.MarshalIndent(v, "", " ") formats it."""
        tls = req.tls_json
        if req.tls is not None and not tls:
            tls = tls_json(req.tls)
        text = (
            "{\n"
            f' "path": {_quote(req.target)},\n'
            f' "host": {_quote(req.host)},\n'
            f' "method": {_quote(req.method)},\n'
            f' "proto": {_quote(req.proto)},\n'
            f' "headers": {_headers_json(req.headers)},\n'
            f"{self._context_json}{tls}\n"
            "}"
        )
        return go_escape(text)

    def _bytes(self, path: str) -> Response:
        match = _BYTES_RE.match(path)
        if not match:
            return error_response("usage: /bytes/N with 0 <= N <= %d" % MAX_BYTES, 400)
        size = int(match.group(1))
        if size > MAX_BYTES:
            return error_response(f"{size} bytes is over the limit of {MAX_BYTES}", 400)
        return Response(200, [("Content-Type", "application/octet-stream")], self.pattern(size))

    def pattern(self, size: int) -> memoryview:
        """size bytes of printable lines, sliced from one buffer that grows as needed."""
        if len(self._pattern) < size:
            line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_\n"
            capacity = max(size, 64 * 1024)
            capacity = 1 << (capacity - 1).bit_length()
            self._pattern = line * (min(capacity, MAX_BYTES) // len(line))
        return memoryview(self._pattern)[:size]


def tls_json(tls: TLSInfo) -> str:
    lines = [f'  "version": {_quote(tls.version)}']
    if tls.peer_certificates:
        certs = ",\n".join(f"   {_quote(c)}" for c in tls.peer_certificates)
        lines.append(f'  "peerCertificates": [\n{certs}\n  ]')
    lines.append(f'  "serverName": {_quote(tls.server_name)}')
    if tls.negotiated_protocol:  # omitempty in echo-basic
        lines.append(f'  "negotiatedProtocol": {_quote(tls.negotiated_protocol)}')
    lines.append(f'  "cipherSuite": {_quote(tls.cipher_suite)}')
    return ',\n "tls": {\n' + ",\n".join(lines) + "\n }"


def _headers_json(headers: dict[str, list[str]]) -> str:
    if not headers:
        return "{}"
    members = []
    for name in sorted(headers):  # Go's encoding/json sorts map keys
        values = headers[name]
        if values:
            items = ",\n".join(f"   {_quote(v)}" for v in values)
            members.append(f"  {_quote(name)}: [\n{items}\n  ]")
        else:
            members.append(f"  {_quote(name)}: []")
    return "{\n" + ",\n".join(members) + "\n }"


def _quote(value: str) -> str:
    return str(_encode_str(value))


def go_escape(text: str) -> str:
    """Go's encoder escapes <, > and & (HTML safety) and U+2028/U+2029; Python's does not."""
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = (
            text.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )
    return text


def error_response(message: str, status: int) -> Response:
    """echo-basic's processError: a compact JSON {"message": ...}."""
    body = go_escape(json.dumps({"message": message}, separators=(",", ":"), ensure_ascii=False))
    headers = [("Content-Type", JSON_TYPE), ("X-Content-Type-Options", "nosniff")]
    return Response(status, headers, body.encode("utf-8"))


def _redirect(location: str, method: str) -> Response:
    """What Go's ServeMux answers for "/status" when only "/status/" is registered."""
    body = f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
    headers = [("Content-Type", HTML_TYPE), ("Location", location)]
    return Response(301, headers, body if method == "GET" else b"")


def _status(target: str) -> Response:
    match = _STATUS_RE.match(target)  # on the raw target, so a query string makes it a 400
    code = int(match.group(1)) if match else 400
    if code < 100:
        return Response(0, abort=True)  # Go panics on WriteHeader(code < 100)
    if code < 200:
        code = 200  # Go sends the 1xx as informational, then 200 when the handler returns
    return Response(code)


def echo_set_headers(values: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """X-Echo-Set-Header: "Name: value, Other: value" adds those response headers."""
    merged: dict[str, str] = {}
    for entry in values:
        for item in entry.split(","):
            name, _, value = item.strip().partition(":")
            if name in merged:
                merged[name] += "," + value.strip()
            else:
                merged[name] = value.strip()
    return [(name, value) for name, value in merged.items() if name]


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: "user-agent" -> "User-Agent"."""
    if not name or any(c not in _TOKEN for c in name):
        return name
    out = []
    upper = True
    for c in name:
        out.append(c.upper() if upper else c.lower())
        upper = c == "-"
    return "".join(out)


_canonical_cache: dict[str, str] = {}


def canonical_header_cached(name: str) -> str:
    try:
        return _canonical_cache[name]
    except KeyError:
        result = canonical_header(name)
        if len(_canonical_cache) < 4096:
            _canonical_cache[name] = result
        return result


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string ("1.5s", "300ms", "1m30s"), with Go's error messages."""
    quoted = _go_quote(text)
    rest = text[1:] if text[:1] in ("+", "-") else text
    sign = -1.0 if text[:1] == "-" else 1.0
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0.0
    pos = 0
    while pos < len(rest):
        match = _DURATION_RE.match(rest, pos)
        assert match is not None  # the pattern matches the empty string
        number, unit = match.group(1), match.group(2)
        if number in ("", "."):
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {_go_quote(unit)} in duration {quoted}")
        total += float(number) * _UNITS[unit]
        pos = match.end()
    return sign * total


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"status code {status}"


class HttpDate:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._value = formatdate(second, usegmt=True)
        return self._value

"""TLS in the clear: ClientHello (SNI, ALPN, offered versions, random), ServerHello (version,
cipher), and alerts sent before encryption, decoded with scapy from one TCP direction's bytes.

Everything after the hellos is encrypted (TLS 1.3) or of no use to passthrough debugging, so a
direction stops being read at its first ChangeCipherSpec or application data record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.capture import scapy_setup

HANDSHAKE, ALERT, CHANGE_CIPHER_SPEC, APPLICATION_DATA = 22, 21, 20, 23
CLIENT_HELLO, SERVER_HELLO = 1, 2
HELLO_RETRY_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
MAX_RECORD = (1 << 14) + 2048


def looks_like_tls(data: bytes) -> bool:
    """A handshake record header: what a TLS connection's first bytes are, in either direction."""
    return len(data) >= 3 and data[0] == HANDSHAKE and data[1] == 3 and data[2] <= 4


def _version_name(v: int) -> str:
    scapy_setup.load()
    from scapy.layers.tls.basefields import _tls_version

    return str(_tls_version.get(v, f"0x{v:04x}"))


def _cipher_name(c: int) -> str:
    scapy_setup.load()
    from scapy.layers.tls.crypto.suites import _tls_cipher_suites

    return str(_tls_cipher_suites.get(c, f"0x{c:04x}"))


@dataclass(frozen=True)
class ClientHello:
    sni: str | None
    alpn: tuple[str, ...]
    versions: tuple[str, ...]  # what the client offers, best first (supported_versions, else legacy)
    random: str  # 32 bytes, hex
    cipher_suites: tuple[str, ...]
    kind: str = "ClientHello"

    def describe(self) -> str:
        return (f"SNI {self.sni or '(none)'}, ALPN {', '.join(self.alpn) or '(none)'}, "
                f"versions {', '.join(self.versions)}, {len(self.cipher_suites)} cipher suites, "
                f"random {self.random}")


@dataclass(frozen=True)
class ServerHello:
    version: str  # negotiated (supported_versions in TLS 1.3, else the legacy field)
    cipher: str
    random: str
    alpn: str | None = None  # only visible in TLS <= 1.2 (1.3 sends it encrypted)
    hello_retry: bool = False
    kind: str = "ServerHello"

    def describe(self) -> str:
        text = ("HelloRetryRequest, " if self.hello_retry else "") + f"version {self.version}, cipher {self.cipher}"
        return text + (f", ALPN {self.alpn}" if self.alpn else "")


@dataclass(frozen=True)
class TlsAlert:
    level: str
    description: str
    kind: str = "Alert"

    def describe(self) -> str:
        return f"{self.level} {self.description}"


TlsMessage = ClientHello | ServerHello | TlsAlert


def _ext(hello: Any, name: str) -> Any:
    for ext in getattr(hello, "ext", None) or []:
        if type(ext).__name__.startswith(name):
            return ext
    return None


def decode_client_hello(msg: bytes) -> ClientHello:
    scapy_setup.load()
    from scapy.layers.tls.handshake import TLSClientHello

    parse: Any = TLSClientHello
    hello = parse(msg)
    sni_ext = _ext(hello, "TLS_Ext_ServerName")
    names = [n.servername for n in getattr(sni_ext, "servernames", []) or [] if int(n.nametype) == 0]
    sni = names[0].decode(errors="replace") if names else None
    alpn_ext = _ext(hello, "TLS_Ext_ALPN")
    alpn = tuple(p.protocol.decode(errors="replace") if hasattr(p, "protocol") else bytes(p).decode(errors="replace")
                 for p in (getattr(alpn_ext, "protocols", None) or []))
    sv = _ext(hello, "TLS_Ext_SupportedVersion")
    offered = [int(v) for v in getattr(sv, "versions", None) or []]
    legacy = int.from_bytes(msg[4:6], "big")
    versions = tuple(_version_name(v) for v in offered if (v & 0x0F0F) != 0x0A0A) or (_version_name(legacy),)
    ciphers = tuple(_cipher_name(int(c)) for c in (hello.ciphers or []) if (int(c) & 0x0F0F) != 0x0A0A)
    return ClientHello(sni, alpn, versions, msg[6:38].hex(), ciphers)


def decode_server_hello(msg: bytes) -> ServerHello:
    scapy_setup.load()
    from scapy.layers.tls.handshake import TLSServerHello

    parse: Any = TLSServerHello
    hello = parse(msg)
    legacy = int.from_bytes(msg[4:6], "big")
    sv = _ext(hello, "TLS_Ext_SupportedVersion")
    version = int(sv.version) if sv is not None and getattr(sv, "version", None) is not None else legacy
    alpn_ext = _ext(hello, "TLS_Ext_ALPN")
    protos = getattr(alpn_ext, "protocols", None) or []
    alpn = None
    if protos:
        p = protos[0]
        alpn = (p.protocol if hasattr(p, "protocol") else bytes(p)).decode(errors="replace")
    random = msg[6:38]
    return ServerHello(_version_name(version), _cipher_name(int(hello.cipher)), random.hex(), alpn,
                       random == HELLO_RETRY_RANDOM)


def decode_alert(data: bytes) -> TlsAlert:
    scapy_setup.load()
    from scapy.layers.tls.record import _tls_alert_description, _tls_alert_level

    return TlsAlert(str(_tls_alert_level.get(data[0], data[0])), str(_tls_alert_description.get(data[1], data[1])))


def _one_hello(body: bytes) -> bool:
    return len(body) >= 4 and body[0] in (CLIENT_HELLO, SERVER_HELLO) \
        and int.from_bytes(body[1:4], "big") == len(body) - 4


@dataclass
class TlsReader:
    """One direction of a TLS connection: records -> handshake messages -> hellos and alerts."""

    buf: bytearray = field(default_factory=bytearray)
    handshake: bytearray = field(default_factory=bytearray)
    done: bool = False  # encrypted from here on, or not TLS at all
    after_ccs: bool = False  # TLS 1.2 encrypts from here; TLS 1.3 sends it for middleboxes only

    def feed(self, data: bytes) -> list[TlsMessage]:
        if self.done:
            return []
        self.buf += data
        out: list[TlsMessage] = []
        while len(self.buf) >= 5 and not self.done:
            ctype, major, length = self.buf[0], self.buf[1], int.from_bytes(self.buf[3:5], "big")
            if ctype not in (HANDSHAKE, ALERT, CHANGE_CIPHER_SPEC, APPLICATION_DATA) or major != 3 \
                    or length > MAX_RECORD:
                self.done = True
                break
            if len(self.buf) < 5 + length:
                break
            body = bytes(self.buf[5:5 + length])
            del self.buf[:5 + length]
            if ctype == HANDSHAKE and self.after_ccs and not _one_hello(body):
                self.done = True  # TLS 1.2's encrypted Finished
            elif ctype == HANDSHAKE:
                self.handshake += body
                out += self._messages()
            elif ctype == ALERT and length == 2:
                out.append(decode_alert(body))
            elif ctype == CHANGE_CIPHER_SPEC:
                # After a HelloRetryRequest, TLS 1.3 goes on with a second hello in the clear.
                self.after_ccs = True
            else:  # encrypted records: nothing more in the clear
                self.done = True
        if self.done:
            self.buf.clear()
        return out

    def _messages(self) -> list[TlsMessage]:
        out: list[TlsMessage] = []
        while len(self.handshake) >= 4:
            mtype, length = self.handshake[0], int.from_bytes(self.handshake[1:4], "big")
            if len(self.handshake) < 4 + length:
                break
            msg = bytes(self.handshake[:4 + length])
            del self.handshake[:4 + length]
            try:
                if mtype == CLIENT_HELLO:
                    out.append(decode_client_hello(msg))
                elif mtype == SERVER_HELLO:
                    hello = decode_server_hello(msg)
                    out.append(hello)
                    if hello.version == "TLS 1.3" and not hello.hello_retry:
                        self.done = True  # the rest of the server's flight is encrypted
            except Exception:  # noqa: BLE001 - a hello scapy cannot parse ends this direction
                self.done = True
        return out

"""The server's TLS context and the per-connection TLS facts echo-basic reports.

Go's crypto/tls decides what a Go server negotiates; OpenSSL is told to choose alike: TLS 1.2+,
ECDHE suites only for TLS 1.2, AES-128-GCM preferred (Go's choice on CPUs with AES instructions,
hence `TLS_AES_128_GCM_SHA256` in the workshop's sample), ALPN h2 then http/1.1.
"""

from __future__ import annotations

import ctypes
import ssl
import sys
import weakref
from dataclasses import dataclass

ALPN = ["h2", "http/1.1"]

# Go's default TLS 1.2 suites (ECDHE only since Go 1.22), in Go's preference order.
TLS12_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA",
        "ECDHE-RSA-AES256-SHA",
    ]
)
TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

# OpenSSL's TLS <= 1.2 names -> the IANA names Go's tls.CipherSuiteName returns. TLS 1.3 names
# are the same in both. A suite Go does not know is shown as Go shows it: "0x" + 4 hex digits.
IANA_NAMES: dict[str, str] = {
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-SHA": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "ECDHE-RSA-AES128-SHA": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "ECDHE-ECDSA-AES256-SHA": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "ECDHE-RSA-AES256-SHA": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "ECDHE-ECDSA-AES128-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "ECDHE-RSA-AES128-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "AES128-SHA256": "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "AES128-SHA": "TLS_RSA_WITH_AES_128_CBC_SHA",
    "AES256-SHA": "TLS_RSA_WITH_AES_256_CBC_SHA",
    "DES-CBC3-SHA": "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "ECDHE-RSA-DES-CBC3-SHA": "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
}


@dataclass(frozen=True)
class TLSInfo:
    version: str
    server_name: str
    negotiated_protocol: str
    cipher_suite: str
    peer_certificates: tuple[str, ...] = ()


class ServerTLS:
    """An SSLContext that remembers each connection's SNI (Python's ssl does not keep it)."""

    def __init__(self, cert_file: str, key_file: str, client_ca_file: str = "") -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert_file, key_file)
        ctx.set_ciphers(TLS12_CIPHERS)
        ctx.set_alpn_protocols(ALPN)
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION
        _set_tls13_ciphersuites(ctx, TLS13_CIPHERSUITES)
        if client_ca_file:
            # Go's tls.VerifyClientCertIfGiven: verify a client certificate if one is sent.
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(client_ca_file)
        self._sni: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()
        ctx.sni_callback = self._on_sni
        self.context = ctx
        self._suite_ids = {c["name"]: int(c["id"]) & 0xFFFF for c in ctx.get_ciphers()}

    def _on_sni(
        self, conn: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext
    ) -> None:
        if name:
            self._sni[conn] = name

    def info(self, sslobj: ssl.SSLObject) -> TLSInfo:
        cipher = sslobj.cipher()
        name = cipher[0] if cipher else ""
        peer = sslobj.getpeercert(binary_form=True)
        return TLSInfo(
            version=sslobj.version() or "",
            server_name=self._sni.get(sslobj, ""),
            negotiated_protocol=sslobj.selected_alpn_protocol() or "",
            cipher_suite=self.suite_name(name),
            peer_certificates=(ssl.DER_cert_to_PEM_cert(peer),) if peer else (),
        )

    def suite_name(self, openssl_name: str) -> str:
        if openssl_name.startswith("TLS_"):
            return openssl_name
        if openssl_name in IANA_NAMES:
            return IANA_NAMES[openssl_name]
        suite_id = self._suite_ids.get(openssl_name)
        return f"0x{suite_id:04X}" if suite_id is not None else openssl_name


def _set_tls13_ciphersuites(ctx: ssl.SSLContext, suites: str) -> bool:
    """Order the TLS 1.3 suites; best effort, since Python 3.11's ssl has no API for it.

    Calls OpenSSL's SSL_CTX_set_ciphersuites on the SSL_CTX pointer that CPython keeps right after
    the object header of an SSLContext, through the libssl this process already loaded. Checked
    against SSL_CTX_get_options before use; on any doubt it does nothing (OpenSSL's order then
    picks TLS_AES_256_GCM_SHA384).
    """
    setter = getattr(ctx, "set_ciphersuites", None)  # a future Python may have it
    if callable(setter):
        setter(suites)
        return True
    if sys.implementation.name != "cpython" or not ssl.OPENSSL_VERSION.startswith("OpenSSL 3"):
        return False
    try:
        lib = ctypes.CDLL(_loaded_libssl())
        ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
        if not ptr:
            return False
        lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        if lib.SSL_CTX_get_options(ptr) != int(ctx.options):
            return False
        lib.SSL_CTX_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.SSL_CTX_set_ciphersuites.restype = ctypes.c_int
        ok = lib.SSL_CTX_set_ciphersuites(ptr, suites.encode("ascii")) == 1
    except (OSError, AttributeError, ValueError):
        return False
    first = suites.split(":", 1)[0]
    return ok and ctx.get_ciphers()[0]["name"] == first


def _loaded_libssl() -> str:
    with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
        for line in maps:
            path = line.rsplit(" ", 1)[-1].strip()
            if "/libssl.so" in path:
                return path
    raise OSError("libssl is not loaded")

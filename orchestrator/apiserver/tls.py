"""The API server's own PKI: a cluster CA, a serving certificate for the listen address, the admin's
client certificate (CN kubernetes-admin, O system:masters, as kind's), and the kubeconfig using them."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from orchestrator.fsutil import atomic_write

VALID = dt.timedelta(days=365)
CLUSTER = "gwlab"
USER = "kubernetes-admin"


@dataclass(frozen=True)
class Pki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "admin.key"

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"


def _write(path: Path, data: bytes, mode: int) -> None:
    atomic_write(path, data, mode, durable=True)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, extensions: list[tuple[x509.ExtensionType, bool]]) -> bytes:
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=5)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + VALID))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _name(cn: str, org: str = "") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not cert_sign,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def _reusable(pki: Pki, host: str) -> bool:
    paths = (pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key, pki.client_cert, pki.client_key)
    if not all(p.exists() for p in paths):
        return False
    cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return host in ips and cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=1)


def ensure_pki(directory: Path, host: str) -> Pki:
    """The CA and certificates for host, made once and reused while they still fit (so a restarted
    server keeps every kubeconfig working)."""
    pki = Pki(directory)
    if _reusable(pki, host):
        return pki
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_name = _name("kubernetes")
    ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = _cert(ca_name, ca_key, ca_name, ca_key, [
        (x509.BasicConstraints(ca=True, path_length=None), True), (_usage(True), True), (ski, False)])
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in (
        "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")]
    sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    server = _cert(_name("kube-apiserver"), server_key, ca_name, ca_key, [
        (_usage(False), True), (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True), (aki, False),
        (x509.SubjectAlternativeName(sans), False)])
    client = _cert(_name(USER, "system:masters"), client_key, ca_name, ca_key, [
        (_usage(False), True), (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True), (aki, False)])
    for path, data, mode in ((pki.ca_key, _key_pem(ca_key), 0o600), (pki.ca_cert, ca, 0o600),
                             (pki.server_key, _key_pem(server_key), 0o600), (pki.server_cert, server, 0o600),
                             (pki.client_key, _key_pem(client_key), 0o600), (pki.client_cert, client, 0o600)):
        _write(path, data, mode)
    return pki


def write_kubeconfig(pki: Pki, host: str, port: int) -> Path:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode("ascii")

    server = f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": f"{USER}@{CLUSTER}",
        "clusters": [{"name": CLUSTER, "cluster": {"server": server,
                                                   "certificate-authority-data": b64(pki.ca_cert)}}],
        "users": [{"name": USER, "user": {"client-certificate-data": b64(pki.client_cert),
                                          "client-key-data": b64(pki.client_key)}}],
        "contexts": [{"name": f"{USER}@{CLUSTER}", "context": {"cluster": CLUSTER, "user": USER}}],
    }
    _write(pki.kubeconfig, yaml.safe_dump(config, sort_keys=False).encode(), 0o600)
    return pki.kubeconfig

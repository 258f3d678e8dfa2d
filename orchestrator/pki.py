"""The workshop's certificates, made with `cryptography` instead of three openssl commands.

The CA mirrors `openssl req -x509 -sha256 -nodes -days 365 -newkey rsa:2048
-subj '/O=example Inc./CN=example.com'`: subject O first, then CN; a random serial; subject and
authority key identifiers and a critical basicConstraints CA:TRUE, as OpenSSL's default `v3_ca`
section adds. The leaf mirrors `openssl x509 -req -sha256 -days 365 ... -set_serial 0` on a CSR
with subject `/CN=passthrough.example.com/O=some organization`: no extensions at all, so no
subjectAltName (clients fall back to the CN, as curl and Python's ssl do).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from orchestrator.fsutil import atomic_write, private_dir

CA_NAME = "example.com"
CA_ORG = "example Inc."
LEAF_NAME = "passthrough.example.com"
LEAF_ORG = "some organization"
KEY_BITS = 2048
VALID_DAYS = 365
# The workshop passes `-set_serial 0`; RFC 5280 wants a positive serial and cryptography refuses 0.
LEAF_SERIAL = 1
# Files that expire sooner than this are made again rather than reused.
REUSE_MARGIN = dt.timedelta(days=1)


@dataclass(frozen=True)
class CertPair:
    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return _load_rsa_key(self.key_pem)


@dataclass(frozen=True)
class LabCerts:
    directory: Path
    ca_cert: Path
    ca_key: Path
    leaf_cert: Path
    leaf_key: Path

    @property
    def ca(self) -> CertPair:
        return CertPair(self.ca_cert.read_bytes(), self.ca_key.read_bytes())

    @property
    def leaf(self) -> CertPair:
        return CertPair(self.leaf_cert.read_bytes(), self.leaf_key.read_bytes())


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def new_keys(count: int) -> list[rsa.RSAPrivateKey]:
    """Generate keys in parallel: cryptography releases the GIL, so two keys cost about one."""
    if count <= 1:
        return [new_key() for _ in range(count)]
    with ThreadPoolExecutor(max_workers=min(count, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda _: new_key(), range(count)))


def make_ca(key: rsa.RSAPrivateKey | None = None, now: dt.datetime | None = None) -> CertPair:
    key = key or new_key()
    start = _now(now)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=VALID_DAYS))
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return CertPair(_cert_pem(cert), _key_pem(key))


def make_leaf(
    ca: CertPair,
    common_name: str = LEAF_NAME,
    org: str = LEAF_ORG,
    key: rsa.RSAPrivateKey | None = None,
    now: dt.datetime | None = None,
) -> CertPair:
    key = key or new_key()
    start = _now(now)
    ca_cert = ca.cert
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )
    # openssl x509 -req writes a version 1 certificate; cryptography always writes version 3,
    # which without extensions means the same to every verifier.
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(LEAF_SERIAL)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=VALID_DAYS))
        .sign(ca.key, hashes.SHA256())
    )
    return CertPair(_cert_pem(cert), _key_pem(key))


def write_lab_certs(directory: Path) -> LabCerts:
    """Write the workshop's four files into directory, reusing them while they are still good.

    A valid CA is kept even when the leaf has to be made again, so a CA file that a user copied
    elsewhere (for curl --cacert) stays valid across re-applies.
    """
    private_dir(directory)
    paths = LabCerts(
        directory=directory,
        ca_cert=directory / f"{CA_NAME}.crt",
        ca_key=directory / f"{CA_NAME}.key",
        leaf_cert=directory / f"{LEAF_NAME}.crt",
        leaf_key=directory / f"{LEAF_NAME}.key",
    )
    ca = _read_pair(paths.ca_cert, paths.ca_key)
    if ca is not None and not _ca_is_good(ca):
        ca = None
    leaf = _read_pair(paths.leaf_cert, paths.leaf_key)
    if ca is not None and leaf is not None and _leaf_is_good(leaf, ca):
        for kept in (paths.ca_cert, paths.leaf_cert):
            kept.chmod(0o600)  # as a new one would be (an earlier gwlab left certificates 0644)
        return paths
    if ca is None:
        ca_key, leaf_key = new_keys(2)
        ca = make_ca(ca_key)
        atomic_write(paths.ca_key, ca.key_pem, 0o600)
        atomic_write(paths.ca_cert, ca.cert_pem)
    else:
        leaf_key = new_key()
    leaf = make_leaf(ca, key=leaf_key)
    atomic_write(paths.leaf_key, leaf.key_pem, 0o600)
    atomic_write(paths.leaf_cert, leaf.cert_pem)
    return paths


def tls_secret(
    name: str, cert_pem: bytes, key_pem: bytes, namespace: str = "default"
) -> dict[str, object]:
    """The Secret that `kubectl create secret tls NAME --cert=... --key=...` creates."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert_pem).decode("ascii"),
            "tls.key": base64.b64encode(key_pem).decode("ascii"),
        },
    }


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    # Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), what `openssl req -nodes` writes.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    # The consistency check costs ~40 ms a key; these are files we wrote ourselves.
    key = serialization.load_pem_private_key(
        pem, password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def _read_pair(cert_path: Path, key_path: Path) -> CertPair | None:
    try:
        pair = CertPair(cert_path.read_bytes(), key_path.read_bytes())
        cert, key = pair.cert, pair.key
    except (OSError, ValueError, TypeError):
        return None
    if cert.public_key() != key.public_key():
        return None
    return pair


def _fresh(cert: x509.Certificate) -> bool:
    now = dt.datetime.now(dt.timezone.utc)
    return cert.not_valid_before_utc <= now and now + REUSE_MARGIN < cert.not_valid_after_utc


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    public = issuer.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or cert.signature_hash_algorithm is None:
        return False
    try:
        public.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    except InvalidSignature:
        return False
    return cert.issuer == issuer.subject


def _ca_is_good(ca: CertPair) -> bool:
    cert = ca.cert
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return (
        constraints.ca
        and cert.subject.rfc4514_string() == f"CN={CA_NAME},O={CA_ORG}"
        and _fresh(cert)
        and _signed_by(cert, cert)
    )


def _leaf_is_good(leaf: CertPair, ca: CertPair) -> bool:
    cert = leaf.cert
    return (
        cert.subject.rfc4514_string() == f"O={LEAF_ORG},CN={LEAF_NAME}"
        and _fresh(cert)
        and _signed_by(cert, ca.cert)
    )

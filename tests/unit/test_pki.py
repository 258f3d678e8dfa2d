"""The workshop's certificates: subjects and their order, extensions, files, Secret, clients."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from orchestrator import pki


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> pki.LabCerts:
    return pki.write_lab_certs(tmp_path_factory.mktemp("pki"))


def openssl(*args: str) -> str:
    return subprocess.run(
        ["openssl", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


needs_openssl = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")


@needs_openssl
def test_subjects_keep_the_workshop_rdn_order(certs: pki.LabCerts) -> None:
    # -subj '/O=example Inc./CN=example.com' puts O first; the leaf's CSR puts CN first.
    ca = str(certs.ca_cert)
    leaf = str(certs.leaf_cert)
    ca_name = "O = example Inc., CN = example.com"
    assert openssl("x509", "-in", ca, "-noout", "-subject") == f"subject={ca_name}"
    assert openssl("x509", "-in", ca, "-noout", "-issuer") == f"issuer={ca_name}"
    assert (
        openssl("x509", "-in", leaf, "-noout", "-subject")
        == "subject=CN = passthrough.example.com, O = some organization"
    )
    assert openssl("x509", "-in", leaf, "-noout", "-issuer") == f"issuer={ca_name}"
    # RFC 2253 prints the RDNs last-first, which shows the order is really stored as above.
    rfc = openssl("x509", "-in", leaf, "-noout", "-subject", "-issuer", "-nameopt", "RFC2253")
    assert rfc.splitlines() == [
        "subject=O=some organization,CN=passthrough.example.com",
        "issuer=CN=example.com,O=example Inc.",
    ]


def test_certificate_fields(certs: pki.LabCerts) -> None:
    ca = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(certs.leaf_cert.read_bytes())
    assert [a.oid for a in ca.subject] == [x509.NameOID.ORGANIZATION_NAME, x509.NameOID.COMMON_NAME]
    assert [a.value for a in leaf.subject] == ["passthrough.example.com", "some organization"]
    assert leaf.issuer == ca.subject
    assert leaf.serial_number == 1  # the workshop's 0 is refused by cryptography
    assert ca.serial_number > 1
    for cert in (ca, leaf):
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == "sha256"
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
        life = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert life == dt.timedelta(days=365)
        assert abs(cert.not_valid_before_utc - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(
            minutes=10
        )


def test_ca_extensions_mirror_openssl_req_x509(certs: pki.LabCerts) -> None:
    ca = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length is None
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert len(ca.extensions) == 3


def test_leaf_has_no_extensions_so_no_san(certs: pki.LabCerts) -> None:
    leaf = x509.load_pem_x509_certificate(certs.leaf_cert.read_bytes())
    assert len(leaf.extensions) == 0
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)


@needs_openssl
def test_leaf_verifies_against_ca_with_openssl(certs: pki.LabCerts) -> None:
    out = openssl("verify", "-CAfile", str(certs.ca_cert), str(certs.leaf_cert))
    assert out == f"{certs.leaf_cert}: OK"


@needs_openssl
def test_leaf_is_rejected_by_another_ca(tmp_path: Path, certs: pki.LabCerts) -> None:
    other = tmp_path / "other.crt"
    other.write_bytes(pki.make_ca().cert_pem)
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(other), str(certs.leaf_cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0


@needs_openssl
def test_keys_are_unencrypted_pkcs8_and_match(certs: pki.LabCerts) -> None:
    for cert, key in ((certs.ca_cert, certs.ca_key), (certs.leaf_cert, certs.leaf_key)):
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
        cert_mod = openssl("x509", "-in", str(cert), "-noout", "-modulus")
        key_mod = openssl("rsa", "-in", str(key), "-noout", "-modulus")
        assert cert_mod == key_mod


def test_files_names_and_modes(certs: pki.LabCerts) -> None:
    names = sorted(p.name for p in certs.directory.iterdir())
    assert names == [
        "example.com.crt",
        "example.com.key",
        "passthrough.example.com.crt",
        "passthrough.example.com.key",
    ]
    assert stat.S_IMODE(certs.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.leaf_key.stat().st_mode) == 0o600
    # certificates too: every file of the run directory is its owner's alone
    assert stat.S_IMODE(certs.ca_cert.stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.leaf_cert.stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.directory.stat().st_mode) == 0o700


def _contents(paths: pki.LabCerts) -> list[bytes]:
    return [p.read_bytes() for p in (paths.ca_cert, paths.ca_key, paths.leaf_cert, paths.leaf_key)]


def test_write_lab_certs_reuses_valid_files(tmp_path: Path) -> None:
    first = pki.write_lab_certs(tmp_path)
    before = _contents(first)
    second = pki.write_lab_certs(tmp_path)
    assert second == first
    assert _contents(second) == before


def test_broken_leaf_is_remade_and_ca_kept(tmp_path: Path) -> None:
    paths = pki.write_lab_certs(tmp_path)
    ca_before = paths.ca_cert.read_bytes()
    leaf_before = paths.leaf_cert.read_bytes()
    paths.leaf_key.write_bytes(pki.make_leaf(paths.ca).key_pem)  # key no longer matches
    pki.write_lab_certs(tmp_path)
    assert paths.ca_cert.read_bytes() == ca_before
    assert paths.leaf_cert.read_bytes() != leaf_before
    leaf = x509.load_pem_x509_certificate(paths.leaf_cert.read_bytes())
    assert leaf.public_key() == paths.leaf.key.public_key()


def test_missing_ca_remakes_everything(tmp_path: Path) -> None:
    paths = pki.write_lab_certs(tmp_path)
    leaf_before = paths.leaf_cert.read_bytes()
    paths.ca_key.unlink()
    pki.write_lab_certs(tmp_path)
    assert paths.ca_key.exists()
    assert paths.leaf_cert.read_bytes() != leaf_before
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(paths.leaf_cert.read_bytes())
    leaf.verify_directly_issued_by(ca)


def test_expired_files_are_remade(tmp_path: Path) -> None:
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)
    ca = pki.make_ca(now=old)
    leaf = pki.make_leaf(ca, now=old)
    (tmp_path / "example.com.crt").write_bytes(ca.cert_pem)
    (tmp_path / "example.com.key").write_bytes(ca.key_pem)
    (tmp_path / "passthrough.example.com.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "passthrough.example.com.key").write_bytes(leaf.key_pem)
    paths = pki.write_lab_certs(tmp_path)
    assert paths.ca_cert.read_bytes() != ca.cert_pem
    assert stat.S_IMODE(paths.ca_key.stat().st_mode) == 0o600


def test_garbage_files_are_remade_and_no_temp_files_left(tmp_path: Path) -> None:
    for name in ("example.com.crt", "example.com.key"):
        (tmp_path / name).write_bytes(b"not a certificate")
    paths = pki.write_lab_certs(tmp_path)
    x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_tls_secret_shape(certs: pki.LabCerts) -> None:
    leaf = certs.leaf
    secret = pki.tls_secret("server-certs", leaf.cert_pem, leaf.key_pem)
    assert secret["apiVersion"] == "v1"
    assert secret["kind"] == "Secret"
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {"name": "server-certs", "namespace": "default"}
    data = secret["data"]
    assert isinstance(data, dict)
    assert sorted(data) == ["tls.crt", "tls.key"]
    assert base64.b64decode(data["tls.crt"]) == leaf.cert_pem
    assert base64.b64decode(data["tls.key"]) == leaf.key_pem
    assert pki.tls_secret("x", b"c", b"k", namespace="lab")["metadata"] == {
        "name": "x",
        "namespace": "lab",
    }


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl not installed")
def test_tls_secret_matches_kubectl_create_secret_tls(certs: pki.LabCerts) -> None:
    result = subprocess.run(
        [
            "kubectl", "create", "secret", "tls", "server-certs",
            f"--cert={certs.leaf_cert}", f"--key={certs.leaf_key}",
            "--dry-run=client", "-o", "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"kubectl could not run offline: {result.stderr.strip()[:200]}")
    theirs = json.loads(result.stdout)
    ours = pki.tls_secret("server-certs", certs.leaf.cert_pem, certs.leaf.key_pem)
    for key in ("apiVersion", "kind", "type", "data"):
        assert ours[key] == theirs[key], key
    assert theirs["metadata"]["name"] == "server-certs"


# A CN-only leaf (no subjectAltName) must still be accepted by the workshop's clients.


@pytest.fixture
def tls_server(certs: pki.LabCerts) -> Iterator[int]:
    """A tiny HTTPS responder on 127.0.0.1 serving the leaf; yields its port."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.leaf_cert, certs.leaf_key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                conn.settimeout(5)
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_python_accepts_cn_only_leaf(certs: pki.LabCerts, tls_server: int) -> None:
    ctx = ssl.create_default_context(cafile=str(certs.ca_cert))
    # Python >= 3.13 adds VERIFY_X509_STRICT, which wants an AKI in the leaf; openssl's
    # `x509 -req` leaf (and so the workshop's) has none either.
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    with socket.create_connection(("127.0.0.1", tls_server), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="passthrough.example.com") as tls:
            peer = tls.getpeercert()
            assert peer is not None
            assert peer["subject"] == (
                (("commonName", "passthrough.example.com"),),
                (("organizationName", "some organization"),),
            )
    with socket.create_connection(("127.0.0.1", tls_server), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="other.example.com")


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
def test_curl_accepts_cn_only_leaf(certs: pki.LabCerts, tls_server: int) -> None:
    base = [
        "curl", "-sS", "--max-time", "10", "--cacert", str(certs.ca_cert),
        "--resolve", f"passthrough.example.com:{tls_server}:127.0.0.1",
        "--resolve", f"other.example.com:{tls_server}:127.0.0.1",
    ]  # fmt: skip
    ok = subprocess.run(
        [*base, f"https://passthrough.example.com:{tls_server}/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "ok"
    wrong = subprocess.run(
        [*base, f"https://other.example.com:{tls_server}/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert wrong.returncode == 60, wrong.stderr  # CURLE_PEER_FAILED_VERIFICATION


def test_make_ca_and_leaf_are_fast() -> None:
    import time

    # The work it takes, not the time it waits for a core (other tests share the machine): this
    # process's CPU time. RSA-2048 generation is random; a typical pair takes 40-150 ms of it.
    start = time.process_time()
    ca = pki.make_ca()
    pki.make_leaf(ca)
    assert time.process_time() - start < 5.0

"""The throwaway CA and serving certificate (kubesim, ``make run``'s HTTPS listener, the test
peers) are well-formed for strict verifiers: Subject/Authority Key Identifiers, key usages,
basic constraints — checked with ``cryptography``'s RFC 5280 verifier and with OpenSSL's
``VERIFY_X509_STRICT`` (Python 3.13's default) in a real TLS handshake."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store

from apps.sandbox.kubesim.tls import ServingCert


@pytest.fixture(scope="module")
def cert():
    return ServingCert()


def test_key_identifiers_and_constraints(cert):
    ca = x509.load_pem_x509_certificate(cert.ca_pem)
    leaf = x509.load_pem_x509_certificate(cert.cert_pem)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ca_ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    leaf_ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert leaf_ski == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_cryptography_strict_verifier_accepts_the_chain(cert):
    ca = x509.load_pem_x509_certificate(cert.ca_pem)
    leaf = x509.load_pem_x509_certificate(cert.cert_pem)
    builder = PolicyBuilder().store(Store([ca]))
    for subject in (DNSName("localhost"), IPAddress(ipaddress.ip_address("127.0.0.1"))):
        chain = builder.build_server_verifier(subject).verify(leaf, [])
        assert chain[0] == leaf and chain[-1] == ca


def _serve_once(context: ssl.SSLContext) -> tuple[int, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run():
        with listener:
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass  # the client refused us: its side of the test says so

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def _strict_handshake(server_context: ssl.SSLContext, ca_pem: bytes) -> bytes:
    port, thread = _serve_once(server_context)
    client = ssl.create_default_context(cadata=ca_pem.decode())
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with client.wrap_socket(raw, server_hostname="localhost") as tls:
                return tls.recv(2)
    finally:
        thread.join(5)


def test_openssl_strict_handshake_succeeds(cert):
    assert _strict_handshake(cert.server_context(), cert.ca_pem) == b"ok"


def test_openssl_strict_mode_refuses_a_certificate_without_key_identifiers(tmp_path):
    """The control: what the generator made before (no AKI/SKI) fails the same handshake,
    so the test above can fail for the reason it names."""
    from cryptography.hazmat.primitives import serialization

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old-ca")])
    base = (
        x509.CertificateBuilder()
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    ca = (
        base.subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        base.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")]))
        .issuer_name(name)
        .public_key(key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "tls.crt").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    with pytest.raises(ssl.SSLCertVerificationError):
        _strict_handshake(server, ca.public_bytes(serialization.Encoding.PEM))

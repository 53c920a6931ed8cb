"""A throwaway mesh PKI: a root CA and SPIFFE workload certificates, like istiod/istio-csr issue.

Workload certificates carry exactly one URI SAN `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` (critical
SAN extension, empty subject, as Istio issues them) and are valid for both client and server auth.
Everything is written to a directory created by the tests at run time; nothing is committed.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def spiffe_id(namespace: str, service_account: str, trust_domain: str = "cluster.local") -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


@dataclass(frozen=True)
class WorkloadCert:
    spiffe_id: str
    cert_path: Path
    key_path: Path
    ca_path: Path


def _write_key(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)


class MeshCA:
    """A self-signed root CA (EC P-256) that signs SPIFFE workload certificates."""

    def __init__(self, directory: Path, name: str = "remit-e2e-mesh-root"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = _dt.datetime.now(_dt.timezone.utc)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cluster.local"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_path = self.dir / f"{name}.pem"
        self.ca_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, namespace: str, service_account: str, trust_domain: str = "cluster.local") -> WorkloadCert:
        uri = spiffe_id(namespace, service_account, trust_domain)
        key = ec.generate_private_key(ec.SECP256R1())
        now = _dt.datetime.now(_dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            # Istio issues an empty subject, so the SAN extension is critical (RFC 5280 4.2.1.6).
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        stem = f"{self.name}-{trust_domain}-{namespace}-{service_account}"
        cert_path = self.dir / f"{stem}.crt"
        key_path = self.dir / f"{stem}.key"
        # The chain Envoy presents: leaf then root (as istio-agent writes cert-chain.pem).
        cert_path.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM) + self.cert.public_bytes(serialization.Encoding.PEM)
        )
        _write_key(key_path, key)
        return WorkloadCert(spiffe_id=uri, cert_path=cert_path, key_path=key_path, ca_path=self.ca_path)


@dataclass(frozen=True)
class ServerCert:
    """A web server certificate for DNS names (an external service's, not a mesh workload's)."""

    dns_names: tuple
    cert_path: Path
    key_path: Path
    ca_path: Path


def issue_server_cert(ca: MeshCA, *dns_names: str) -> ServerCert:
    """A serverAuth certificate for `dns_names` (DNS SANs, CN = the first name) signed by `ca`; use
    a CA other than the mesh root to stand in for a public CA."""
    if not dns_names:
        raise ValueError("issue_server_cert needs at least one DNS name")
    key = ec.generate_private_key(ec.SECP256R1())
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    stem = f"{ca.name}-server-{dns_names[0].replace('*', '_wildcard_')}"
    cert_path = ca.dir / f"{stem}.crt"
    key_path = ca.dir / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return ServerCert(dns_names=tuple(dns_names), cert_path=cert_path, key_path=key_path, ca_path=ca.ca_path)

"""Per-lab PKI: a CA, serving and client certificates, the service-account signing key.

Generated fresh for every lab so nothing secret is committed and two labs never share trust.
"""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAYS = 365


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=_DAYS)))


def generate(pki_dir: Path) -> dict[str, Path]:
    """Write the lab's PKI into pki_dir; return the paths by role."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("nodeless-eks-lab-ca")
    ca = (_builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          # Key identifiers: Python 3.13's default TLS context verifies strictly (VERIFY_X509_STRICT), which
          # refuses a chain without them, as a real cluster's CA has them.
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    paths = {"ca": pki_dir / "ca.crt", "ca_key": pki_dir / "ca.key"}
    _write_cert(paths["ca"], ca)
    _write_key(paths["ca_key"], ca_key)

    def issue(stem: str, cn: str, org: str | None, server: bool) -> None:
        key = _key()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (_builder(_name(cn, org), ca_name, key.public_key())
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
                x509.DNSName("kubernetes.default.svc"), x509.DNSName("kubernetes.default.svc.cluster.local"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("10.96.0.1"))]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        paths[stem] = pki_dir / f"{stem}.crt"
        paths[f"{stem}_key"] = pki_dir / f"{stem}.key"
        _write_cert(paths[stem], cert)
        _write_key(paths[f"{stem}_key"], key)

    issue("apiserver", "kube-apiserver", None, server=True)
    issue("admin", "lab-admin", "system:masters", server=False)
    issue("controller-manager", "system:kube-controller-manager", None, server=False)
    issue("scheduler", "system:kube-scheduler", None, server=False)
    # kwok gets its own identity so the audit log can leave its status updates out.
    issue("kwok", "kwok", "system:masters", server=False)
    # So does the emulated EKS add-on manager (eks_addons.py): its writes are EKS's, not a playbook's.
    issue("eks-addon-manager", "eks:addon-manager", "system:masters", server=False)

    # Service-account tokens are RS256 as on EKS; the public half is what the JWKS serves.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    paths["sa_key"] = pki_dir / "sa.key"
    paths["sa_pub"] = pki_dir / "sa.pub"
    _write_key(paths["sa_key"], sa_key)
    paths["sa_pub"].write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return paths

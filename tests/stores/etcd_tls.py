"""Throwaway certificates for the etcd TLS tests: a CA, a server certificate for
127.0.0.1 and a client certificate, written as PEM files under a directory.

The client certificate has no Common Name (see `make_pki`). The server certificate carries clientAuth as well as serverAuth: etcd's JSON gateway
dials the member's own gRPC port with it, and under --client-cert-auth that port checks
it like any client certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tests.stores.etcd_cluster import EtcdCluster

from zonewarden.stores.etcd import EtcdStore, Security
from zonewarden.stores.etcd.client import EtcdClient
from zonewarden.stores.etcd.ops import b64, prefix_end

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class Pki:
    """The PEM files one test cluster needs (`other_ca`: a CA that signed nothing here)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    cn_client_cert: Path  # a client certificate with a Common Name, which the gateway refuses
    cn_client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


def _write(path: Path, cert: x509.Certificate, key: Key | None = None) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path


def _issue(
    subject: str,
    issuer: tuple[x509.Name, Key] | None,
    *,
    ca: bool = False,
    usages: tuple[x509.ObjectIdentifier, ...] = (),
    ips: tuple[str, ...] = (),
) -> tuple[x509.Certificate, Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (_name(subject), key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if ips:
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ca:
        builder = builder.add_extension(
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
    return builder.sign(issuer_key, hashes.SHA256()), key


def make_pki(root: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _issue("zonewarden test CA", None, ca=True)
    other, _ = _issue("some other CA", None, ca=True)
    signer = (ca.subject, ca_key)
    server, server_key = _issue(
        "etcd test member",
        signer,
        usages=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        ips=("127.0.0.1",),
    )
    # no Common Name: with auth on, etcd's gateway answers HTTP 400 to a client
    # certificate that carries one (the identity is the user name and password)
    client, client_key = _issue("", signer, usages=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    named, named_key = _issue("zonewarden", signer, usages=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    _write(root / "named-client.pem", named, named_key)
    _write(root / "server.pem", server, server_key)
    _write(root / "client.pem", client, client_key)
    return Pki(
        ca=_write(root / "ca.pem", ca),
        server_cert=root / "server.pem",
        server_key=root / "server.key",
        client_cert=root / "client.pem",
        client_key=root / "client.key",
        other_ca=_write(root / "other-ca.pem", other),
        cn_client_cert=root / "named-client.pem",
        cn_client_key=root / "named-client.key",
    )


# -- a one-member TLS cluster with etcd auth on -----------------------------------------
USER, PASSWORD = "zonewarden", "zw-test-password"
ROOT_PASSWORD = "root-test-password"
PREFIX = "/zw-tls/"  # the zonewarden user may read and write only under this prefix
TOKEN_TTL = 2  # seconds a simple token lives unused: short, so expiry is testable


@dataclass
class TlsEtcd:
    """One etcd member on https://127.0.0.1 with --client-cert-auth and auth enabled."""

    cluster: EtcdCluster
    pki: Pki

    @property
    def endpoints(self) -> list[str]:
        return self.cluster.endpoints

    def security(self, **changes: Any) -> Security:
        base = Security(
            ca_file=self.pki.ca,
            cert_file=self.pki.client_cert,
            key_file=self.pki.client_key,
            username=USER,
            password=PASSWORD,
        )
        return replace(base, **changes)

    def store(self, **changes: Any) -> EtcdStore:
        prefix = str(changes.pop("prefix", PREFIX + uuid.uuid4().hex[:12]))
        return EtcdStore(self.endpoints, prefix=prefix, security=self.security(**changes))

    def stop(self) -> None:
        self.cluster.stop()


def start_tls_etcd(root: Path) -> TlsEtcd:
    """Certificates under `root`, the member started, users and roles made, auth on."""
    pki = make_pki(root / "pki")
    (root / "etcd").mkdir()
    cluster = EtcdCluster(
        size=1, root=root / "etcd", tls=pki, extra_args=("--auth-token-ttl", str(TOKEN_TTL))
    )
    try:
        cluster.start()
        admin = EtcdClient(
            cluster.endpoints, security=Security(pki.ca, pki.client_cert, pki.client_key)
        )
        key = PREFIX.encode()
        grant = {"permType": "READWRITE", "key": b64(key), "range_end": b64(prefix_end(key))}
        steps: list[tuple[str, dict[str, Any]]] = [
            ("/v3/auth/role/add", {"name": "root"}),
            ("/v3/auth/user/add", {"name": "root", "password": ROOT_PASSWORD}),
            ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
            ("/v3/auth/role/add", {"name": "zw"}),
            ("/v3/auth/user/add", {"name": USER, "password": PASSWORD}),
            ("/v3/auth/user/grant", {"user": USER, "role": "zw"}),
            ("/v3/auth/role/grant", {"name": "zw", "perm": grant}),
            ("/v3/auth/enable", {}),  # etcd wants a root user with the root role first
        ]
        for path, body in steps:
            admin.call(path, body)
        admin.close()
    except BaseException:
        cluster.stop()
        raise
    return TlsEtcd(cluster, pki)

"""TLS and etcd authentication for the etcd client: settings, the SSL context, and the
words for what etcd answers when it refuses us.

Rules kept here:
- verification is never turned off: an https:// endpoint is checked against `ca_file`,
  or the system CA store when none is set, host name included;
- TLS files with http:// endpoints, or a mix of schemes, is a ConfigError (config.py
  says the same with file and line; this repeats it for code that builds a client);
- every refusal (bad certificate, wrong password, missing permission) is a ConfigError
  saying which setting to fix; only an expired or invalid token is worth a retry, and
  the client does that itself (`TOKEN_RETRY`).
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zonewarden.errors import ConfigError

# etcd's answers (3.4, gateway JSON "message") that a fresh token cures
TOKEN_RETRY = (
    "invalid auth token",  # expired (--auth-token-ttl), or issued before a restart
    "auth token is expired",  # the JWT token provider's wording
    "revision of auth store is old",  # users/roles changed since the token was issued
    "user name is empty",  # no token sent: auth was enabled after we connected
)
# the gateway's plain-text refusal of a client certificate that has a Common Name
GATEWAY_CN = b"CommonName of client sending a request against gateway"


@dataclass(frozen=True, slots=True)
class Security:
    """How to reach a secured cluster; every field is optional."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def tls_files(self) -> bool:
        return any(f is not None for f in (self.ca_file, self.cert_file, self.key_file))


def scheme_of(endpoints: Sequence[str]) -> str:
    """ "https" or "http" for the whole cluster; a mix is a ConfigError."""
    schemes = {urllib.parse.urlsplit(e).scheme for e in endpoints}
    if schemes == {"https"}:
        return "https"
    if schemes == {"http"}:
        return "http"
    raise ConfigError(
        f"[store] endpoints {list(endpoints)} must all start with http:// or all with "
        "https:// (https:// for a cluster started with --cert-file)"
    )


def ssl_context(security: Security, endpoints: Sequence[str]) -> ssl.SSLContext | None:
    """The context for https:// endpoints (None for http://), with the client
    certificate loaded; a file that does not load is a ConfigError naming it."""
    if scheme_of(endpoints) == "http":
        if security.tls_files:
            raise ConfigError(
                "[store] ca_file, cert_file and key_file need https:// endpoints; write the "
                "endpoints as https://host:2379 (or drop the TLS settings for a plain cluster)"
            )
        return None
    try:
        context = ssl.create_default_context(cafile=security.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[store] ca_file {security.ca_file} does not load: {exc}") from exc
    if security.cert_file is not None:
        try:
            context.load_cert_chain(security.cert_file, security.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"[store] cert_file {security.cert_file} with key_file {security.key_file} "
                f"does not load ({exc}): both must be PEM, the key unencrypted and matching"
            ) from exc
    return context


class TlsRefused(OSError):
    """A new TLS connection failed before any answer: the handshake was refused (by us or
    by the member), so the request never reached etcd. `cause` is what ssl raised."""

    def __init__(self, cause: OSError, *, in_handshake: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.in_handshake = in_handshake  # else: after our side of it, on the first read


def tls_refusal(exc: BaseException) -> bool:
    """True for a TLS failure at the handshake: the request never reached etcd."""
    return isinstance(exc, TlsRefused | ssl.SSLCertVerificationError) or (
        isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or "")
    )


def describe_tls_failure(endpoint: str, exc: BaseException, security: Security) -> str:
    """What went wrong in the handshake with `endpoint`, and which setting fixes it."""
    in_handshake = True
    if isinstance(exc, TlsRefused):
        in_handshake = exc.in_handshake
        exc = exc.cause
    if isinstance(exc, ssl.SSLCertVerificationError):
        cause = exc.verify_message or str(exc)
        if "mismatch" in cause.lower():
            return (
                f"TLS to etcd {endpoint} failed: its certificate does not name this host "
                f"({cause}); use a host name or IP of the certificate's SANs in [store] "
                "endpoints, or reissue the member's --cert-file with this one"
            )
        trusted = security.ca_file or "the system CA store"
        return (
            f"TLS to etcd {endpoint} failed: its certificate is not trusted by {trusted} "
            f"({cause}); set [store] ca_file to the CA that signed the members' --cert-file"
        )
    reason = str(getattr(exc, "reason", "") or exc) or type(exc).__name__
    if "WRONG_VERSION_NUMBER" in reason:
        return (
            f"TLS to etcd {endpoint} failed ({reason}): the member does not speak TLS on "
            "this port; write its endpoint as http:// or start it with --cert-file"
        )
    closed = not isinstance(exc, ssl.SSLError) or "EOF" in reason  # no alert to read
    if closed and in_handshake:
        return (
            f"TLS to etcd {endpoint} failed: it closed the connection in the handshake "
            f"({exc!r}); is it serving TLS on this port (only members started with "
            "--cert-file do; else write http://)?"
        )
    if closed:  # after our side of the handshake: TLS 1.3 refusing our certificate
        reason = f"the member closed the connection after the handshake: {exc!r}"
        if security.cert_file is not None:
            return (
                f"TLS to etcd {endpoint} failed: {reason}; does it take our client "
                f"certificate {security.cert_file}? It must be signed by the members' "
                "--trusted-ca-file and carry the clientAuth usage"
            )
    if security.cert_file is None and any(
        r in reason for r in ("CERTIFICATE", "HANDSHAKE", "closed the connection")
    ):
        return (
            f"TLS to etcd {endpoint} failed: the member wants a client certificate "
            f"({reason}; it runs with --client-cert-auth): set [store] cert_file and key_file "
            "to a certificate signed by the members' --trusted-ca-file"
        )
    if "CERTIFICATE" in reason or "UNKNOWN_CA" in reason:  # ours was sent and refused
        return (
            f"TLS to etcd {endpoint} failed: the member refused our client certificate "
            f"{security.cert_file} ({reason}); it must be signed by the members' "
            "--trusted-ca-file and carry the clientAuth usage"
        )
    return f"TLS to etcd {endpoint} failed: {reason}"


def gateway_cn_refusal(endpoint: str, security: Security) -> ConfigError:
    return ConfigError(
        f"etcd {endpoint} refuses our client certificate {security.cert_file} because it has "
        "a Common Name: with authentication on, etcd's JSON gateway accepts only client "
        "certificates without one (the etcd user is [store] username); issue the client "
        "certificate with an empty subject"
    )


def bad_credentials(endpoints: str, security: Security, message: str) -> ConfigError:
    return ConfigError(
        f"etcd at {endpoints} refused user {security.username!r} ({message}): fix [store] "
        "username and password (or password_file)"
    )


def needs_credentials(endpoints: str, message: str) -> ConfigError:
    return ConfigError(
        f"etcd at {endpoints} has authentication enabled ({message}): set [store] username "
        "and password (or password_file)"
    )


def permission_denied(endpoint: str, what: str, security: Security, message: str) -> ConfigError:
    return ConfigError(
        f"etcd {endpoint} denied {what} to user {security.username!r} ({message}): grant its "
        "role readwrite on every key under the [store] prefix: etcdctl role "
        "grant-permission ROLE readwrite --prefix=true PREFIX/"
    )

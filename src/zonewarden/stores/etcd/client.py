"""A small synchronous client for etcd v3's JSON gateway (HTTP/1.1, stdlib only).

Why the gateway and `http.client`: the gateway is part of every etcd 3.4 server (no
extra port, no protobuf), `etcd3` 0.12 does not import with current protobuf, `aetcd`
is asyncio-only while the stores are synchronous, and one keep-alive `http.client`
connection per thread costs less per request than httpx. So the etcd store needs no
optional dependency at all.

Rules kept here:
- this module is the store's edge: every foreign failure becomes StoreUnavailable
  (retryable: refused, reset, timeout, "no leader") or StoreCorrupt (the answer is not
  what etcd sends), once, with the endpoints named and "no quorum" said when that is
  the cause;
- every request carries `Grpc-Metadata-hasleader: true`, so a member cut off from its
  quorum answers "no leader" at once instead of hanging until its request timeout;
- a request is retried on the next endpoint only when it surely never reached a server
  (connection refused); an ambiguous failure (reset, timeout) is reported, because only
  the caller's compare can tell whether a write landed;
- one connection per thread and endpoint; the endpoint that last answered is tried
  first; `close()` closes every thread's connections (a thread that ends leaves its
  connections to `close()`, or to the next thread that finds them, below).

TLS and authentication (`security.py` holds the settings and the error words):
- https:// endpoints use TLS, verified against `ca_file` or the system CA store, never
  unverified; `cert_file`/`key_file` is the client certificate a cluster started with
  --client-cert-auth wants. With etcd auth on as well, etcd's JSON gateway refuses a
  client certificate that has a Common Name (HTTP 400), so issue it with an empty
  subject: the identity is the user, not the certificate;
- with `username`, the client gets a token from /v3/auth/authenticate before its first
  request and sends it as `Authorization` on every request and watch; the token is
  shared by all threads and members (etcd replicates it);
- a token etcd no longer takes ("invalid auth token" after --auth-token-ttl of disuse
  or a restart, "revision of auth store is old" after a user/role change) is renewed
  once and the request resent: etcd refused it before doing anything, so that is safe
  for writes too. A wrong password, a missing permission or a refused certificate is a
  ConfigError naming the setting to fix, never a retry loop;
- a handshake failure (unknown CA, host name not in the certificate, no client
  certificate) never reached etcd, so the next endpoint is tried; when every endpoint
  refuses TLS, the ConfigError names each one and its cause.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from zonewarden.errors import ConfigError, StoreCorrupt, StoreUnavailable
from zonewarden.stores.etcd import security as sec
from zonewarden.stores.etcd.ops import KV, Json, b64, decode_kv
from zonewarden.stores.etcd.security import Security

T = TypeVar("T")
NO_LEADER_HINT = (
    "an election is under way or, if this lasts, there is no quorum: a majority of the "
    "etcd members is down or cut off; restart the stopped members (writes resume by "
    "themselves once a majority is back)"
)


class TokenRejected(StoreUnavailable):
    """etcd did not take our auth token (or we sent none): authenticate and resend."""

    def __init__(self, message: str, *, answer: str) -> None:
        super().__init__(message)
        self.answer = answer  # etcd's own words


class AuthNotEnabled(ConfigError):
    """/v3/auth/authenticate on a cluster without auth: go on without a token."""


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    revision: int
    ranges: list[list[KV]]  # the kvs of each range op, in order (empty list for other ops)


class EtcdClient:
    """Range, Txn and Watch over the JSON gateway of one etcd cluster."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        timeout: float = 3.0,
        security: Security | None = None,
    ) -> None:
        if not endpoints:
            raise StoreUnavailable("no etcd endpoints configured: set [store] endpoints")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self.security = security or Security()
        self._tls = sec.ssl_context(self.security, self.endpoints)
        self._token: str | None = None  # None: not authenticated yet; "": auth is off
        self._auth_lock = threading.Lock()
        self._preferred = 0
        # every open connection, by the thread that owns it: close() reaches them all
        self._open: dict[tuple[int, int], http.client.HTTPConnection] = {}
        self._open_lock = threading.Lock()

    def describe(self) -> str:
        return ", ".join(self.endpoints)

    # -- transport -----------------------------------------------------------------------
    def _connection(self, index: int, timeout: float) -> http.client.HTTPConnection:
        key = (threading.get_ident(), index)
        with self._open_lock:
            conn = self._open.get(key)
            if conn is None:
                self._reap()
                conn = self._open[key] = self._connect(index, timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _connect(self, index: int, timeout: float) -> http.client.HTTPConnection:
        url = urllib.parse.urlsplit(self.endpoints[index])
        host = url.hostname or "127.0.0.1"
        if self._tls is not None:
            return http.client.HTTPSConnection(host, url.port, timeout=timeout, context=self._tls)
        return http.client.HTTPConnection(host, url.port, timeout=timeout)

    def _headers(self, auth: bool = True) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Grpc-Metadata-hasleader": "true"}
        if auth and self._token:
            headers["Authorization"] = self._token
        return headers

    def _drop(self, index: int) -> None:
        with self._open_lock:
            conn = self._open.pop((threading.get_ident(), index), None)
        if conn is not None:
            conn.close()

    def _reap(self) -> None:
        """Close the connections of threads that have ended (a thread id is reused only
        after its thread ended); called with `_open_lock` held, when one is opened."""
        alive = {t.ident for t in threading.enumerate()}
        for key in [k for k in self._open if k[0] not in alive]:
            self._open.pop(key).close()

    # -- authentication ------------------------------------------------------------------
    def _with_token(self, send: Callable[[], T]) -> T:
        """Run `send` with a token (when a user is configured); if etcd refuses the
        token, authenticate again and resend once."""
        if self.security.username is not None and self._token is None:
            self._renew_token(None)
        stale = self._token
        try:
            return send()
        except TokenRejected as exc:
            if self.security.username is None:
                raise sec.needs_credentials(self.describe(), exc.answer) from exc
            self._renew_token(stale)
            return send()

    def _renew_token(self, stale: str | None) -> None:
        """Authenticate, unless another thread already replaced the `stale` token."""
        with self._auth_lock:
            if self._token != stale:
                return
            body = {"name": self.security.username, "password": self.security.password or ""}
            try:
                payload = json.dumps(body).encode()
                # no Authorization header: etcd refuses authenticate with a stale token
                out = self._call("/v3/auth/authenticate", payload, None, True, auth=False)
            except AuthNotEnabled:
                self._token = ""  # a cluster without auth: requests need no token
                return
            token = out.get("token")
            if not isinstance(token, str) or not token:
                raise StoreCorrupt(
                    f"etcd at {self.describe()} answered authenticate without a token"
                )
            self._token = token

    # -- requests ------------------------------------------------------------------------
    def call(
        self, path: str, body: Json, *, timeout: float | None = None, idempotent: bool = False
    ) -> Json:
        """POST `body` to `path` on the first endpoint that accepts a connection; an
        `idempotent` request (a read) also moves on after a reset or a timeout."""
        payload = json.dumps(body).encode()
        return self._with_token(lambda: self._call(path, payload, timeout, idempotent))

    def _call(
        self, path: str, payload: bytes, timeout: float | None, idempotent: bool, auth: bool = True
    ) -> Json:
        failures: list[str] = []
        tls_failures = 0
        n = len(self.endpoints)
        for step in range(n):
            index = (self._preferred + step) % n
            try:
                status, data = self._post(index, path, payload, timeout or self.timeout, auth)
            except ConnectionRefusedError:
                self._drop(index)
                failures.append(f"{self.endpoints[index]} refused the connection")
                continue
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                if sec.tls_refusal(exc):  # refused in the handshake: etcd never saw it
                    self._drop(index)
                    failures.append(
                        sec.describe_tls_failure(self.endpoints[index], exc, self.security)
                    )
                    tls_failures += 1
                    continue
                if not idempotent:
                    raise self._ambiguous(index, path, exc, timeout) from exc
                self._drop(index)
                failures.append(f"{self.endpoints[index]} failed: {exc!r}")
                continue
            self._preferred = index
            try:
                return self._decode(index, path, status, data)
            except TokenRejected:
                raise
            except StoreUnavailable as exc:
                if failures:  # say which members were unreachable too
                    raise StoreUnavailable(
                        f"{exc} ({'; '.join(failures)})", delay=exc.delay
                    ) from exc
                raise
        if tls_failures == n:
            raise ConfigError("; ".join(failures))
        raise StoreUnavailable(
            f"no etcd member reachable at {self.describe()}: {'; '.join(failures)}; "
            "start the cluster or fix [store] endpoints"
        )

    def _ambiguous(
        self, index: int, path: str, exc: Exception, timeout: float | None
    ) -> StoreUnavailable:
        """A write whose fate is unknown: report it; the caller's next compare decides."""
        self._drop(index)
        if isinstance(exc, TimeoutError):
            return StoreUnavailable(
                f"etcd {self.endpoints[index]} did not answer {path} within "
                f"{timeout or self.timeout}s (the write may or may not have landed; "
                f"the next attempt re-reads): {exc}"
            )
        return StoreUnavailable(
            f"etcd {self.endpoints[index]} dropped the connection during {path} "
            f"({exc!r}); retrying re-reads and decides again"
        )

    def _post(
        self, index: int, path: str, payload: bytes, timeout: float, auth: bool
    ) -> tuple[int, bytes]:
        conn = self._connection(index, timeout)
        fresh = conn.sock is None
        headers = self._headers(auth)
        if fresh and self._tls is not None:
            try:
                conn.connect()  # the handshake alone, so its failures tell what they are
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
                raise sec.TlsRefused(exc, in_handshake=True) from exc
        try:
            try:
                conn.request("POST", path, payload, headers)
            except (BrokenPipeError, ConnectionResetError, http.client.CannotSendRequest):
                if fresh and self._tls is not None:
                    raise  # not stale: refused in the handshake (below)
                # a stale keep-alive connection: nothing was sent, so one reconnect is safe
                self._drop(index)
                conn = self._connection(index, timeout)
                fresh = True
                conn.request("POST", path, payload, headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
            if fresh and self._tls is not None:
                # etcd's (Go's) TLS server checks our certificate before it reads a
                # request, and TLS 1.3 tells us only on our first read: a new connection
                # that fails before any answer was refused in the handshake
                raise sec.TlsRefused(exc, in_handshake=False) from exc
            raise

    def _decode(self, index: int, path: str, status: int, data: bytes) -> Json:
        try:
            out = json.loads(data)
        except ValueError as exc:
            if sec.GATEWAY_CN in data:
                raise sec.gateway_cn_refusal(self.endpoints[index], self.security) from exc
            raise StoreCorrupt(
                f"etcd {self.endpoints[index]} answered {path} with non-JSON (HTTP {status}); "
                "is [store] endpoints pointing at an etcd v3 client URL?"
            ) from exc
        if status == 200 and isinstance(out, dict) and "error" not in out:
            return out
        message = (
            str(out.get("message") or out.get("error") or out)
            if isinstance(out, dict)
            else str(out)
        )
        self._refusal(index, path, message)
        if "no leader" in message:
            raise StoreUnavailable(
                f"etcd at {self.describe()} has no leader ({message}): {NO_LEADER_HINT}",
                delay=1.0,
            )
        if "leader changed" in message or "timed out" in message:
            raise StoreUnavailable(
                f"etcd at {self.describe()} is electing a leader ({message}); retrying helps "
                "within a few election timeouts, else a majority of members is down",
                delay=0.5,
            )
        if "compacted" in message:
            raise StoreUnavailable(
                f"etcd {self.endpoints[index]}: {message} (a snapshot read raced compaction); "
                "retrying reads the current revision"
            )
        if "space exceeded" in message:
            raise StoreUnavailable(
                f"etcd at {self.describe()} is out of space ({message}): compact and defragment "
                "it (etcdctl compact / defrag / alarm disarm) or raise --quota-backend-bytes",
                delay=5.0,
            )
        if "too many operations" in message or "too large" in message:
            raise ConfigError(
                f"etcd {self.endpoints[index]} refused a Txn: {message}; the store's "
                "max_txn_ops must not exceed the cluster's --max-txn-ops (and a request must "
                "fit --max-request-bytes): lower the one or raise the other"
            )
        if status in (502, 503, 504) or "unavailable" in message.lower():
            raise StoreUnavailable(f"etcd {self.endpoints[index]} unavailable: {message}")
        raise StoreCorrupt(
            f"etcd {self.endpoints[index]} rejected {path}: {message} (HTTP {status})"
        )

    def _refusal(self, index: int, path: str, message: str) -> None:
        """Raise for etcd's auth answers: a token to renew, or a setting to fix."""
        if any(m in message for m in sec.TOKEN_RETRY):
            raise TokenRejected(
                f"etcd {self.endpoints[index]} did not take the auth token ({message}) even "
                "just after authenticating: are tokens expiring within a round trip "
                "(--auth-token-ttl)?",
                answer=message,
            )
        if "authentication is not enabled" in message:
            raise AuthNotEnabled(message)
        if "authentication failed" in message:
            raise sec.bad_credentials(self.describe(), self.security, message)
        if "permission denied" in message:
            if self.security.username is None:  # what etcd answers a request with no user
                raise sec.needs_credentials(self.describe(), message)
            raise sec.permission_denied(self.endpoints[index], path, self.security, message)

    # -- operations ----------------------------------------------------------------------
    def txn(
        self,
        compare: list[Json],
        success: list[Json],
        failure: list[Json] | None = None,
        *,
        idempotent: bool = False,
    ) -> TxnResult:
        body = {"compare": compare, "success": success, "failure": failure or []}
        out = self.call("/v3/kv/txn", body, idempotent=idempotent)
        try:
            ranges = [
                [decode_kv(kv) for kv in r.get("response_range", {}).get("kvs", [])]
                for r in out.get("responses", [])
            ]
            return TxnResult(bool(out.get("succeeded")), int(out["header"]["revision"]), ranges)
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreCorrupt(
                f"etcd at {self.describe()} sent a malformed txn answer: {exc}"
            ) from exc

    def read(self, ops: list[Json], *, revision: int = 0) -> TxnResult:
        """Several ranges at one revision (a read-only Txn; `revision` pins an old one)."""
        if revision:
            ops = [
                {"request_range": {**op["request_range"], "revision": str(revision)}} for op in ops
            ]
        return self.txn([], ops, idempotent=True)

    def watch(self, key: bytes, start_revision: int, timeout: float) -> int:
        """Block until `key` changes at or after `start_revision`, or `timeout` passes;
        return the revision seen (0 on timeout). One short-lived stream per call."""
        body = {"create_request": {"key": b64(key), "start_revision": str(start_revision)}}
        payload = json.dumps(body).encode()
        return self._with_token(lambda: self._watch(payload, timeout))

    def _watch(self, payload: bytes, timeout: float) -> int:
        index = self._preferred
        conn = self._connect(index, timeout)
        try:
            conn.request("POST", "/v3/watch", payload, self._headers())
            resp = conn.getresponse()
            if resp.status != 200:
                self._decode(index, "/v3/watch", resp.status, resp.read())  # raises if refused
                return 0
            for message in _json_stream(resp):
                result = message.get("result", {})
                if result.get("canceled"):  # how etcd refuses a watch: auth, permission
                    self._refusal(index, "a watch", str(result.get("cancel_reason", "")))
                    if int(result.get("compact_revision", 0)):  # history compacted away:
                        return int(result["compact_revision"])  # wake the caller to re-read
                events = result.get("events", [])
                if events:
                    return max(int(e["kv"]["mod_revision"]) for e in events)
        except TimeoutError:
            return 0
        except ssl.SSLError as exc:
            if sec.tls_refusal(exc):
                raise ConfigError(
                    sec.describe_tls_failure(self.endpoints[index], exc, self.security)
                ) from exc
            raise StoreUnavailable(f"etcd watch on {self.describe()} failed: {exc!r}") from exc
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            raise StoreUnavailable(f"etcd watch on {self.describe()} failed: {exc!r}") from exc
        finally:
            conn.close()
        return 0

    def close(self) -> None:
        """Close every thread's connections; the client may be used again after."""
        with self._open_lock:
            conns, self._open = list(self._open.values()), {}
        for conn in conns:
            conn.close()

    def __enter__(self) -> EtcdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_stream(resp: http.client.HTTPResponse) -> Iterator[Json]:
    """The gateway streams one JSON object per chunk/line."""
    buffer = b""
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)

"""Planner leadership on etcd: one leader by lease, and publishes fenced by it.

Rules kept here:
- a candidate becomes leader by creating `P/leader` bound to its own lease, in one Txn
  that compares the key does not exist; the key vanishes when the lease expires (the
  leader died or was partitioned for longer than the TTL), so a standby's next campaign
  takes over within one TTL plus one campaign interval;
- while it leads, every publish Txn of this store also compares that `P/leader` is
  still bound to this lease (`EtcdStore.publish_fence`): a leader that was paused past
  its TTL and lost the key can never publish, whatever it believes;
- a keep-alive that finds the lease gone (TTL 0) or the key taken means leadership is
  lost at once: `NotLeader`, never a retry that might publish;
- foreign errors are the store's: StoreUnavailable when etcd is unreachable (the caller
  stops publishing until it can prove it still leads).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from zonewarden.errors import NotLeader, RetryableError, StoreCorrupt
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.store import EtcdStore

__all__ = ["LeaderLease", "NotLeader"]


class LeaderLease:
    def __init__(self, store: EtcdStore, candidate: str, ttl: int = 2) -> None:
        if ttl < 1:
            raise ValueError(f"leader lease TTL {ttl} s must be >= 1")
        self.store, self.candidate, self.ttl = store, candidate, ttl
        self.key = store.keys._k("leader", "planner")
        self.lease = 0
        self.renewed_at = 0.0
        store.publish_fence = (_never(),)  # a candidate publishes only while it leads

    @property
    def leading(self) -> bool:
        return self.lease != 0

    def holder(self) -> str | None:
        kvs = self.store._read([ec.get(self.key)])[1][0]
        return kvs[0].value.decode() if kvs else None

    def campaign(self) -> bool:
        """Try to become leader; True if this candidate now leads."""
        if self.leading:
            return self.keepalive()
        lease = self._grant()
        put = ec.put(self.key, self.candidate.encode())
        put["request_put"]["lease"] = str(lease)
        res = self.store.client.txn([_absent(self.key)], [put])
        if not res.succeeded:
            self._revoke(lease)
            return False
        self._lead(lease)
        self.store.record(
            self.candidate, "leader", now=time.time(), detail=f"lease {lease:x} ttl {self.ttl} s"
        )
        return True

    def keepalive(self) -> bool:
        """Renew the lease; False (and no longer leading) when it lapsed or was taken."""
        if not self.leading:
            return False
        out = self.store.client.call("/v3/lease/keepalive", {"ID": str(self.lease)})
        result: dict[str, Any] = out.get("result", out)
        ttl = int(result.get("TTL", 0) or 0)
        if ttl <= 0 or self.holder() != self.candidate:
            self._step_down("lease lapsed" if ttl <= 0 else "key taken")
            return False
        self.renewed_at = time.monotonic()
        return True

    def resign(self) -> None:
        if self.leading:
            lease = self.lease
            self._step_down("resigned")
            self._revoke(lease)

    def _lead(self, lease: int) -> None:
        self.lease = lease
        self.renewed_at = time.monotonic()
        self.store.publish_fence = (_bound_to(self.key, lease),)

    def _step_down(self, why: str) -> None:
        self.lease = 0
        self.store.publish_fence = (_never(),)  # until the next campaign: publish nothing
        self.store.record(self.candidate, "leader-lost", now=time.time(), detail=why)

    def _grant(self) -> int:
        out = self.store.client.call("/v3/lease/grant", {"TTL": str(self.ttl)})
        try:
            return int(out["ID"])
        except (KeyError, ValueError) as exc:
            raise StoreCorrupt(f"etcd lease grant answered without an ID: {out}") from exc

    def _revoke(self, lease: int) -> None:
        with contextlib.suppress(RetryableError):  # else it expires by itself within the TTL
            self.store.client.call("/v3/lease/revoke", {"ID": str(lease)})


def _absent(key: bytes) -> dict[str, Any]:
    return {"key": ec.b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def _bound_to(key: bytes, lease: int) -> dict[str, Any]:
    return {"key": ec.b64(key), "target": "LEASE", "result": "EQUAL", "lease": str(lease)}


def _never() -> dict[str, Any]:
    """A compare that fails: the leader key bound to lease 0 means 'no lease'."""
    return {
        "key": ec.b64(b"\0zonewarden-never"),
        "target": "CREATE",
        "result": "GREATER",
        "create_revision": "0",
    }

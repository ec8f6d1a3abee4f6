"""Shared machinery of the etcd store: opening, snapshot reads, optimistic commits,
audit rows and value helpers. The rules it serves are in `store.py`'s docstring."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from zonewarden.core.model import (
    Content,
    EndpointName,
    Generation,
    PlanHeader,
    ZoneEntry,
)
from zonewarden.errors import StoreCorrupt, StoreUnavailable
from zonewarden.resilience.backoff import Backoff
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.client import EtcdClient
from zonewarden.stores.etcd.keys import (
    SCHEMA_VERSION,
    Keys,
    decode_content,
    decode_zone,
    dumps,
    encode_zone,
    loads,
)
from zonewarden.stores.etcd.ops import KV
from zonewarden.stores.etcd.security import Security

T = TypeVar("T")
AUDIT_SLOTS = 10_000
PLAN_CACHE = 16  # plans kept in memory per process (immutable, so never stale)
MAX_ATTEMPTS = 200
# a lost compare is retried after a fully jittered back-off, so racing writers spread out
# (mean wait at the cap 50 ms, as the fixed back-off it replaces)
COMPARE_BACKOFF = Backoff(base=0.0005, cap=0.1, name="etcd-compare")
Audit = tuple[str, str, int, str]  # kind, endpoint, generation, detail


class Conflict(Exception):
    """A compare failed: somebody wrote what this decision read. Re-read and retry."""


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class EtcdBase:
    """Connection, key layout and the read/commit/retry helpers every part uses."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        prefix: str = "/zonewarden",
        timeout: float = 3.0,
        max_txn_ops: int = 128,
        open_timeout: float = 10.0,
        security: Security | None = None,
    ) -> None:
        self.client = EtcdClient(endpoints, timeout=timeout, security=security)
        self.keys = Keys(prefix)
        self.max_txn_ops = max_txn_ops
        self.batch = max(1, (max_txn_ops - 3) // 2)  # endpoints per Txn: 2 ops each + fixed
        self._pinned = threading.local()
        self._compare_rng = random.Random()  # jitter only: never part of a decision
        self._plans: dict[Generation, dict[EndpointName, Content]] = {}
        self._maps: dict[Generation, dict[EndpointName, str]] = {}  # digest maps (content.py)
        self._by_digest: dict[str, Content] = {}  # contents by digest (content.py)
        try:
            self._open(time.monotonic() + open_timeout)
        except BaseException:
            self.client.close()  # nobody gets a store to close: close its connections here
            raise

    def _open(self, deadline: float) -> None:
        while True:  # a process may start while the cluster elects a leader: wait a little
            try:
                self._check_schema()
                return
            except StoreUnavailable:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def _check_schema(self) -> None:
        k = self.keys.schema
        res = self.client.txn(  # create-if-absent: safe to resend, so idempotent
            [ec.compare_mod(k, 0)],
            [ec.put(k, SCHEMA_VERSION.encode()), ec.put(self.keys.frozen, b"0")],
            [ec.get(k)],
            idempotent=True,
        )
        if not res.succeeded:
            found = res.ranges[0][0].value.decode(errors="replace") if res.ranges[0] else "?"
            if found == "1":
                self._retrying("schema 1 to 3 migration", self._migrate_from_1)
            elif found == "2":
                self._retrying("schema 2 to 3 migration", self._migrate_from_2)
            elif found != SCHEMA_VERSION:
                raise StoreCorrupt(
                    f"etcd prefix {self.keys.prefix} at {self.client.describe()} holds schema "
                    f"{found!r}, this ZoneWarden reads {SCHEMA_VERSION}: use another [store] prefix"
                )

    def _migrate_from_1(self) -> None:
        """Schema 1 had no change log: raise the log's floor to now, so a reader of an
        older zone version reads the whole zone once, and mark the prefix schema 3 (what
        schema 2 added to plans needs no migration, see `_migrate_from_2`).
        Stop schema-1 processes first: their writes would not be logged."""
        k = self.keys
        rev, (schema,) = self._read([ec.get(k.schema)])
        if schema and schema[0].value != b"1":
            return  # another process migrated it
        self._commit(
            [ec.compare_value(k.schema, "EQUAL", b"1")],
            [
                ec.put(k.schema, SCHEMA_VERSION.encode()),
                ec.put(k.changes_floor, str(rev).encode()),
                *self._bump_zone([]),
            ],
        )

    def _migrate_from_2(self) -> None:
        """Schema 2 copied every endpoint's content into every plan (`pe/<gen>/<name>`);
        schema 3 stores each content once and a plan as a map of digests. Nothing is
        rewritten: every reader reads both layouts, schema 2's plans age out through
        clean-up (which deletes either layout), and a plan published after a schema-2
        plan starts a span for every endpoint. Marking the prefix 3 makes a process of
        an older ZoneWarden refuse it at open rather than misread new plans. Stop
        schema-2 processes first: one still running finds no endpoints in new plans
        (its writes say missing-plan, never empty) and its clean-up queues nothing for
        `gc.py`, so contents its deletions free stay until a later check finds them."""
        k = self.keys
        _, (schema,) = self._read([ec.get(k.schema)])
        if schema and schema[0].value != b"2":
            return  # another process migrated it
        self._commit(
            [ec.compare_value(k.schema, "EQUAL", b"2")],
            [ec.put(k.schema, SCHEMA_VERSION.encode())],
        )

    def close(self) -> None:
        self.client.close()

    # -- reading and committing ------------------------------------------------------------
    def _read(self, ops: list[dict[str, Any]], revision: int = 0) -> tuple[int, list[list[KV]]]:
        res = self.client.read(ops, revision=revision or getattr(self._pinned, "rev", 0))
        return res.revision, res.ranges

    @contextlib.contextmanager
    def _consistent(self) -> Iterator[None]:
        if getattr(self._pinned, "rev", 0):
            yield
            return
        self._pinned.rev, _ = self._read([ec.get(self.keys.schema)])
        try:
            yield
        finally:
            self._pinned.rev = 0

    def consistent_read(self) -> contextlib.AbstractContextManager[None]:
        """Group several reads into one snapshot: `with store.consistent_read(): ...`."""
        return self._consistent()

    def _commit(self, compares: list[dict[str, Any]], ops: list[dict[str, Any]]) -> int:
        res = self.client.txn(compares, ops)
        if not res.succeeded:
            raise Conflict()
        return res.revision

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        for n in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except Conflict:
                time.sleep(COMPARE_BACKOFF.delay(n, self._compare_rng))
        raise StoreUnavailable(
            f"{what}: {MAX_ATTEMPTS} attempts lost their compare to concurrent writers on "
            f"{self.client.describe()}; retry later"
        )

    def _audit_op(self, actor: str, now: float, rows: Sequence[Audit]) -> list[dict[str, Any]]:
        if not rows:
            return []
        body = [[now, actor, kind, ep, g, detail] for kind, ep, g, detail in rows]
        return [ec.put(self.keys.audit(uuid.uuid4().hex), dumps(body))]

    def _zone_put(self, g: int, name: str, content: Content) -> dict[str, Any]:
        return ec.put(self.keys.zone(name), encode_zone(g, content))

    def _zone_writes(
        self, g: int, name: str, content: Content, live: ZoneEntry | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """The zone put, and whether the served content changes (the caller then logs
        the name with `_bump_zone`, once per Txn)."""
        changed = live is None or live.content.digest != content.digest
        return [self._zone_put(g, name, content)], changed

    def _bump_zone(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """For a Txn that changes served content: touch the zone version (what
        `watch_zone` wakes on) and log the changed names (what `changed_since` reads),
        two puts per Txn whatever its size."""
        return [
            ec.put(self.keys.zone_version, b""),
            ec.put(self.keys.change(uuid.uuid4().hex), dumps(sorted(names))),
        ]

    @staticmethod
    def _one(kvs: list[KV]) -> KV | None:
        return kvs[0] if kvs else None

    @staticmethod
    def _mod(kv: KV | None) -> int:
        return kv.mod_revision if kv is not None else 0

    def _is_frozen(self, kv: KV | None) -> bool:
        return kv is not None and kv.value == b"1"

    def _zone_of(self, kvs: list[KV]) -> dict[EndpointName, tuple[ZoneEntry, KV]]:
        out = {}
        for kv in kvs:
            name = self.keys.tail(kv.key, self.keys.zones)
            out[EndpointName(name)] = (decode_zone(name, kv.value, kv.key), kv)
        return out

    def _header(self, g: int, kv: KV | None) -> PlanHeader | None:
        if kv is None:
            return None
        body = loads(kv.value, kv.key)
        try:
            return PlanHeader(
                Generation(g),
                body["digest"],
                int(body["count"]),
                float(body["created_at"]),
                body["source"],
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreCorrupt(f"etcd key {kv.key!r}: bad plan header ({exc})") from exc

    def _plan_contents(self, g: int, kvs: list[KV]) -> dict[EndpointName, Content]:
        base = self.keys.plan_endpoints(g)
        return {
            EndpointName(self.keys.tail(kv.key, base)): decode_content(kv.value, kv.key)[0]
            for kv in kvs
        }

    def _generations(self, kvs: list[KV]) -> dict[Generation, KV]:
        return {self.keys.generation_of(kv.key, self.keys.plans): kv for kv in kvs}

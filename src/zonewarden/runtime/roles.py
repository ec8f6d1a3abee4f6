"""One live process per role: the planner, and each enactor id, hold a lease in the store.

Rules kept here:
- a role is claimed at start with the store's atomic `try_lock` (an SQLite transaction,
  an etcd Txn compared on the key's revision) under a TTL, and renewed on every beat;
  a second planner, or a second `enactor --id az1`, beside a live one is refused with
  RoleTaken, naming the holder's heartbeat;
- a process that finds its lease taken over (it was stopped or cut off longer than the
  TTL and another took the role) stops instead of writing beside the new holder;
- the owner is stable for one supervised child across restarts (`up` passes
  ZONEWARDEN_ROLE_OWNER), so a crashed child restarted by `up` takes its own lease back
  at once instead of waiting out the TTL; a clean exit releases the lease.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Protocol, runtime_checkable

from zonewarden.core.model import EndpointName
from zonewarden.errors import RoleTaken, ZoneWardenError
from zonewarden.ports import Heartbeat

LEASE_TTL = 10.0
OWNER_ENV = "ZONEWARDEN_ROLE_OWNER"
log = logging.getLogger("zonewarden.roles")


def default_owner() -> str:
    return os.environ.get(OWNER_ENV) or (
        f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )


@runtime_checkable
class LeaseStore(Protocol):
    """What a lease needs of a store: the atomic TTL lock every store has (see
    ports.LegacyStore) and the heartbeats, to name the holder."""

    def try_lock(self, name: EndpointName, owner: str, *, now: float, ttl: float) -> bool: ...

    def unlock(self, name: EndpointName, owner: str) -> None: ...

    def heartbeats(self) -> list[Heartbeat]: ...


class RoleLease:
    def __init__(
        self, store: LeaseStore, role: str, *, owner: str | None = None, ttl: float = LEASE_TTL
    ) -> None:
        self.store, self.role, self.ttl = store, role, ttl
        self.owner = owner or default_owner()
        self.name = EndpointName(f"role:{role}")
        self.held = False
        self._renewed = 0.0

    def claim(self, now: float) -> None:
        """Take the role, or raise RoleTaken when a live process holds it."""
        if not self.store.try_lock(self.name, self.owner, now=now, ttl=self.ttl):
            raise RoleTaken(
                f"another {self.role} already runs on this region ({self._holder(now)}); "
                f"stop it first, or wait {self.ttl:.0f}s if it has just died"
            )
        self.held, self._renewed = True, now

    def renew(self, now: float) -> None:
        """Extend the lease (at most every second); RoleTaken when another took it over."""
        if not self.held or now - self._renewed < min(1.0, self.ttl / 4):
            return
        try:
            ok = self.store.try_lock(self.name, self.owner, now=now, ttl=self.ttl)
        except ZoneWardenError as exc:  # the store is down: the lease runs on until it returns
            log.debug("%s: lease not renewed: %s", self.role, exc)
            return
        if not ok:
            self.held = False
            raise RoleTaken(
                f"{self.role}: another process took over this role while this one could not "
                f"renew its lease ({self._holder(now)}); stopping so that only one writes"
            )
        self._renewed = now

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                self.store.unlock(self.name, self.owner)
            except ZoneWardenError as exc:
                log.debug("%s: lease not released (it expires by itself): %s", self.role, exc)

    def _holder(self, now: float) -> str:
        actor = "planner" if self.role == "planner" else self.role.removeprefix("enactor ")
        try:
            beats = [h for h in self.store.heartbeats() if h.actor == actor]
        except ZoneWardenError:
            beats = []
        if not beats:
            return "it has not sent a heartbeat yet"
        return f"its last heartbeat was {max(0.0, now - beats[0].at):.1f}s ago"


def claim(store: object, role: str) -> RoleLease:
    """Claim `role` on `store` (every store has the TTL lock; the port types do not say so)."""
    if not isinstance(store, LeaseStore):
        raise TypeError(f"{type(store).__name__} has no try_lock/unlock for role leases")
    lease = RoleLease(store, role)
    lease.claim(time.time())
    return lease

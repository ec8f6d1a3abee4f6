"""ZoneWarden's one exception tree.

Foreign exceptions are translated once, at the adapter edge, into these::

    ZoneWardenError
    ├── PermanentError            retrying will not help; a person must act
    │   ├── ConfigError           bad config value (file, line, what to do)
    │   ├── PlanRejected          a plan failed a safety gate (gate, endpoint, numbers)
    │   ├── StoreCorrupt          the store file/cluster is damaged or not a ZoneWarden store
    │   ├── StoreReadOnly         the store's file or directory cannot be written
    │   ├── StoreBusy             another `up` already owns this store
    │   ├── RoleTaken             a live process already runs this planner/enactor role
    │   ├── NotFound              asked for a plan, endpoint or enactor that does not exist
    │   ├── MissingExtra          an optional dependency is not installed
    │   └── BackendRejected       a DNS backend refuses us for good (TSIG key, zone, verify)
    └── RetryableError            try again after `delay` seconds
        ├── StoreUnavailable      store unreachable, locked or without quorum
        │   └── StoreFull         the store's disk (or etcd's quota) is full
        ├── BackendUnavailable    a DNS backend did not answer or refused for now
        ├── HealthUnavailable     the health source cannot be read (planner holds: fail-static)
        ├── PublishConflict       a compare-and-set publish lost: someone published first
        └── NotLeader             this planner does not hold the leader lease (etcd)

Every error carries a message that says what happened and what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence


class ZoneWardenError(Exception):
    """Base of every error ZoneWarden raises on purpose."""


class PermanentError(ZoneWardenError):
    """Retrying will not help: fix the input or the environment."""


class RetryableError(ZoneWardenError):
    """A transient failure; the caller may retry after `delay` seconds."""

    def __init__(self, message: str, *, delay: float = 0.5) -> None:
        super().__init__(message)
        self.delay = delay


class ConfigError(PermanentError):
    """A config value is wrong; the message names the file and line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        where = ""
        if file is not None:
            where = f"{file} line {line}: " if line is not None else f"{file}: "
        super().__init__(where + message)
        self.file = file
        self.line = line
        self.reason = message


class PlanRejected(PermanentError):
    """A plan (or one endpoint of it) failed a safety gate."""

    def __init__(self, violations: Sequence[object]) -> None:
        self.violations = list(violations)
        lines = "; ".join(str(v) for v in self.violations)
        super().__init__(f"plan rejected: {lines}")


class StoreCorrupt(PermanentError):
    """The store exists but is not a readable ZoneWarden store."""


class StoreReadOnly(PermanentError):
    """The store's file or directory is read-only (a read-only mount or permissions)."""


class StoreBusy(PermanentError):
    """Another process already owns the store for `up`."""


class RoleTaken(PermanentError):
    """A live process already holds this role (the planner, or an enactor id)."""


class NotFound(PermanentError):
    """A named plan, endpoint, load balancer or enactor does not exist."""


class MissingExtra(PermanentError):
    """An optional dependency is missing; the message names the pip extra."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs an optional dependency: pip install 'zonewarden[{extra}]'"
        )
        self.extra = extra


class BackendRejected(PermanentError):
    """A DNS backend rejected the request in a way retrying cannot fix (wrong TSIG key,
    server not authoritative for the zone, read-back verification failed)."""


class StoreUnavailable(RetryableError):
    """The store could not be reached or is locked for now."""


class StoreFull(StoreUnavailable):
    """The store cannot grow: its disk is full (or etcd is out of space); retry later."""

    def __init__(self, message: str, *, delay: float = 5.0) -> None:
        super().__init__(message, delay=delay)


class BackendUnavailable(RetryableError):
    """A DNS backend did not answer or refused for now."""


class HealthUnavailable(RetryableError):
    """The health source could not be read; the planner holds the last good plan."""


class PublishConflict(RetryableError):
    """A publish that expected a newest generation found a newer one (an operator's pin
    or rollback, a repair, another planner): re-plan on top of the newest and retry."""

    def __init__(self, expected: int, newest: int) -> None:
        super().__init__(
            f"publish expected newest generation {expected} but found {newest}: someone "
            "else published first; re-planning on top of it",
            delay=0.0,
        )
        self.expected, self.newest = expected, newest


def check_expected(expected: int | None, newest: int) -> None:
    """The compare of a compare-and-set publish, one rule for every store."""
    if expected is not None and newest != expected:
        raise PublishConflict(expected, newest)


class NotLeader(RetryableError):
    """This planner does not hold the leader lease: another planner leads, or its own
    lease lapsed; it publishes nothing until it wins a campaign again."""

"""Domain values: load balancers, endpoints, records, plans.

Rules kept here:
- every value is a frozen, slotted dataclass; collections are tuples in canonical order;
- an endpoint plan's digest covers exactly what is served (ttl, policy, records), so two
  plans that serve the same answers for an endpoint have the same endpoint digest;
- a plan's digest covers its endpoints' names and digests, not its generation;
- generations are assigned by the store when a draft is published, never by callers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NewType

from zonewarden.core.names import canonical_name

Generation = NewType("Generation", int)
EndpointName = NewType("EndpointName", str)
LbId = NewType("LbId", str)

NO_GENERATION = Generation(0)


class Policy(StrEnum):
    """How the DNS server answers from an endpoint's weighted records."""

    WEIGHTED_ONE = "weighted-one"
    WEIGHTED_MULTI = "weighted-multi"


class RecordType(StrEnum):
    A = "A"
    AAAA = "AAAA"


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    """A target: an id, an availability zone, addresses, a capacity and a health state."""

    id: LbId
    az: str
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    capacity: int = 100
    healthy: bool = True

    def addresses(self, rtype: RecordType) -> tuple[str, ...]:
        return self.ipv4 if rtype is RecordType.A else self.ipv6


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A DNS name served by weighted address records from a set of load balancers."""

    name: EndpointName
    lbs: tuple[LbId, ...]
    record_types: tuple[RecordType, ...] = (RecordType.A,)
    ttl: int = 60
    policy: Policy = Policy.WEIGHTED_MULTI


@dataclass(frozen=True, slots=True, order=True)
class Record:
    """One weighted address record; ordering is the canonical order inside a plan."""

    rtype: RecordType
    address: str
    weight: int
    lb: LbId

    def as_json(self) -> list[object]:
        return [str(self.rtype), self.address, self.weight, str(self.lb)]

    @classmethod
    def from_json(cls, row: list[object]) -> Record:
        rtype, address, weight, lb = row
        return cls(RecordType(str(rtype)), str(address), int(str(weight)), LbId(str(lb)))


# one encoder for every digest: `json.dumps` with options builds a new one per call
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _record_order(r: Record) -> tuple[str, str, int, str]:
    """Record's own dataclass order as a sort key (one tuple per record, not per compare)."""
    return (r.rtype, r.address, r.weight, r.lb)


def canonical_json(value: object) -> str:
    """JSON with sorted keys and no whitespace: the input of every digest."""
    return _CANONICAL.encode(value)


def digest_of(value: object) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Content:
    """What one endpoint serves: ttl, policy and records in canonical order."""

    ttl: int
    policy: Policy
    records: tuple[Record, ...]
    digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        records = tuple(sorted(self.records, key=_record_order))
        object.__setattr__(self, "records", records)
        object.__setattr__(self, "digest", digest_of(self.as_json()))

    def as_json(self) -> dict[str, object]:
        return {
            "ttl": self.ttl,
            "policy": str(self.policy),
            "records": [r.as_json() for r in self.records],
        }

    @classmethod
    def from_json(cls, body: Mapping[str, object]) -> Content:
        rows = body["records"]
        assert isinstance(rows, list)
        return cls(
            ttl=int(str(body["ttl"])),
            policy=Policy(str(body["policy"])),
            records=tuple(Record.from_json(r) for r in rows),
        )

    @classmethod
    def restore(cls, ttl: int, policy: Policy, records: tuple[Record, ...], digest: str) -> Content:
        """Rebuild stored content without re-sorting or re-hashing (the store is trusted
        to return what it was given; readers that doubt it call `Content(...)`)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "ttl", ttl)
        object.__setattr__(obj, "policy", policy)
        object.__setattr__(obj, "records", records)
        object.__setattr__(obj, "digest", digest)
        return obj

    @property
    def weight_sum(self) -> int:
        return sum(r.weight for r in self.records)

    def count(self, rtype: RecordType | None = None) -> int:
        if rtype is None:
            return len(self.records)
        return sum(1 for r in self.records if r.rtype is rtype)


EMPTY_CONTENT = Content(ttl=0, policy=Policy.WEIGHTED_MULTI, records=())


@dataclass(frozen=True, slots=True)
class PlanDraft:
    """A plan before publication: every endpoint's content, no generation yet."""

    endpoints: Mapping[EndpointName, Content]
    digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        ordered = dict(sorted(self.endpoints.items()))
        object.__setattr__(self, "endpoints", MappingProxyType(ordered))
        object.__setattr__(self, "digest", _digest_in_order(ordered))

    def __hash__(self) -> int:
        return hash(self.digest)

    @classmethod
    def replacing(cls, base: PlanDraft, changes: Mapping[EndpointName, Content]) -> PlanDraft:
        """`base` with `changes` applied: equal to `PlanDraft({**base.endpoints,
        **changes})`, digest included. When every changed name is already in `base`
        the result keeps `base`'s (canonical) order and is not sorted again, which is
        most of the cost of a draft at 50,000 endpoints (the incremental planner)."""
        if any(name not in base.endpoints for name in changes):
            return cls({**base.endpoints, **changes})
        ordered = dict(base.endpoints)
        ordered.update(changes)
        draft = object.__new__(cls)
        object.__setattr__(draft, "endpoints", MappingProxyType(ordered))
        object.__setattr__(draft, "digest", _digest_in_order(ordered))
        return draft


def plan_digest(endpoints: Mapping[EndpointName, Content]) -> str:
    return _digest_in_order({name: endpoints[name] for name in sorted(endpoints)})


def _digest_in_order(ordered: Mapping[EndpointName, Content]) -> str:
    """The plan digest of endpoints already in canonical (sorted) order."""
    # one join and one update: the same bytes as an update per part, 5x faster at 50k
    text = "".join(f"{name}\0{content.digest}\n" for name, content in ordered.items())
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Plan:
    """A published, immutable plan: a generation and every endpoint's content."""

    generation: Generation
    endpoints: Mapping[EndpointName, Content]
    digest: str
    created_at: float = 0.0
    source: str = "planner"

    def __hash__(self) -> int:
        return hash((self.generation, self.digest))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plan):
            return NotImplemented
        return self.generation == other.generation and self.digest == other.digest

    @property
    def names(self) -> tuple[EndpointName, ...]:
        return tuple(self.endpoints)

    def draft(self) -> PlanDraft:
        return PlanDraft(dict(self.endpoints))


@dataclass(frozen=True, slots=True)
class PlanHeader:
    """What an enactor needs to know about a plan without loading its records."""

    generation: Generation
    digest: str
    endpoint_count: int
    created_at: float = 0.0
    source: str = "planner"


@dataclass(frozen=True, slots=True)
class ZoneEntry:
    """The live state of one endpoint: its applied generation and the records served."""

    name: EndpointName
    generation: Generation
    content: Content

    @property
    def empty(self) -> bool:
        return not self.content.records


def check_address(rtype: RecordType, text: str) -> str:
    """Return the canonical text of an address of `rtype`, or raise ValueError."""
    if rtype is RecordType.A:
        return str(ipaddress.IPv4Address(text))
    return str(ipaddress.IPv6Address(text))


def check_dns_name(text: str) -> EndpointName:
    """Return a fully-qualified, lower-cased DNS name, or raise ValueError with why.

    The rule is `core.names.canonical_name` (LDH labels, IDNs as A-labels)."""
    return EndpointName(canonical_name(text))


def contents_by_name(pairs: Iterable[tuple[EndpointName, Content]]) -> dict[EndpointName, Content]:
    return dict(sorted(pairs))

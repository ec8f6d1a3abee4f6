"""A deterministic synthetic zone for benchmarks, differential tests and demos.

Rules kept here: the same (count, seed) always gives the same endpoints; names sit at
several depths below the apex (so empty non-terminals exist); both policies, A-only,
AAAA-only and dual-stack endpoints, equal and unequal weights and a drained record
(weight 0) all occur; everything is published and applied through the store's own
fenced path (`publish` then `apply_if_newer`), never written around it.
"""

from __future__ import annotations

import random

from zonewarden.core.model import (
    Content,
    EndpointName,
    Generation,
    LbId,
    PlanDraft,
    Policy,
    Record,
    RecordType,
)
from zonewarden.ports import PlanStore, ZoneStore


def synthetic_contents(
    count: int, apex: str = "example.", seed: int = 1, records: int = 8
) -> dict[EndpointName, Content]:
    """`count` endpoints below `apex`, about `records` addresses each."""
    rng = random.Random(seed)
    out: dict[EndpointName, Content] = {}
    suffix = "" if apex == "." else apex
    for i in range(count):
        shape = i % 6
        name = EndpointName((f"ep{i}.svc.cell{i % 7}." if shape in (2, 3) else f"ep{i}.") + suffix)
        rtypes = {0: "A", 1: "A", 2: "AAAA", 3: "AB", 4: "A", 5: "AB"}[shape]
        n = records if i % 5 else max(1, records // 2 + 3)  # a few endpoints with fewer
        if i % 11 == 0:
            n = records + 4  # more than K: sampled without replacement
        recs: list[Record] = []
        for j in range(n):
            weight = 10 if i % 3 else rng.choice((0, 1, 5, 20)) if j else 7
            if "A" in rtypes or rtypes == "AB":
                addr = f"10.{(i >> 8) & 255}.{i & 255}.{j + 1}"
                recs.append(Record(RecordType.A, addr, weight, LbId(f"lb{j}")))
            if rtypes in ("AAAA", "AB"):
                addr6 = f"2001:db8:{i >> 16:x}:{i & 0xFFFF:x}::{j + 1:x}"
                recs.append(Record(RecordType.AAAA, addr6, weight, LbId(f"lb{j}")))
        policy = Policy.WEIGHTED_ONE if i % 4 == 1 else Policy.WEIGHTED_MULTI
        out[name] = Content(ttl=60 + (i % 3) * 30, policy=policy, records=tuple(recs))
    return out


def load(store: object, contents: dict[EndpointName, Content], *, now: float = 0.0) -> Generation:
    """Publish `contents` as one plan and apply it to every endpoint; returns its generation."""
    assert isinstance(store, PlanStore) and isinstance(store, ZoneStore)
    plan = store.publish(PlanDraft(contents), source="synthetic", actor="synthetic", now=now)
    names = list(plan.endpoints)
    for start in range(0, len(names), 1000):
        store.apply_if_newer(
            plan.generation, names[start : start + 1000], actor="synthetic", now=now
        )
    return plan.generation

"""Small builders shared by tests: regions, drafts and a sync enactor driver."""

from __future__ import annotations

import random

from zonewarden.core import enactor, legacy
from zonewarden.core.model import (
    Content,
    EndpointName,
    LbId,
    PlanDraft,
    Policy,
    Record,
    RecordType,
)
from zonewarden.dispatch import execute


def content(*addresses: str, weight: int = 10, ttl: int = 60) -> Content:
    return Content(
        ttl,
        Policy.WEIGHTED_MULTI,
        tuple(Record(RecordType.A, a, weight, LbId(f"lb-{a}")) for a in addresses),
    )


def draft(**endpoints: Content) -> PlanDraft:
    return PlanDraft(
        {EndpointName(k.replace("_", "-") + ".example."): v for k, v in endpoints.items()}
    )


def name(short: str) -> EndpointName:
    return EndpointName(short.replace("_", "-") + ".example.")


def run_enactor(
    store, actor: str, steps: int, *, config=None, protocol: str = "safe", seed: int = 0
):
    """Drive one enactor for `steps` actions against `store` (sleeps are instant)."""
    cfg = config or enactor.EnactorConfig(batch_size=2)
    machine = enactor if protocol == "safe" else legacy
    state, action = machine.start(actor)
    rng = random.Random(seed)
    for i in range(steps):
        result = execute(store, action, actor=actor, now=float(i))
        state, action = machine.step(cfg, state, result, rng)
    return state

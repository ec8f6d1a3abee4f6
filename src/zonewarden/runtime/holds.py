"""Operator holds on load balancers and AZs: `lb disable|enable`, `drain|undrain`.

Rules kept here: a hold names an LB or an AZ the region has (else NotFound listing the
known ones) and carries a reason; `disable` makes the planner treat the LB as failed,
under the removal budget like any failure; `drain` is the fast lane: it moves at once,
past the budget, on purpose; every set and clear is audited in the store's own write.
The planner picks holds up on its next tick; no restart.
"""

from __future__ import annotations

from zonewarden.config import Config
from zonewarden.core.policy import OperatorHold
from zonewarden.errors import NotFound
from zonewarden.ports import RegionStore


def check_target(config: Config, scope: str, name: str) -> None:
    region = config.region
    known = sorted(region.lbs) if scope == "lb" else sorted({lb.az for lb in region.lbs.values()})
    if name not in known:
        what = "load balancer" if scope == "lb" else "AZ"
        raise NotFound(f"no {what} {name!r} in this region (known: {', '.join(known)})")


def hold(
    store: RegionStore,
    config: Config,
    scope: str,
    name: str,
    kind: str,
    *,
    reason: str,
    actor: str,
    now: float,
) -> OperatorHold:
    check_target(config, scope, name)
    held = OperatorHold(scope, name, kind, reason, actor, now)
    store.set_operator_hold(held)
    return held


def release(
    store: RegionStore,
    config: Config,
    scope: str,
    name: str,
    kind: str,
    *,
    actor: str,
    now: float,
    reason: str = "",
) -> bool:
    check_target(config, scope, name)
    return store.clear_operator_hold(scope, name, kind, actor=actor, now=now, reason=reason)


def disable_lb(
    store: RegionStore, config: Config, lb: str, *, reason: str, actor: str, now: float
) -> OperatorHold:
    return hold(store, config, "lb", lb, "disable", reason=reason, actor=actor, now=now)


def enable_lb(store: RegionStore, config: Config, lb: str, *, actor: str, now: float) -> bool:
    return release(store, config, "lb", lb, "disable", actor=actor, now=now)


def drain(
    store: RegionStore,
    config: Config,
    scope: str,
    name: str,
    *,
    reason: str,
    actor: str,
    now: float,
) -> OperatorHold:
    return hold(store, config, scope, name, "drain", reason=reason, actor=actor, now=now)


def undrain(
    store: RegionStore, config: Config, scope: str, name: str, *, actor: str, now: float
) -> bool:
    return release(store, config, scope, name, "drain", actor=actor, now=now)

"""Differences between two plans, per endpoint, for `plan diff` and reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zonewarden.core.gates import removal_fraction
from zonewarden.core.model import Content, EndpointName


@dataclass(frozen=True, slots=True)
class Change:
    endpoint: str
    kind: str  # added, removed, changed
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "kind": self.kind, "detail": self.detail}


def diff_plans(
    a: Mapping[EndpointName, Content], b: Mapping[EndpointName, Content]
) -> list[Change]:
    out = []
    for name in sorted(set(a) | set(b)):
        before, after = a.get(name), b.get(name)
        if before is None:
            out.append(Change(name, "added", f"{len(after.records) if after else 0} records"))
        elif after is None:
            out.append(Change(name, "removed", f"{len(before.records)} records"))
        elif before.digest != after.digest:
            out.append(Change(name, "changed", describe(before, after)))
    return out


def describe(before: Content, after: Content) -> str:
    old = {(r.rtype, r.address): r.weight for r in before.records}
    new = {(r.rtype, r.address): r.weight for r in after.records}
    parts = []
    added = sorted(k[1] for k in set(new) - set(old))
    gone = sorted(k[1] for k in set(old) - set(new))
    reweighted = sorted(
        f"{k[1]} {old[k]}->{new[k]}" for k in set(old) & set(new) if old[k] != new[k]
    )
    if added:
        parts.append("+" + ",".join(added))
    if gone:
        parts.append("-" + ",".join(gone))
    if reweighted:
        parts.append("weights " + ", ".join(reweighted))
    if before.ttl != after.ttl:
        parts.append(f"ttl {before.ttl}->{after.ttl}")
    if before.policy != after.policy:
        parts.append(f"policy {before.policy}->{after.policy}")
    parts.append(f"moves {removal_fraction(before, after):.0%} of traffic")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class LbDelta:
    """How one load balancer's weight moved between two plans, and where."""

    lb: str
    before: int  # its weight in plan A (0: absent)
    after: int
    endpoints: tuple[str, ...]  # endpoints whose records of this LB changed

    def as_json(self) -> dict[str, object]:
        return {
            "lb": self.lb,
            "weight_before": self.before,
            "weight_after": self.after,
            "endpoints": len(self.endpoints),
        }


def lb_deltas(
    a: Mapping[EndpointName, Content], b: Mapping[EndpointName, Content]
) -> list[LbDelta]:
    """Per LB: its weight in A and in B and the endpoints where its records changed."""
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    touched: dict[str, list[str]] = {}
    for name in sorted(set(a) | set(b)):
        old, new = a.get(name), b.get(name)
        if old is not None and new is not None and old.digest == new.digest:
            continue
        olds = _by_lb(old)
        news = _by_lb(new)
        for lb in set(olds) | set(news):
            if olds.get(lb) != news.get(lb):
                touched.setdefault(lb, []).append(name)
            before[lb] = max(before.get(lb, 0), max((w for _, w in olds.get(lb, ())), default=0))
            after[lb] = max(after.get(lb, 0), max((w for _, w in news.get(lb, ())), default=0))
    return [
        LbDelta(lb, before.get(lb, 0), after.get(lb, 0), tuple(names))
        for lb, names in sorted(touched.items())
    ]


def _by_lb(content: Content | None) -> dict[str, frozenset[tuple[str, int]]]:
    out: dict[str, set[tuple[str, int]]] = {}
    for r in content.records if content is not None else ():
        out.setdefault(r.lb, set()).add((r.address, r.weight))
    return {lb: frozenset(v) for lb, v in out.items()}

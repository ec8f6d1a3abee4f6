"""Answer policy: which records one query gets, prepared as wire bytes ahead of time.

An `Answer` yields a `Rendered` (section counts and resource records, owner names
compressed to the question at offset 12) for each query. Rules kept here:
- records of weight 0 are drained: never served while any record has weight > 0;
- `weighted-one`: exactly one record, record i with probability w_i / W (Route 53
  weighted routing);
- `weighted-multi`, n <= K records: every record is served (the set is exact); the first
  address, the one most clients use, is record i with probability w_i / W, and the rest
  follow in canonical rotation; all n rotations are pre-built, so a query costs one rng
  draw and a bisect;
- `weighted-multi`, n > K: K records sampled by weight without replacement (successive
  sampling, the same as drawing one by one by weight), built per query;
- randomness comes only from the injected rng, so tests can check the distribution.
"""

from __future__ import annotations

import bisect
import heapq
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Protocol

from zonewarden.core.model import Policy


class Rng(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Rendered:
    """Counts (QD..AR, without and with an OPT) and the records of one response."""

    counts: bytes  # 8 bytes: QDCOUNT ANCOUNT NSCOUNT ARCOUNT=0
    counts_edns: bytes  # same with ARCOUNT=1
    records: bytes

    @classmethod
    def of(cls, answer: int, authority: int, records: bytes) -> Rendered:
        base = struct.pack("!HHH", 1, answer, authority)
        return cls(base + b"\x00\x00", base + b"\x00\x01", records)


class Answer(Protocol):
    def choose(self, rng: Rng) -> Rendered: ...


@dataclass(frozen=True, slots=True)
class Fixed:
    """The same records for every query (SOA, NS, single-record endpoints)."""

    rendered: Rendered

    def choose(self, rng: Rng) -> Rendered:
        return self.rendered


@dataclass(frozen=True, slots=True)
class WeightedChoice:
    """One of several pre-rendered answers, answer i with probability weights[i] / total."""

    cumulative: tuple[float, ...]
    choices: tuple[Rendered, ...]  # one more than cumulative: float rounding of x to total

    def choose(self, rng: Rng) -> Rendered:
        x = rng.random() * self.cumulative[-1]
        return self.choices[bisect.bisect_right(self.cumulative, x)]


@dataclass(frozen=True, slots=True)
class WeightedSample:
    """K of n records by weight without replacement (Efraimidis-Spirakis keys u**(1/w))."""

    k: int
    inverse_weights: tuple[float, ...]
    records: tuple[bytes, ...]

    def choose(self, rng: Rng) -> Rendered:
        keys = [rng.random() ** iw for iw in self.inverse_weights]
        picked = heapq.nlargest(self.k, range(len(keys)), keys.__getitem__)
        return Rendered.of(self.k, 0, b"".join([self.records[i] for i in picked]))


def build_answer(
    policy: Policy, rrs: Sequence[bytes], weights: Sequence[int], k: int
) -> Answer | None:
    """The Answer for one RRset of an endpoint; None when it has no records."""
    live = [(rr, w) for rr, w in zip(rrs, weights, strict=True) if w > 0]
    if not live:
        live = [(rr, 1) for rr in rrs]  # all drained: serve them evenly rather than nothing
    if not live:
        return None
    records = [rr for rr, _ in live]
    weight = [w for _, w in live]
    n = len(records)
    if n == 1:
        return Fixed(Rendered.of(1, 0, records[0]))
    cumulative = tuple(float(c) for c in accumulate(weight))
    if policy is Policy.WEIGHTED_ONE:
        return _choice(cumulative, [Rendered.of(1, 0, rr) for rr in records])
    if n <= k:
        rotations = [Rendered.of(n, 0, b"".join(records[i:] + records[:i])) for i in range(n)]
        return _choice(cumulative, rotations)
    return WeightedSample(k, tuple(1.0 / w for w in weight), tuple(records))


def _choice(cumulative: tuple[float, ...], choices: list[Rendered]) -> WeightedChoice:
    return WeightedChoice(cumulative, (*choices, choices[-1]))

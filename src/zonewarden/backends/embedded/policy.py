"""Answer policy: which records one query gets, prepared as wire bytes ahead of time.

An `Answer` holds its section counts (without and with an OPT record) and `pick(rng)`
returns the answer records for one query, owner names compressed to the question at
offset 12. Rules kept here:
- records of weight 0 are drained: never served while any record has weight > 0;
- `weighted-one`: exactly one record, record i with probability w_i / W (Route 53
  weighted routing);
- `weighted-multi`, n <= K records: every record is served (the set is exact); the first
  address, the one most clients use, is record i with probability w_i / W, and the rest
  follow in canonical rotation; an RRset's records all have one length (A: 16 octets,
  AAAA: 28), so rotation i is one slice of the records written twice;
- `weighted-multi`, n > K: K records sampled by weight without replacement (successive
  sampling, the same as drawing one by one by weight), built per query;
- randomness comes only from the injected rng, so tests can check the distribution;
- `pick` allocates at most the returned bytes: it runs once per query.
"""

from __future__ import annotations

import bisect
import heapq
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from typing import Protocol

from zonewarden.core.model import Policy


class Rng(Protocol):
    def random(self) -> float: ...


@cache
def section_counts(answer: int, authority: int, edns: bool) -> bytes:
    """QDCOUNT..ARCOUNT of a response with one question."""
    return struct.pack("!HHHH", 1, answer, authority, 1 if edns else 0)


@dataclass(frozen=True, slots=True)
class Answer:
    """Base of every answer: counts for one RRset of `answers` records."""

    answers: int
    counts: bytes = field(init=False)
    counts_edns: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", section_counts(self.answers, 0, False))
        object.__setattr__(self, "counts_edns", section_counts(self.answers, 0, True))

    def pick(self, rng: Rng) -> bytes:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Fixed(Answer):
    """The same records for every query (SOA, NS, single-record endpoints)."""

    records: bytes = b""

    def pick(self, rng: Rng) -> bytes:
        return self.records


@dataclass(frozen=True, slots=True)
class WeightedOne(Answer):
    """One record, record i with probability w_i / W."""

    cumulative: tuple[float, ...] = ()
    records: tuple[bytes, ...] = ()  # one more than cumulative: float rounding of x to W

    def pick(self, rng: Rng) -> bytes:
        return self.records[
            bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        ]


@dataclass(frozen=True, slots=True)
class WeightedRotation(Answer):
    """All n records, starting at record i with probability w_i / W."""

    cumulative: tuple[float, ...] = ()
    doubled: bytes = b""  # the records, twice
    size: int = 0  # octets per record

    def pick(self, rng: Rng) -> bytes:
        i = bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        start = min(i, self.answers - 1) * self.size
        return self.doubled[start : start + self.answers * self.size]


@dataclass(frozen=True, slots=True)
class WeightedSample(Answer):
    """K of n records by weight without replacement (Efraimidis-Spirakis keys u**(1/w))."""

    inverse_weights: tuple[float, ...] = ()
    records: tuple[bytes, ...] = ()

    def pick(self, rng: Rng) -> bytes:
        keys = [rng.random() ** iw for iw in self.inverse_weights]
        picked = heapq.nlargest(self.answers, range(len(keys)), keys.__getitem__)
        return b"".join([self.records[i] for i in picked])


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
    n = len(records)
    if n == 1:
        return Fixed(1, records[0])
    cumulative = tuple(float(c) for c in accumulate(w for _, w in live))
    if policy is Policy.WEIGHTED_ONE:
        return WeightedOne(1, cumulative, (*records, records[-1]))
    if n <= k:
        size = len(records[0])
        if all(len(r) == size for r in records):
            return WeightedRotation(n, cumulative, b"".join(records) * 2, size)
        return Fixed(n, b"".join(records))  # mixed lengths cannot happen for A/AAAA
    return WeightedSample(k, tuple(1.0 / w for _, w in live), tuple(records))

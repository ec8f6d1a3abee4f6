"""Many seeds of the default scenario: who failed, and what was reached.

Rules kept here: a seed's run depends on (protocol, seed) only, so a failing seed is
reproduced by one command (`replay_command`); runs go to worker processes in seed
order chunks and the summary is sorted by seed, so the summary does not depend on
`jobs` or on scheduling.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from zonewarden.sim.scenarios import run_scenario


@dataclass(frozen=True, slots=True)
class SeedResult:
    seed: int
    ok: bool
    first: tuple[tuple[str, float, str], ...]
    reached: tuple[str, ...]
    events: int


@dataclass
class SwarmSummary:
    protocol: str
    seeds: int = 0
    events: int = 0
    failures: list[SeedResult] = field(default_factory=list)
    reached: Counter[str] = field(default_factory=Counter)
    invariants: Counter[str] = field(default_factory=Counter)

    def add(self, r: SeedResult) -> None:
        self.seeds += 1
        self.events += r.events
        self.reached.update(r.reached)
        if not r.ok:
            self.failures.append(r)
            self.invariants.update(inv for inv, _, _ in r.first)

    @property
    def first_failure(self) -> int | None:
        return min((f.seed for f in self.failures), default=None)

    def as_json(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "seeds": self.seeds,
            "events": self.events,
            "failed": len(self.failures),
            "first_failing_seed": self.first_failure,
            "invariants": dict(sorted(self.invariants.items())),
            "reached": dict(sorted(self.reached.items())),
            "failures": [
                {
                    "seed": f.seed,
                    "breaches": [{"invariant": i, "t": t, "message": m} for i, t, m in f.first],
                    "replay": replay_command(self.protocol, f.seed),
                }
                for f in sorted(self.failures, key=lambda f: f.seed)
            ],
        }


def run_seed(protocol: str, seed: int) -> SeedResult:
    r = run_scenario("swarm", protocol, seed)
    first = tuple(sorted((inv, t, msg) for inv, (t, msg) in r.first.items()))
    return SeedResult(seed, r.ok, first, tuple(sorted(r.coverage)), r.events)


def _run_star(args: tuple[str, int]) -> SeedResult:
    return run_seed(*args)


def iter_results(protocol: str, seeds: Iterable[int], jobs: int = 1) -> Iterator[SeedResult]:
    """Results in completion order (seed order when jobs == 1)."""
    work = [(protocol, s) for s in seeds]
    if jobs <= 1:
        yield from (run_seed(p, s) for p, s in work)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        yield from pool.imap_unordered(_run_star, work, chunksize=8)


def run_swarm(
    protocol: str,
    seeds: Iterable[int],
    jobs: int = 1,
    on_result: Callable[[SeedResult], None] | None = None,
) -> SwarmSummary:
    summary = SwarmSummary(protocol)
    for r in iter_results(protocol, seeds, jobs):
        summary.add(r)
        if on_result is not None:
            on_result(r)
    summary.failures.sort(key=lambda f: f.seed)
    return summary


def replay_command(protocol: str, seed: int) -> str:
    return f"zonewarden sim seed --protocol {protocol} --seed {seed} --trace seed-{seed}.jsonl"

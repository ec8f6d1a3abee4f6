"""Sweeps over the cascade models: the hysteresis curve, the phase diagram of recovery,
and the October 2025 chain with each corrective action toggled.

Rules kept here: every cell of a sweep is an independent seeded run (cell seeds derive
from the sweep's seed and the cell's index, so `--jobs` never changes a result); the
analytic boundary drawn on the phase diagram is derived in docs/cascade.md and lives
in `fifo_boundary_hosts`, next to the sweep it is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from zonewarden.sim.cascade import scenarios
from zonewarden.sim.cascade.chain import ChainParams, ChainResult, run_chain
from zonewarden.sim.cascade.policies import Policy, parse_policy
from zonewarden.sim.cascade.service import ServiceModel

# -- hysteresis (Bronson et al.) ------------------------------------------------------------

UP = (50.0, 100.0, 150.0, 200.0, 250.0, 280.0)


@dataclass(frozen=True, slots=True)
class HysteresisRow:
    phase: str  # "up" or "down"
    load: float
    goodput: float  # mean over the second half of the step
    attempts: float


def hysteresis(
    seed: int = 1, hold: float = 30.0, outage: float = 10.0, policy: str = "fifo-retry"
) -> list[HysteresisRow]:
    """Offered load stepped up to 280/s and back down, an outage at the top."""
    steps = [("up", x) for x in UP] + [("down", x) for x in reversed(UP[:-1])]
    rates = tuple((i * hold, load) for i, (_, load) in enumerate(steps))
    peak = (len(UP) - 1) * hold
    base = scenarios.bronson(load=UP[0], outage=0.0, horizon=len(steps) * hold)
    p = replace(
        base,
        rates=rates,
        outages=((peak + hold / 4, peak + hold / 4 + outage),),
        trigger_end=peak + hold / 4 + outage,
    )
    r = ServiceModel(p, parse_policy(policy), seed).run()
    per_step = round(hold / p.sample)
    rows = []
    for i, (phase, load) in enumerate(steps):
        window = r.samples[i * per_step + per_step // 2 : (i + 1) * per_step]
        n = max(1, len(window))
        rows.append(
            HysteresisRow(phase, load, sum(s[3] for s in window) / n, sum(s[2] for s in window) / n)
        )
    return rows


# -- phase diagram: recovery over establishment timeout x backlog (the lease stage) --------


def fifo_boundary_hosts(workers: int, service: float, timeout: float) -> float:
    """FIFO with immediate re-queueing recovers iff the backlog is below 2 W (T - s) / s.

    The first pass establishes the W (T - s) / s leases served within the timeout; every
    other lease is found late, re-queued at the back, and succeeds on the second pass
    only if the R = H - W (T - s) / s re-queued items wait less than T - s, i.e. R s / W
    <= T - s. Past that every pass is late again and nothing is ever established."""
    return 2.0 * workers * max(0.0, timeout - service) / service


@dataclass(frozen=True, slots=True)
class PhaseCell:
    timeout: float
    hosts: int
    recovered: bool
    recovery_s: float | None


def _phase_cell(args: tuple[ChainParams, str, int]) -> PhaseCell:
    params, policy, seed = args
    r = run_chain(params, parse_policy(policy), seed)
    return PhaseCell(
        params.establish_timeout,
        params.hosts,
        r.milestones["leases"] is not None,
        r.lease.recovery_s,
    )


def phase_grid(
    timeouts: Sequence[float],
    hosts: Sequence[int],
    policy: str = "fifo-retry",
    seed: int = 1,
    jobs: int = 1,
    base: ChainParams | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[PhaseCell]:
    base = base or scenarios.leases_only(
        workers=50, establish_time=1.0, establish_jitter=0.0, dns_outage=1200.0, after=900.0
    )
    cells = [
        (replace(base, establish_timeout=t, hosts=h), policy, seed + i)
        for i, (t, h) in enumerate((t, h) for t in timeouts for h in hosts)
    ]
    out: list[PhaseCell] = []
    if jobs <= 1:
        for cell in cells:
            out.append(_phase_cell(cell))
            if progress:
                progress(1)
        return out
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for result in pool.map(_phase_cell, cells, chunksize=max(1, len(cells) // (jobs * 8))):
            out.append(result)
            if progress:
                progress(1)
    return out


def geometric(lo: float, hi: float, n: int) -> list[float]:
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)] if n > 1 else [lo]


# -- the October 2025 chain, each corrective action toggled --------------------------------

ACTIONS = (
    ("as it happened (fifo-retry)", "fifo-retry"),
    ("+ restart (operators, 04:14)", "restart"),
    ("+ admission by queue size", "admission"),
    ("+ admission + velocity control", "admission+velocity"),
    ("+ admission + velocity + fail-open", "admission+velocity+fail-open"),
)


def corrective_actions(
    params: ChainParams, seed: int = 1, progress: Callable[[int], None] | None = None
) -> list[tuple[str, Policy, ChainResult]]:
    out = []
    for label, policy in ACTIONS:
        pol = parse_policy(policy)
        out.append((label, pol, run_chain(params, pol, seed)))
        if progress:
            progress(1)
    return out


def cells_needed_seconds(cells: int, seconds_per_cell: float, jobs: int) -> float:
    return math.ceil(cells / max(1, jobs)) * seconds_per_cell

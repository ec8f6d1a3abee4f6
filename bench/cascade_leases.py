"""One million lease re-establishments under each cascade policy, beside a plain heapq
event loop doing the same completions in the same run (issue 11).

The model side is `zonewarden.sim.cascade` (the `leases` scenario: the lease stage of the
October 2025 chain) with 1,000,000 expired leases, 10,000 workers, 1 s per lease and a
120 s establishment timeout, sized so every policy, fifo-retry included, finishes
(2 W (T - s) / s = 2.38 M > 1 M). The peer is the least a discrete-event simulation of
the same work can do: a heapq of worker completions over a deque of 1 M items, tuples
only, no policy, no timeouts, no counters. The ratio of their event rates is the cost of
the model (resilience classes, timeouts, samples, the Scheduler's Event objects).
Each side's wall and CPU time are medians of --rounds runs.

    python bench/cascade_leases.py [--hosts 1000000] [--rounds 3] [--policies ...] [--json]
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zonewarden.sim.cascade import scenarios
from zonewarden.sim.cascade.chain import run_chain
from zonewarden.sim.cascade.policies import parse_policy

POLICIES = (
    "fifo-retry",
    "backoff-jitter",
    "retry-budget",
    "adaptive-throttle",
    "lifo",
    "deadline-drop",
    "admission",
    "restart",
)


def plain_heapq(hosts: int, workers: int, service: float, jitter: float, seed: int) -> int:
    """W workers draining `hosts` items FIFO; returns the number of events popped."""
    rng = random.Random(seed)
    items = deque(range(hosts))
    heap: list[tuple[float, int, int]] = []
    seq = 0
    for w in range(min(workers, hosts)):
        items.popleft()
        seq += 1
        heapq.heappush(heap, (service * (1 + jitter * (2 * rng.random() - 1)), seq, w))
    events = 0
    while heap:
        now, _, w = heapq.heappop(heap)
        events += 1
        if items:
            items.popleft()
            seq += 1
            heapq.heappush(heap, (now + service * (1 + jitter * (2 * rng.random() - 1)), seq, w))
    return events


def timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hosts", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policies", nargs="*", default=list(POLICIES))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    params = scenarios.leases_only(
        hosts=args.hosts,
        workers=args.workers,
        establish_time=1.0,
        establish_timeout=120.0,
        dns_outage=1200.0,
        after=1800.0,
        sample=10.0,
    )
    rows = []
    for name in args.policies:
        policy = parse_policy(name)
        model, peer = [], []
        for i in range(args.rounds):
            wall, cpu, r = timed(lambda: run_chain(params, policy, 1))  # noqa: B023
            model.append((wall, cpu, r.lease.events, r.lease.succeeded, r.milestones["leases"]))
            pw, pc, pe = timed(
                lambda: plain_heapq(args.hosts, args.workers, 1.0, params.establish_jitter, i)  # noqa: B023
            )
            peer.append((pw, pc, pe))
        m_wall = statistics.median(x[0] for x in model)
        m_cpu = statistics.median(x[1] for x in model)
        events = model[0][2]
        p_wall = statistics.median(x[0] for x in peer)
        p_cpu = statistics.median(x[1] for x in peer)
        p_events = peer[0][2]
        row = {
            "policy": policy.label,
            "leases_established": model[0][3],
            "all_back_at_s": model[0][4],
            "model_wall_s": round(m_wall, 2),
            "model_cpu_s": round(m_cpu, 2),
            "model_events": events,
            "model_events_per_s": round(events / m_wall),
            "heapq_wall_s": round(p_wall, 2),
            "heapq_cpu_s": round(p_cpu, 2),
            "heapq_events": p_events,
            "heapq_events_per_s": round(p_events / p_wall),
            "overhead_ratio": round((p_events / p_wall) / (events / m_wall), 2),
            "cpu_ratio": round(m_cpu / p_cpu, 2),
        }
        rows.append(row)
        if not args.json:
            print(
                f"{row['policy']:18} {row['leases_established']:>9,} leases in {m_wall:6.2f} s "
                f"(cpu {m_cpu:5.2f}) {row['model_events_per_s']:>9,} ev/s | heapq {p_wall:5.2f} s "
                f"(cpu {p_cpu:5.2f}) {row['heapq_events_per_s']:>9,} ev/s | "
                f"events/s ratio {row['overhead_ratio']:.2f}, cpu ratio {row['cpu_ratio']:.2f}",
                flush=True,
            )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

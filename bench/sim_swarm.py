"""Swarm throughput and how fast it finds the legacy race.

    python bench/sim_swarm.py [--seeds 2000] [--jobs 2] [--campaigns 41]

Prints seeds per minute of the default swarm scenario (safe and legacy, `--jobs`
processes) and the median number of seeds a swarm campaign needs to find the first
legacy failure (campaign k starts at seed k * 10_000), as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

from zonewarden.sim.swarm import iter_results, run_swarm


def cpu_seconds() -> float:
    """CPU time of this process and of its finished workers."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def seeds_per_minute(protocol: str, seeds: int, jobs: int) -> dict[str, float]:
    started, cpu, load = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
    summary = run_swarm(protocol, range(seeds), jobs)
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    return {
        "seeds": seeds,
        "jobs": jobs,
        "load_average_before": load,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "seeds_per_minute": round(seeds / wall * 60),
        # what `jobs` cores would do if the box were not shared: seeds per CPU-minute
        "seeds_per_minute_if_idle": round(seeds / cpu * 60 * jobs),
        "failed": len(summary.failures),
        "events_per_seed": round(summary.events / seeds),
    }


def seeds_to_first_failure(start: int, limit: int = 1000) -> int | None:
    for n, r in enumerate(iter_results("legacy", range(start, start + limit)), 1):
        if not r.ok:
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--campaigns", type=int, default=41)
    args = parser.parse_args()
    found = [seeds_to_first_failure(k * 10_000) for k in range(args.campaigns)]
    hits = [n for n in found if n is not None]
    result = {
        "safe": seeds_per_minute("safe", args.seeds, args.jobs),
        "legacy": seeds_per_minute("legacy", args.seeds, args.jobs),
        "legacy_seeds_to_first_failure": {
            "campaigns": args.campaigns,
            "median": statistics.median(hits) if hits else None,
            "max": max(hits) if hits else None,
            "not_found_within_1000": len(found) - len(hits),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

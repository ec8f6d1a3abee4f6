"""Exhaustive check of the safe protocol: states, seconds, states per second.

    python bench/check.py [--enactors 3 --endpoints 3 --generations 7]

Runs `zonewarden check --protocol safe` with the enactor's runtime defaults (batch 100,
retention 3, keep 3 newest) and prints wall and CPU seconds (the box is shared, so CPU
time is the figure that does not depend on the neighbours), as JSON. Also times the
legacy counterexample search at 3x3x5.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

from zonewarden.sim.checker import CheckSpec, check


def timed(spec: CheckSpec) -> dict[str, object]:
    cpu, load = time.process_time(), os.getloadavg()[0]
    r = check(spec)
    cpu = time.process_time() - cpu
    return {
        "protocol": spec.protocol,
        "shape": f"{spec.enactors}x{spec.endpoints}x{spec.generations}",
        "ok": r.ok,
        "complete": r.complete,
        "states": r.states,
        "transitions": r.transitions,
        "depth": r.depth,
        "wall_seconds": round(r.seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "states_per_wall_second": round(r.states / r.seconds),
        "states_per_cpu_second": round(r.states / cpu),
        "counterexample_steps": {k: len(p) for k, (_, p) in sorted(r.counterexamples.items())},
        "load_average_before": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enactors", type=int, default=3)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--generations", type=int, default=7)
    args = parser.parse_args()
    safe = timed(CheckSpec("safe", args.enactors, args.endpoints, args.generations))
    legacy = timed(CheckSpec("legacy", 3, 3, 5))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"safe": safe, "legacy": legacy, "peak_rss_mb": peak}, indent=2))


if __name__ == "__main__":
    main()

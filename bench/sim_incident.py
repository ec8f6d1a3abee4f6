"""Virtual-to-wall (and virtual-to-CPU) time ratio of `zonewarden sim incident`, median
of seeds 1-5, trace and plot samples on as the command keeps them.

python bench/sim_incident.py
"""

from __future__ import annotations

import json
import os
import statistics
import time

from zonewarden.sim.scenarios import run_scenario


def ratio(protocol: str, seed: int) -> tuple[float, float, int, float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    r = run_scenario("incident", protocol, seed, trace=True, samples=True)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return r.virtual_time / wall, wall, r.events, r.virtual_time, r.virtual_time / cpu


def main() -> None:
    out: dict[str, object] = {"load_average_before": os.getloadavg()[0]}
    for protocol in ("legacy", "safe"):
        runs = [ratio(protocol, seed) for seed in range(1, 6)]
        out[protocol] = {
            "virtual_seconds": runs[0][3],
            "median_wall_seconds": round(statistics.median(run[1] for run in runs), 4),
            "median_virtual_to_wall": round(statistics.median(run[0] for run in runs)),
            "median_virtual_to_cpu": round(statistics.median(run[4] for run in runs)),
            "median_events": statistics.median(run[2] for run in runs),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

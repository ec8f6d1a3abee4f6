"""Virtual-to-wall time ratio of `zonewarden sim incident` (median of 5 seeds).

python bench/sim_incident.py
"""

from __future__ import annotations

import json
import statistics
import time

from zonewarden.sim.scenarios import run_scenario


def ratio(protocol: str, seed: int) -> tuple[float, float, int, float]:
    started = time.perf_counter()
    r = run_scenario("incident", protocol, seed, trace=True, samples=True)
    wall = time.perf_counter() - started
    return r.virtual_time / wall, wall, r.events, r.virtual_time


def main() -> None:
    out = {}
    for protocol in ("legacy", "safe"):
        runs = [ratio(protocol, seed) for seed in range(1, 6)]
        out[protocol] = {
            "virtual_seconds": runs[0][3],
            "median_wall_seconds": round(statistics.median(w for _, w, _, _ in runs), 4),
            "median_virtual_to_wall": round(statistics.median(r for r, _, _, _ in runs)),
            "median_events": statistics.median(e for _, _, e, _ in runs),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

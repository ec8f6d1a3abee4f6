"""The phase diagram of lease recovery (establishment timeout x backlog, fifo-retry),
timed with --jobs processes, and its agreement with the analytic boundary (issue 11).

    python bench/cascade_phase.py [--grid 20] [--jobs 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zonewarden.sim.cascade import experiments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--grid", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    timeouts = experiments.geometric(5.0, 120.0, args.grid)
    hosts = [round(h) for h in experiments.geometric(200.0, 20000.0, args.grid)]
    wall, cpu = time.perf_counter(), time.process_time()
    cells = experiments.phase_grid(timeouts, hosts, jobs=args.jobs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    agree = sum(
        c.recovered == (c.hosts < experiments.fifo_boundary_hosts(50, 1.0, c.timeout))
        for c in cells
    )
    body = {
        "cells": len(cells),
        "jobs": args.jobs,
        "wall_s": round(wall, 1),
        "parent_cpu_s": round(cpu, 1),
        "cells_per_s": round(len(cells) / wall, 2),
        "agree_with_analytic": agree,
        "recovered": sum(c.recovered for c in cells),
    }
    print(json.dumps(body, indent=2) if args.json else body)


if __name__ == "__main__":
    main()

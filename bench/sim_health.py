"""The health scenarios of zonewarden.sim.health over many seeds (issue 9).

    python bench/sim_health.py [--seeds 1000] [--jobs 2] [--no-budget] [--json]

Each seed is a random schedule of LB, AZ and whole-region deaths, flaps, probe loss and
operator drains, run on the real probe state machine, quorum and planner policy under
a virtual clock; an independent checker verifies the capacity floor, the removal budget
per window and fail-static after every tick. Prints the failing seeds, each with the
call that replays it. `--no-budget` is the control: it must fail on many seeds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.progress import track

from zonewarden.sim.health import Outcome, run


def one(job: tuple[int, bool]) -> Outcome:
    seed, budget = job
    return run(seed, budget=budget)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--no-budget", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    console = Console(stderr=args.json)
    jobs = [(seed, not args.no_budget) for seed in range(args.seeds)]
    start = time.perf_counter()
    with multiprocessing.Pool(args.jobs) as pool:
        outcomes = list(track(pool.imap(one, jobs), total=len(jobs), console=console))
    failing = [o for o in outcomes if not o.ok]
    report = {
        "command": " ".join(["python", "bench/sim_health.py", *sys.argv[1:]]),
        "seeds": len(outcomes),
        "budget": not args.no_budget,
        "failing": [o.seed for o in failing],
        "plans": sum(o.plans for o in outcomes),
        "holds": sum(o.holds for o in outcomes),
        "held_back": sum(o.held_back for o in outcomes),
        "seconds": time.perf_counter() - start,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        console.print(
            f"{report['seeds']} seeds ({'budget on' if report['budget'] else 'budget OFF'}): "
            f"{len(failing)} failing, {report['plans']} plans, {report['holds']} holds, "
            f"{report['held_back']} held-back removals, {report['seconds']:.0f} s"
        )
        for o in failing[:10]:
            console.print(
                f"  seed {o.seed}: {o.violations[0]}  (replay: zonewarden.sim.health.run({o.seed}))"
            )
    return 1 if failing and not args.no_budget else 0


if __name__ == "__main__":
    sys.exit(main())

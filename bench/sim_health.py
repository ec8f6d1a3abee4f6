"""The health scenarios of zonewarden.sim.health over many seeds (issue 9).

    python bench/sim_health.py [--seeds 1000] [--jobs 2] [--no-budget] [--json]
    python bench/sim_health.py --addresses [--seeds 300] [--no-budget | --per-lb] [--json]

Each seed is a random schedule of LB, AZ and whole-region deaths, flaps, probe loss and
operator drains, run on the real probe state machine, quorum and planner policy under
a virtual clock; an independent checker verifies the capacity floor, the removal budget
per window and fail-static after every tick. Prints the failing seeds, each with the
call that replays it. `--no-budget` is the control: it must fail on many seeds.

`--addresses` runs the scenarios by LB address (zonewarden.sim.address_health: LBs
with 1-4 addresses, single addresses killed, stalled or flapping, one address of every
LB at once); its checker counts capacity from the plan's records per address and also
checks that dead addresses leave and no name is empty. Its second control, `--per-lb`,
plans without the addresses a quorum calls down (as planning per LB did): dead
addresses stay in the plan and the checker must catch it.
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

from zonewarden.sim import address_health
from zonewarden.sim.address_health import AddressOutcome
from zonewarden.sim.health import Outcome, run


def one(job: tuple[int, bool, bool, bool]) -> Outcome | AddressOutcome:
    seed, budget, by_address, per_lb = job
    if by_address:
        return address_health.run(seed, budget=budget, addresses=not per_lb)
    return run(seed, budget=budget)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--no-budget", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--addresses", action="store_true", help="the scenarios by LB address")
    p.add_argument("--per-lb", action="store_true", help="control (--addresses): plan per LB")
    args = p.parse_args(argv)
    if args.per_lb and not args.addresses:
        p.error("--per-lb is a control of --addresses")
    console = Console(stderr=args.json)
    jobs = [(seed, not args.no_budget, args.addresses, args.per_lb) for seed in range(args.seeds)]
    start = time.perf_counter()
    with multiprocessing.Pool(args.jobs) as pool:
        outcomes = list(track(pool.imap(one, jobs), total=len(jobs), console=console))
    failing = [o for o in outcomes if not o.ok]
    report = {
        "command": " ".join(["python", "bench/sim_health.py", *sys.argv[1:]]),
        "seeds": len(outcomes),
        "budget": not args.no_budget,
        "model": "addresses" if args.addresses else "lbs",
        "per_lb_control": args.per_lb,
        "failing": [o.seed for o in failing],
        "plans": sum(o.plans for o in outcomes),
        "holds": sum(o.holds for o in outcomes),
        "held_back": sum(o.held_back for o in outcomes),
        "seconds": time.perf_counter() - start,
    }
    if args.addresses:
        by_address = [o for o in outcomes if isinstance(o, AddressOutcome)]
        report["addresses_out"] = sum(o.addresses_out for o in by_address)
        report["lingered_ticks"] = sum(o.lingered for o in by_address)
        report["lbs"] = sum(o.lbs for o in by_address)
        report["addresses"] = sum(o.addresses for o in by_address)
        report["violation_kinds"] = kinds(by_address)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        model = "by address" if args.addresses else "by LB"
        control = " (control: per LB)" if args.per_lb else ""
        console.print(
            f"{report['seeds']} seeds {model}{control} "
            f"({'budget on' if report['budget'] else 'budget OFF'}): "
            f"{len(failing)} failing, {report['plans']} plans, {report['holds']} holds, "
            f"{report['held_back']} held-back removals, {report['seconds']:.0f} s"
        )
        if args.addresses:
            console.print(
                f"  {report['addresses_out']} address removals planned; "
                f"violations by kind: {report['violation_kinds']}"
            )
        module = "address_health" if args.addresses else "health"
        for o in failing[:10]:
            console.print(
                f"  seed {o.seed}: {o.violations[0]}  "
                f"(replay: zonewarden.sim.{module}.run({o.seed}))"
            )
    controls = args.no_budget or args.per_lb
    return 1 if failing and not controls else 0


def kinds(outcomes: list[AddressOutcome]) -> dict[str, int]:
    """How many seeds broke each invariant."""
    marks = {
        "budget": "within",
        "floor": "< floor",
        "dead address stayed": "still in the plan",
        "fail-static": "dead, yet a plan",
        "empty": "has no",
    }
    return {
        kind: sum(1 for o in outcomes if any(mark in v for v in o.violations))
        for kind, mark in marks.items()
    }


if __name__ == "__main__":
    sys.exit(main())

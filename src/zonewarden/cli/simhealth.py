"""`zonewarden sim health`: the health scenarios under a virtual clock, many seeds.

This module parses options, calls `zonewarden.sim.health` (by LB) or
`zonewarden.sim.address_health` (by LB address, the default), and renders a summary,
a progress bar and JSON; it decides nothing. Exit status: 0 when every seed kept every
invariant, 1 when one did not (the expected result of the controls `--no-budget` and
`--per-lb`), 2 for usage errors.
"""

from __future__ import annotations

import json
import sys
import time

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zonewarden.cli.common import friendly_errors
from zonewarden.sim import address_health, health
from zonewarden.sim.address_health import AddressOutcome, AddressSettings
from zonewarden.sim.health import Outcome, SimSettings

out = Console()
err = Console(stderr=True)


@click.command("health")
@click.option("--seeds", type=click.IntRange(1), default=50, show_default=True)
@click.option("--start", type=int, default=0, show_default=True, help="First seed.")
@click.option(
    "--addresses/--lbs",
    default=True,
    show_default=True,
    help="Model LB addresses (1-4 per LB, faults per address) or whole LBs.",
)
@click.option("--duration", type=click.FloatRange(60, 36_000), default=900.0, show_default=True)
@click.option("--no-budget", is_flag=True, help="Control: the removal budget off (must fail).")
@click.option("--per-lb", is_flag=True, help="Control: plan per LB only (must fail; --addresses).")
@click.option("--show", type=click.IntRange(0), default=5, show_default=True, help="Failing seeds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@friendly_errors
def health_cmd(
    seeds: int,
    start: int,
    addresses: bool,
    duration: float,
    no_budget: bool,
    per_lb: bool,
    show: int,
    as_json: bool,
) -> None:
    """LBs, addresses and AZs die, stall and flap; operators drain: does the served
    capacity keep the floor and the removal budget per window, and do dead addresses
    leave? Replays exactly per seed (`--seeds 1 --start SEED`)."""
    if per_lb and not addresses:
        raise click.UsageError("--per-lb is a control of the address model (drop --lbs)")
    started = time.perf_counter()
    outcomes: list[Outcome | AddressOutcome] = []
    with Progress(
        TextColumn("sim health"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failing"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
        transient=True,
    ) as bar:
        task = bar.add_task("health", total=seeds, failed=0)
        for seed in range(start, start + seeds):
            o: Outcome | AddressOutcome
            if addresses:
                settings = AddressSettings(duration=duration)
                o = address_health.run(
                    seed, budget=not no_budget, addresses=not per_lb, settings=settings
                )
            else:
                o = health.run(seed, budget=not no_budget, settings=SimSettings(duration=duration))
            outcomes.append(o)
            bar.update(task, advance=1, failed=sum(not x.ok for x in outcomes))
    body = summary(outcomes, addresses, no_budget, per_lb, time.perf_counter() - started)
    if as_json:
        click.echo(json.dumps(body, indent=2))
    else:
        render(body, outcomes, show)
    sys.exit(1 if body["failing"] else 0)


def summary(
    outcomes: list[Outcome | AddressOutcome],
    addresses: bool,
    no_budget: bool,
    per_lb: bool,
    wall: float,
) -> dict[str, object]:
    failing = [o for o in outcomes if not o.ok]
    module = "address_health" if addresses else "health"
    body: dict[str, object] = {
        "model": "addresses" if addresses else "lbs",
        "budget": not no_budget,
        "per_lb_control": per_lb,
        "seeds": len(outcomes),
        "first_seed": outcomes[0].seed if outcomes else None,
        "failing": [o.seed for o in failing],
        "plans": sum(o.plans for o in outcomes),
        "holds": sum(o.holds for o in outcomes),
        "held_back": sum(o.held_back for o in outcomes),
        "violations": {str(o.seed): o.violations[:3] for o in failing},
        "replay": f"zonewarden.sim.{module}.run(SEED)",
        "wall_seconds": round(wall, 3),
    }
    by_address = [o for o in outcomes if isinstance(o, AddressOutcome)]
    if by_address:
        body["addresses_out"] = sum(o.addresses_out for o in by_address)
        body["lbs"] = sum(o.lbs for o in by_address)
        body["addresses"] = sum(o.addresses for o in by_address)
    if len(outcomes) == 1:
        body["events"] = outcomes[0].events
    return body


def render(body: dict[str, object], outcomes: list[Outcome | AddressOutcome], show: int) -> None:
    failing = [o for o in outcomes if not o.ok]
    model = "by LB address" if body["model"] == "addresses" else "by LB"
    control = " (control: budget OFF)" if not body["budget"] else ""
    control += " (control: planning per LB)" if body["per_lb_control"] else ""
    out.print(
        f"{body['seeds']} seeds {model}{control}: {len(failing)} failing, {body['plans']} plans, "
        f"{body['holds']} holds, {body['held_back']} held-back removals"
        + (f", {body['addresses_out']} address removals" if "addresses_out" in body else "")
        + f", {body['wall_seconds']:.1f} s"
    )
    if len(outcomes) == 1:
        for event in outcomes[0].events:
            out.print(f"  {escape(event)}")
    for o in failing[:show]:
        out.print(f"  seed {o.seed}: {escape(o.violations[0])} ({len(o.violations)} in all)")
    if failing:
        out.print(f"  replay one: zonewarden sim health --seeds 1 --start {failing[0].seed}")

"""`zonewarden sim ...` and `zonewarden check`: run the simulator and the model checker.

This module parses options, calls `zonewarden.sim`, and renders tables, progress bars,
plots and JSON; it decides nothing. Exit status: 0 when every invariant held, 1 when
one was breached (the expected result under `--protocol legacy`), 2 for usage errors.
Every command is a module-level click object; `sim` is the group other modules extend
(`sim.add_command(...)` in their own `register`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zonewarden.cli.common import friendly_errors
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.legacy import WARNING
from zonewarden.sim.checker import CheckResult, CheckSpec, check
from zonewarden.sim.scenarios import run_scenario
from zonewarden.sim.swarm import SwarmSummary, replay_command, run_swarm
from zonewarden.sim.trace import replay, write_trace
from zonewarden.sim.world import RunReport

DEFAULTS = EnactorConfig()  # check the enactor as it runs, unless told otherwise
PROTOCOL = click.Choice(["safe", "legacy"])
out = Console()
err = Console(stderr=True)


def _warn_legacy(protocol: str, quiet: bool = False) -> None:
    if protocol == "legacy" and not quiet:
        err.print(f"[bold red]{WARNING}[/]")


def _emit_json(body: object) -> None:
    click.echo(json.dumps(body, indent=2, sort_keys=True, default=str))


# -- one run -------------------------------------------------------------------------------


def report_json(r: RunReport, wall: float) -> dict[str, Any]:
    return {
        "protocol": r.protocol,
        "seed": r.seed,
        "ok": r.ok,
        "events": r.events,
        "virtual_seconds": r.virtual_time,
        "wall_seconds": wall,
        "virtual_to_wall": r.virtual_time / wall if wall > 0 else None,
        "newest_generation": r.newest,
        "breaches": {k: {"t": t, "message": m} for k, (t, m) in sorted(r.first.items())},
        "breach_events": dict(sorted(r.counts.items())),
        "empty_from": r.empty_from,
        "operator_repair_at": r.repaired_at,
        "enactors_at_repair": list(r.stuck_at_repair),
        "reached": dict(sorted(r.coverage.items())),
        "max_lag_generations": dict(sorted(r.max_lag.items())),
    }


def render_run(r: RunReport, wall: float, title: str) -> None:
    verdict = "[green]every invariant held[/]" if r.ok else "[red]invariants violated[/]"
    table = Table(title=f"{title}: {r.protocol}, seed {r.seed} - {verdict}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    ratio = r.virtual_time / wall if wall > 0 else float("inf")
    table.add_row("virtual time", f"{r.virtual_time:.1f} s ({ratio:,.0f}x wall clock)")
    table.add_row("events", f"{r.events:,}")
    table.add_row("plans published", str(r.newest))
    if r.max_lag:
        worst = max(r.max_lag, key=lambda n: r.max_lag[n])
        table.add_row("most behind under load", f"{worst} by {r.max_lag[worst]} generations")
    for inv, (t, msg) in sorted(r.first.items()):
        table.add_row(f"[red]{inv} first breached[/]", f"t={t:.3f}s {msg} ({r.counts[inv]} events)")
    if r.empty_from is not None:
        table.add_row("[red]endpoint empty from[/]", f"{r.empty_from:.3f} s")
    if r.repaired_at is not None:
        table.add_row("operator repair at", f"{r.repaired_at:.3f} s (automation frozen)")
        for line in r.stuck_at_repair:
            table.add_row("  enactor at repair", line)
    for name, n in sorted(r.coverage.items()):
        table.add_row("reached", f"{name} x{n}")
    out.print(table)


def run_one(
    scenario: str,
    protocol: str,
    seed: int,
    trace: Path | None,
    plot: Path | None,
    as_json: bool,
) -> None:
    if plot is not None:
        from zonewarden.sim.plot import require_plotting

        require_plotting(plot)  # before the run: nothing half-done for a missing extra
    _warn_legacy(protocol)
    started = time.perf_counter()
    r = run_scenario(scenario, protocol, seed, trace=trace is not None, samples=plot is not None)
    wall = time.perf_counter() - started
    if trace is not None and r.trace is not None:
        write_trace(trace, r.trace)
    if plot is not None:
        from zonewarden.sim.plot import plot_run

        plot_run(r, plot, f"{scenario}: {protocol}, seed {r.seed}")
    if as_json:
        body = report_json(r, wall)
        body["trace"] = str(trace) if trace else None
        body["plot"] = str(plot) if plot else None
        _emit_json(body)
    else:
        render_run(r, wall, scenario)
        if trace is not None:
            out.print(f"trace: {trace} (replay: zonewarden sim replay {trace})")
        if plot is not None:
            out.print(f"plot: {plot}")
    sys.exit(0 if r.ok else 1)


def run_replay(path: Path, as_json: bool) -> None:
    try:
        result = replay(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _emit_json(
            {
                "identical": result.identical,
                "lines": result.lines,
                "first_difference": result.first_difference,
                "expected": result.expected,
                "got": result.got,
            }
        )
    elif result.identical:
        out.print(f"[green]replay identical[/]: {result.lines} lines of {path} reproduced")
    else:
        out.print(f"[red]replay diverged at line {result.first_difference}[/]")
        out.print(f"  file:   {result.expected}")
        out.print(f"  replay: {result.got}")
    sys.exit(0 if result.identical else 1)


# -- swarm ---------------------------------------------------------------------------------


def render_swarm(s: SwarmSummary, wall: float) -> None:
    rate = s.seeds / wall * 60 if wall > 0 else 0.0
    table = Table(title=f"swarm {s.protocol}: {s.seeds} seeds, {rate:,.0f} seeds/min")
    table.add_column("fault or interleaving reached")
    table.add_column("seeds", justify="right")
    for name, n in sorted(s.reached.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(name, str(n))
    out.print(table)
    if not s.failures:
        out.print(f"[green]no invariant breached in {s.seeds} seeds[/]")
        return
    fails = Table(title=f"[red]{len(s.failures)} failing seeds[/]")
    fails.add_column("seed", justify="right")
    fails.add_column("invariants")
    fails.add_column("replay")
    for f in s.failures[:20]:
        fails.add_row(
            str(f.seed), ",".join(i for i, _, _ in f.first), replay_command(s.protocol, f.seed)
        )
    out.print(fails)
    if len(s.failures) > 20:
        out.print(f"... and {len(s.failures) - 20} more (use --json for all)")


# -- check ---------------------------------------------------------------------------------


def check_json(r: CheckResult) -> dict[str, Any]:
    return {
        "protocol": r.spec.protocol,
        "enactors": r.spec.enactors,
        "endpoints": r.spec.endpoints,
        "generations": r.spec.generations,
        "retention": r.spec.retention,
        "keep_newest": r.spec.keep_newest,
        "batch_size": r.spec.batch_size,
        "ok": r.ok,
        "complete": r.complete,
        "states": r.states,
        "transitions": r.transitions,
        "depth": r.depth,
        "seconds": r.seconds,
        "states_per_second": r.states_per_second,
        "counterexamples": {
            inv: {"breach": str(b), "steps": [str(s) for s in path]}
            for inv, (b, path) in sorted(r.counterexamples.items())
        },
    }


def render_check(r: CheckResult) -> None:
    sp = r.spec
    shape = f"{sp.enactors} enactors x {sp.endpoints} endpoints x {sp.generations} generations"
    out.print(
        f"{sp.protocol}: {shape}: {r.states:,} states, {r.transitions:,} transitions, "
        f"depth {r.depth}, {r.seconds:.1f} s ({r.states_per_second:,.0f} states/s)"
    )
    if r.ok:
        verdict = "every interleaving explored" if r.complete else "state limit reached"
        out.print(f"[green]I1-I6 hold in every reachable state[/] ({verdict})")
        return
    order = ["I1", *sorted(k for k in r.counterexamples if k != "I1")]
    shown = next(k for k in order if k in r.counterexamples)
    breach, path = r.counterexamples[shown]
    out.print(f"[red]counterexample ({len(path)} steps), ends with {breach}[/]")
    for i, step in enumerate(path, 1):
        out.print(f"  {i:>2}. {step}")
    others = [f"{k} in {len(p)} steps" for k, (_, p) in sorted(r.counterexamples.items())]
    out.print("shortest counterexample per invariant: " + ", ".join(others))


# -- commands ------------------------------------------------------------------------------


@click.group("sim")
def sim() -> None:
    """Deterministic simulation of the real enactors under faults (virtual time)."""


@sim.command("incident")
@click.option("--protocol", type=PROTOCOL, required=True, help="legacy reproduces 2025.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--plot", type=click.Path(path_type=Path), help="PNG or SVG of the run.")
@click.option("--trace", type=click.Path(path_type=Path), help="Replayable JSON lines.")
@click.option(
    "--replay",
    "replay_file",
    type=click.Path(path_type=Path, exists=True),
    help="Re-run a trace file and check it is reproduced byte for byte.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@friendly_errors
def incident(
    protocol: str,
    seed: int,
    plot: Path | None,
    trace: Path | None,
    replay_file: Path | None,
    as_json: bool,
) -> None:
    """The October 2025 race: a slow enactor, a fast planner, age-only clean-up."""
    if replay_file is not None:
        run_replay(replay_file, as_json)
    run_one("incident", protocol, seed, trace, plot, as_json)


@sim.command("seed")
@click.option("--protocol", type=PROTOCOL, required=True)
@click.option("--seed", type=int, required=True)
@click.option("--plot", type=click.Path(path_type=Path))
@click.option("--trace", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def seed_cmd(
    protocol: str, seed: int, plot: Path | None, trace: Path | None, as_json: bool
) -> None:
    """Re-run one swarm seed (its random faults and knobs) in full detail."""
    run_one("swarm", protocol, seed, trace, plot, as_json)


@sim.command("replay")
@click.argument("trace_file", type=click.Path(path_type=Path, exists=True))
@click.option("--json", "as_json", is_flag=True)
def replay_cmd(trace_file: Path, as_json: bool) -> None:
    """Re-run a trace from its header and check the run is byte-identical."""
    run_replay(trace_file, as_json)


@sim.command("swarm")
@click.option("--protocol", type=PROTOCOL, default="safe", show_default=True, help="legacy fails.")
@click.option("--seeds", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--start", type=int, default=0, show_default=True, help="First seed.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def swarm(protocol: str, seeds: int, start: int, jobs: int, as_json: bool) -> None:
    """Many seeds, each with random faults and knobs; failing seeds are replayable."""
    _warn_legacy(protocol, quiet=as_json)
    started = time.perf_counter()
    with Progress(
        TextColumn("swarm {task.fields[protocol]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
    ) as bar:
        task = bar.add_task("swarm", total=seeds, protocol=protocol, failed=0)
        failed = 0

        def advance(r: Any) -> None:
            nonlocal failed
            failed += not r.ok
            bar.update(task, advance=1, failed=failed)

        summary = run_swarm(protocol, range(start, start + seeds), jobs, advance)
    wall = time.perf_counter() - started
    if as_json:
        body = summary.as_json()
        body["wall_seconds"] = wall
        body["seeds_per_minute"] = seeds / wall * 60 if wall > 0 else None
        _emit_json(body)
    else:
        render_swarm(summary, wall)
    sys.exit(0 if not summary.failures else 1)


@click.command("check")
@click.option("--protocol", type=PROTOCOL, required=True)
@click.option("--enactors", type=click.IntRange(1, 6), default=2, show_default=True)
@click.option("--endpoints", type=click.IntRange(1, 6), default=1, show_default=True)
@click.option("--generations", type=click.IntRange(1, 12), default=5, show_default=True)
@click.option(
    "--retention",
    type=click.IntRange(0),
    default=DEFAULTS.retention,
    show_default=True,
    help="Clean-up retention (generations below the watermark / the plan applied).",
)
@click.option(
    "--keep-newest", type=click.IntRange(1), default=DEFAULTS.keep_newest, show_default=True
)
@click.option(
    "--batch",
    type=click.IntRange(1),
    default=DEFAULTS.batch_size,
    show_default=True,
    help="Endpoints per safe write transaction; 1 = one transaction per endpoint.",
)
@click.option(
    "--goal",
    default="I1",
    show_default=True,
    help="Stop at the first breach of this invariant, or 'any'.",
)
@click.option("--max-states", type=click.IntRange(1), default=5_000_000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def check_cmd(
    protocol: str,
    enactors: int,
    endpoints: int,
    generations: int,
    retention: int,
    keep_newest: int,
    batch: int,
    goal: str,
    max_states: int,
    as_json: bool,
) -> None:
    """Explore every interleaving of the real enactor code (breadth first)."""
    _warn_legacy(protocol, quiet=as_json)
    spec = CheckSpec(
        protocol,
        enactors,
        endpoints,
        generations,
        retention,
        keep_newest,
        batch,
        goal,
        max_states,
    )
    with Progress(
        TextColumn(
            "check {task.fields[protocol]}: {task.completed:,} states, depth {task.fields[depth]}"
        ),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
        transient=True,
    ) as bar:
        task = bar.add_task("check", total=None, protocol=protocol, depth=0)
        result = check(spec, lambda n, d: bar.update(task, completed=n, depth=d))
    if as_json:
        _emit_json(check_json(result))
    else:
        render_check(result)
    sys.exit(0 if result.ok else 1)


def register(cli: click.Group) -> None:
    """`sim` and `check`; other modules add `sim` subcommands with `sim.add_command`
    (e.g. cli/cascade.py: `from zonewarden.cli.sim import sim`)."""
    from zonewarden.cli.simhealth import health_cmd

    sim.add_command(health_cmd)
    cli.add_command(sim)
    cli.add_command(check_cmd)

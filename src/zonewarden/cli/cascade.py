"""`zonewarden sim cascade`: the recovery cascade simulator and its experiments.

This module parses options, calls `zonewarden.sim.cascade`, and renders tables,
progress bars, plots and JSON; it decides nothing. Exit status: 0 when every policy
run recovered within the horizon, 1 when one did not (the expected result for the
collapsing policies), 2 for bad input (one line naming the parameter and its range).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from zonewarden.errors import MissingExtra
from zonewarden.sim.cascade import experiments, scenarios
from zonewarden.sim.cascade.chain import ChainParams, ChainResult
from zonewarden.sim.cascade.params import ParamError
from zonewarden.sim.cascade.policies import NAMES as POLICY_NAMES
from zonewarden.sim.cascade.policies import Policy, parse_policy
from zonewarden.sim.cascade.service import ServiceResult

out = Console()
err = Console(stderr=True)
EVENTS_PER_SECOND = 250_000  # a conservative rate on a busy 2-core machine (docs/benchmarks.md)
ASK_ABOVE_S = 60.0
EXPERIMENTS = ("hysteresis", "phase", "actions")


def _fail(message: str) -> None:
    err.print(f"[red]error:[/] {escape(message)}")
    sys.exit(2)


def _bar(disable: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=disable,
        transient=True,
    )


def projected_seconds(scenario: str, overrides: dict[str, Any], runs: int) -> float:
    """A rough wall-time estimate from the events a run needs (never an exact figure)."""
    params = scenarios.describe(scenario, overrides)
    if isinstance(params, ChainParams):
        work = params.workers / params.establish_time * params.after
        events = work + 4 * params.expired + params.after / params.health.interval
    else:
        rate = max(r for _, r in params.rates)
        events = params.horizon * (rate * 4 + 1 / params.sample)
    return runs * events / EVENTS_PER_SECOND


def confirm_size(seconds: float, yes: bool, quiet: bool) -> None:
    if seconds <= ASK_ABOVE_S or yes:
        return
    message = f"this run is projected to take about {seconds:,.0f} s of wall time"
    if sys.stdin.isatty() and not quiet:
        if click.confirm(message + "; go ahead?", default=False, err=True):
            return
        sys.exit(2)
    _fail(message + ": pass --yes to run it")


def result_row(label: str, r: ServiceResult | ChainResult) -> dict[str, Any]:
    body = r.as_json()
    body["label"] = label
    return body


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render(scenario: str, seed: int, rows: Sequence[dict[str, Any]]) -> None:
    chain = "recovery_order" in rows[0]
    table = Table(title=f"sim cascade {scenario}, seed {seed}")
    table.add_column("policy")
    table.add_column("recovered")
    if chain:
        for col in ("leases back s", "network s", "health s", "peak queue", "healthy cap. removed"):
            table.add_column(col, justify="right")
    else:
        for col in ("recovery s", "peak queue", "goodput/s", "useful work"):
            table.add_column(col, justify="right")
    for row in rows:
        rec = "[green]yes[/]" if row["recovered"] else "[red]no[/]"
        if chain:
            ms, dns = row["milestones_s"], row["milestones_s"]["dns"]
            back = [
                None if ms[k] is None else ms[k] - dns
                for k in ("leases", "network_state", "health_checks")
            ]
            cells = [
                *map(_secs, back),
                f"{row['peak_queue_depth']:,}",
                f"{row['peak_healthy_capacity_removed']:,.0f}",
            ]
        else:
            cells = [
                _secs(row["recovery_s"]),
                f"{row['peak_queue_depth']:,}",
                f"{row['goodput_per_s']:,.1f}",
                f"{row['useful_work_fraction']:.0%}",
            ]
        table.add_row(row["label"], rec, *cells)
    out.print(table)
    if chain:
        out.print(
            "seconds after DNS returned; stages recover in the order dns > leases > network > health"
        )


def run_policies(
    scenario: str, policies: Sequence[str], seed: int, overrides: dict[str, Any], quiet: bool
) -> list[tuple[str, Policy, ServiceResult | ChainResult]]:
    horizon = scenarios.horizon_of(scenario, overrides)
    done: list[tuple[str, Policy, ServiceResult | ChainResult]] = []
    with _bar(quiet) as bar:
        for text in policies:
            policy = parse_policy(text)
            task = bar.add_task(f"{scenario} {policy.label}", total=horizon)
            update = _updater(bar, task)
            done.append(
                (policy.label, policy, scenarios.run(scenario, policy, seed, overrides, update))
            )
    return done


def _updater(bar: Progress, task: TaskID) -> Callable[[float], None]:
    def update(now: float) -> None:
        bar.update(task, completed=now)

    return update


def plot_runs(
    scenario: str, runs: Sequence[tuple[str, Policy, ServiceResult | ChainResult]], folder: Path
) -> list[Path]:
    from zonewarden.sim.cascade import plot

    title = f"{scenario}: per policy"
    service = [(label, r.lease if isinstance(r, ChainResult) else r) for label, _, r in runs]
    files = plot.timeseries(service, folder, f"{scenario}-timeseries", title)
    chains = [(label, r) for label, _, r in runs if isinstance(r, ChainResult)]
    if chains:
        files += plot.chain_stages(
            chains, folder, f"{scenario}-stages", f"{scenario}: leases, network state, health"
        )
    return files


def run_experiment(
    name: str, seed: int, folder: Path | None, grid: int, jobs: int, quiet: bool, yes: bool
) -> dict[str, Any]:
    from zonewarden.sim.cascade import plot

    if folder is None:
        _fail("--experiment writes PNG and CSV files: give the folder with --plot DIR")
        raise AssertionError  # unreachable
    if name == "hysteresis":
        rows = experiments.hysteresis(seed)
        files = plot.hysteresis_curve(rows, folder)
        return {
            "experiment": name,
            "files": [str(f) for f in files],
            "rows": [asdict(r) for r in rows],
        }
    if name == "phase":
        timeouts = experiments.geometric(5.0, 120.0, grid)
        hosts = [round(h) for h in experiments.geometric(200.0, 20000.0, grid)]
        confirm_size(experiments.cells_needed_seconds(grid * grid, 0.15, jobs), yes, quiet)
        with _bar(quiet) as bar:
            task = bar.add_task(f"phase diagram {grid}x{grid}, {jobs} jobs", total=grid * grid)
            cells = experiments.phase_grid(
                timeouts,
                hosts,
                seed=seed,
                jobs=jobs,
                progress=lambda n: bar.update(task, advance=n),
            )
        base = scenarios.leases_only(workers=50, establish_time=1.0)
        files = plot.phase_diagram(
            cells,
            lambda t: experiments.fifo_boundary_hosts(base.workers, base.establish_time, t),
            folder,
            "phase-fifo",
            f"fifo-retry: W = {base.workers} workers, s = {base.establish_time:g} s per lease",
        )
        agree = sum(
            c.recovered
            == (
                c.hosts
                < experiments.fifo_boundary_hosts(base.workers, base.establish_time, c.timeout)
            )
            for c in cells
        )
        return {
            "experiment": name,
            "files": [str(f) for f in files],
            "cells": len(cells),
            "agree_with_analytic": agree,
        }
    params = scenarios.oct2025()
    confirm_size(projected_seconds("oct2025", {}, len(experiments.ACTIONS)), yes, quiet)
    with _bar(quiet) as bar:
        task = bar.add_task("October 2025, corrective actions", total=len(experiments.ACTIONS))
        results = experiments.corrective_actions(
            params, seed, lambda n: bar.update(task, advance=n)
        )
    files = plot.chain_stages(
        [(label, r) for label, _, r in results],
        folder,
        "oct2025-actions",
        "October 2025 replayed, each corrective action toggled",
    )
    return {
        "experiment": name,
        "files": [str(f) for f in files],
        "runs": [result_row(label, r) for label, _, r in results],
    }


def register(cli: click.Group) -> None:
    from zonewarden.cli.sim import sim

    sim.add_command(cascade_cmd)


@click.command("cascade")
@click.option(
    "--scenario",
    default="oct2025",
    show_default=True,
    help="oct2025, leases, bronson, huang or brooker.",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    help="Repeat to compare; combine with +, e.g. admission+velocity. "
    f"Known: {', '.join(POLICY_NAMES)}. Default: the scenario's set.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a scenario parameter (e.g. hosts=20000).",
)
@click.option(
    "--dns-outage",
    "dns_outage",
    metavar="SECONDS|incident",
    help="The DNS outage of the chain: seconds, or 'incident' for the empty-record interval "
    "of `sim incident --protocol legacy` (times --incident-scale). Default: the published "
    "2 h 37 min.",
)
@click.option(
    "--incident-scale",
    type=click.FloatRange(min=0.001, max=1e6),
    default=1.0,
    show_default=True,
    help="Real seconds per virtual second of the incident run (it compresses the repair).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--plot",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write PNG and CSV files here (needs the plot extra).",
)
@click.option(
    "--experiment",
    type=click.Choice(EXPERIMENTS),
    help="A sweep instead of one run: hysteresis, phase diagram, or October 2025 with each corrective action.",
)
@click.option(
    "--grid",
    type=click.IntRange(2, 60),
    default=20,
    show_default=True,
    help="Phase diagram cells per axis.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes for the phase diagram.",
)
@click.option("--yes", is_flag=True, help="Run a large simulation without asking.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results per policy.")
def cascade_cmd(
    scenario: str,
    policies: tuple[str, ...],
    sets: tuple[str, ...],
    dns_outage: str | None,
    incident_scale: float,
    seed: int,
    folder: Path | None,
    experiment: str | None,
    grid: int,
    jobs: int,
    yes: bool,
    as_json: bool,
) -> None:
    """The recovery cascade after the DNS outage: leases, network state, health checks.

    A seeded discrete-event simulation on the virtual clock. Reports, per policy,
    whether the system recovered within the simulated horizon, how long it took, the
    peak queue depth and the goodput. Example:

        zonewarden sim cascade --scenario oct2025 --policy fifo-retry --policy admission
    """
    try:
        if folder is not None:  # a missing plot extra is said before any simulation runs
            from zonewarden.sim.cascade.plot import pyplot

            pyplot()
        if experiment is not None:
            body = run_experiment(experiment, seed, folder, grid, jobs, as_json, yes)
            if as_json:
                click.echo(json.dumps(body, indent=2, sort_keys=True, default=str))
            else:
                for f in body["files"]:
                    out.print(f"wrote {escape(str(f))}")
                if "agree_with_analytic" in body:
                    out.print(
                        f"{body['agree_with_analytic']} of {body['cells']} cells agree with the analytic boundary"
                    )
            return
        pairs = dict(_split(s) for s in sets)
        overrides = scenarios.parse_overrides(scenario, pairs)
        if dns_outage is not None:
            overrides["dns_outage"] = _dns_outage(scenario, dns_outage, seed, incident_scale)
            if not as_json:
                out.print(f"DNS outage: {overrides['dns_outage']:,.1f} s ({dns_outage})")
        names = policies or scenarios.default_policies(scenario)
        for text in names:
            parse_policy(text)
        confirm_size(projected_seconds(scenario, overrides, len(names)), yes, as_json)
        started = time.perf_counter()
        runs = run_policies(scenario, names, seed, overrides, as_json)
        wall = time.perf_counter() - started
        files = plot_runs(scenario, runs, folder) if folder is not None else []
    except ParamError as exc:
        _fail(str(exc))
        return
    except MissingExtra as exc:
        _fail(str(exc))
        return
    rows = [result_row(label, r) for label, _, r in runs]
    if as_json:
        body = {
            "scenario": scenario,
            "seed": seed,
            "overrides": overrides,
            "assumptions": scenarios.ASSUMPTIONS.get(scenario, {}),
            "wall_seconds": round(wall, 3),
            "files": [str(f) for f in files],
            "policies": rows,
        }
        click.echo(json.dumps(body, indent=2, sort_keys=True, default=str))
    else:
        render(scenario, seed, rows)
        for f in files:
            out.print(f"wrote {escape(str(f))}")
    sys.exit(0 if all(r["recovered"] for r in rows) else 1)


def _dns_outage(scenario: str, text: str, seed: int, scale: float) -> float:
    if scenario not in ("oct2025", "leases"):
        raise ParamError("--dns-outage", text, "only for the oct2025 and leases scenarios")
    if text == "incident":
        return scenarios.incident_outage(seed, scale)
    try:
        return float(text)
    except ValueError:
        raise ParamError("--dns-outage", text, "must be seconds or 'incident'") from None


def _split(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ParamError("--set", text, "must look like NAME=VALUE")
    return name.strip(), value.strip()

"""Health commands: `lb disable|enable`, `drain|undrain`, and `health` (what the probing
planner sees: per LB verdict and planned capacity, vantage points, held back, alarms)."""

from __future__ import annotations

import getpass
import time

import click
from rich.table import Table

from zonewarden.cli.common import config_option, console, friendly_errors, json_option, print_json
from zonewarden.config import Config, resolve
from zonewarden.ports import RegionStore
from zonewarden.runtime import holds
from zonewarden.runtime.openers import open_store


def _open(config_path: str | None) -> tuple[Config, RegionStore]:
    config = resolve(config_path)
    return config, open_store(config, create=False)


def _actor() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except Exception:
        return "operator"


def _target(az: str | None, lb: str | None) -> tuple[str, str]:
    if (az is None) == (lb is None):
        raise click.UsageError("name exactly one of --az AZ or --lb LB")
    return ("az", az) if az is not None else ("lb", lb or "")


@click.group()
def lb() -> None:
    """Take a load balancer out of plans (under the removal budget) or put it back."""


@lb.command("disable")
@click.argument("lb_id")
@click.option("--reason", required=True, help="Why; kept in the audit log.")
@config_option
@friendly_errors
def lb_disable(lb_id: str, reason: str, config_path: str | None) -> None:
    """Treat LB_ID as failed until `lb enable`, whatever its probes say."""
    config, store = _open(config_path)
    holds.disable_lb(store, config, lb_id, reason=reason, actor=_actor(), now=time.time())
    console.print(
        f"{lb_id} disabled: the planner removes it within the removal budget "
        "(`zonewarden health` shows what is held back; `zonewarden drain --lb` moves at once)"
    )


@lb.command("enable")
@click.argument("lb_id")
@config_option
@friendly_errors
def lb_enable(lb_id: str, config_path: str | None) -> None:
    """Let LB_ID's probes decide again."""
    config, store = _open(config_path)
    if holds.enable_lb(store, config, lb_id, actor=_actor(), now=time.time()):
        console.print(f"{lb_id} enabled: it returns once healthy for the hold-down")
    else:
        console.print(f"{lb_id} was not disabled; nothing changed")


@click.command()
@click.option("--az", help="Drain every LB of this AZ.")
@click.option("--lb", "lb_id", help="Drain this LB.")
@click.option("--reason", required=True, help="Why; kept in the audit log.")
@config_option
@friendly_errors
def drain(az: str | None, lb_id: str | None, reason: str, config_path: str | None) -> None:
    """Move traffic off an AZ or LB now, past the removal budget, on purpose."""
    scope, name = _target(az, lb_id)
    config, store = _open(config_path)
    holds.drain(store, config, scope, name, reason=reason, actor=_actor(), now=time.time())
    console.print(
        f"[bold yellow]draining {scope} {name}[/]: the next plan removes it, past the budget; "
        f"`zonewarden undrain --{scope} {name}` to return it"
    )


@click.command()
@click.option("--az", help="Undrain this AZ.")
@click.option("--lb", "lb_id", help="Undrain this LB.")
@config_option
@friendly_errors
def undrain(az: str | None, lb_id: str | None, config_path: str | None) -> None:
    """End a drain; the LBs return once healthy for the hold-down."""
    scope, name = _target(az, lb_id)
    config, store = _open(config_path)
    if holds.undrain(store, config, scope, name, actor=_actor(), now=time.time()):
        console.print(f"{scope} {name} undrained")
    else:
        console.print(f"{scope} {name} was not drained; nothing changed")


@click.command("health")
@config_option
@json_option
@friendly_errors
def health(config_path: str | None, as_json: bool) -> None:
    """What the probing planner sees: LBs, vantage points, held back, fail-static."""
    _, store = _open(config_path)
    status = store.health_status()
    if as_json:
        print_json(status)
        return
    if not status.get("lbs"):
        console.print('no health status yet: run the planner with [planner] health = "probe"')
        return
    age = time.time() - float(status.get("at", 0))
    if status.get("fail_static"):
        console.print(f"[bold red]FAIL-STATIC[/] ({age:.0f} s ago): holding the last good plan")
        for alarm in status["fail_static"]:
            console.print(f"  {alarm}")
    table = Table("LB / address", "AZ", "healthy", "capacity", "planned", "weight", "why")
    word = {True: "yes", False: "[red]no[/]", None: "?"}
    for name, row in sorted(status["lbs"].items()):
        table.add_row(
            name,
            row["az"],
            word[row["healthy"]],
            str(row["capacity"]),
            str(row["served"]),
            str(row["weight"]),
            row["reason"],
        )
        for address, probed in sorted(row.get("addresses", {}).items()):
            planned = {True: "in", False: "[red]out[/]", None: ""}[probed.get("planned")]
            waiting, exits = probed.get("waiting_s"), probed.get("exits")
            if waiting is not None:
                planned += f" (waits {float(waiting):.0f} s more)"
            why = str(probed.get("reason", ""))
            if exits:
                why = f"left the plan {exits}x recently; {why}"
            table.add_row(f"  {address}", "", word[probed.get("healthy")], "", planned, "", why)
    console.print(table)
    for held in status.get("held_back", []):
        console.print(
            f"held back: {held['lb']}: {held['wanted'] - held['removed']} of {held['wanted']} "
            f"({held['bound']})"
        )
    for line in status.get("waiting", []):
        console.print(f"waiting: {line}")
    vantage = status.get("vantage", {})
    console.print(
        f"vantage points: fresh {', '.join(vantage.get('fresh', [])) or '-'}; "
        f"stale {', '.join(vantage.get('stale', [])) or '-'}"
    )
    for line in vantage.get("overload", []):
        console.print(f"[bold yellow]probes shed[/] {line} (no evidence, not failures)")
    for h in status.get("holds", []):
        console.print(f"hold: {h['kind']} {h['scope']} {h['name']} by {h['actor']}: {h['reason']}")


def register(cli: click.Group) -> None:
    for command in (lb, drain, undrain, health):
        cli.add_command(command)

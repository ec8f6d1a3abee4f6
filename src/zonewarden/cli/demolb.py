"""`zonewarden lb break|mend`: make one of the demo's loopback load balancers fail, and
heal it, to watch live health checks move its addresses out of DNS and back.

Rules kept here: only an LB whose check address is on loopback can be driven (the
demo's, served by zonewarden.health.lbserver through its control path); a real LB is
refused with what to do instead (`lb disable`); an LB server that does not answer is
a clear error, not a traceback.
"""

from __future__ import annotations

import ipaddress

import click

from zonewarden.cli.common import config_option, console, friendly_errors
from zonewarden.config import resolve
from zonewarden.core.model import LbId
from zonewarden.errors import ConfigError, NotFound
from zonewarden.health.lbserver import control

HOW = ("status", "stall", "slow", "garbage")


def _address(config_path: str | None, lb_id: str) -> str:
    config = resolve(config_path)
    target = config.health.checks.get(LbId(lb_id))
    if target is None:
        known = ", ".join(sorted(config.health.checks)) or "none"
        raise NotFound(f"no load balancer {lb_id!r} with a check URL (known: {known})")
    try:
        loopback = ipaddress.ip_address(target.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or not config.demo.get("lb_servers"):
        raise ConfigError(
            f"{lb_id} is not one of the demo's loopback load balancers ({target.url}); "
            f"`zonewarden lb disable {lb_id} --reason ...` takes a real one out of plans"
        )
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{target.port}"


def _drive(address: str, lb_id: str, mode: str) -> None:
    try:
        control(address, mode, timeout=3.0)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"the demo load balancer {lb_id} at {address} did not answer ({exc}); "
            "is `zonewarden up` running here?"
        ) from None


@click.command("break")
@click.argument("lb_id")
@click.option(
    "--how",
    type=click.Choice(HOW),
    default="status",
    show_default=True,
    help="status: health answers 503; stall: never answers; slow: past the timeout; "
    "garbage: not HTTP.",
)
@config_option
@friendly_errors
def lb_break(lb_id: str, how: str, config_path: str | None) -> None:
    """Make demo load balancer LB_ID fail its health checks (the demo region only)."""
    address = _address(config_path, lb_id)
    _drive(address, lb_id, how)
    console.print(
        f"{lb_id} ({address}) now fails its checks ({how}); after `fall` failed probes the "
        "planner moves its addresses out of DNS, within the removal budget "
        f"(`zonewarden health`, the dashboard). `zonewarden lb mend {lb_id}` heals it."
    )


@click.command("mend")
@click.argument("lb_id")
@config_option
@friendly_errors
def lb_mend(lb_id: str, config_path: str | None) -> None:
    """Make demo load balancer LB_ID healthy again; it returns after the hold-down."""
    address = _address(config_path, lb_id)
    _drive(address, lb_id, "ok")
    console.print(f"{lb_id} ({address}) answers its checks again; it returns after the hold-down")


def register(cli: click.Group) -> None:
    group = cli.commands.get("lb")
    if isinstance(group, click.Group):
        group.add_command(lb_break)
        group.add_command(lb_mend)

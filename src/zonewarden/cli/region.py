"""Commands that run one role of a region each: planner, enactor, reconciler (`up` runs
them all: cli/up.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket

import click

from zonewarden.cli.common import config_option, err_console, friendly_errors
from zonewarden.config import PROTOCOLS, resolve
from zonewarden.core import legacy
from zonewarden.runtime.enactor import EnactorRunner
from zonewarden.runtime.openers import open_health, open_leadership, open_store
from zonewarden.runtime.operations import run_reconciler
from zonewarden.runtime.planner import Planner
from zonewarden.runtime.reload import reload_planner
from zonewarden.runtime.roles import claim
from zonewarden.runtime.vantage import VantagePoint, probes_from_enactors


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def _run_until_signal(main: object, on_hup: object = None, beside: object = None) -> None:
    """Run `main(stop)` until SIGINT/SIGTERM; `on_hup()` on SIGHUP (in a thread, so a
    slow reload never blocks the loop); `beside(stop)` as a task alongside."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if on_hup is not None:
            loop.add_signal_handler(
                signal.SIGHUP,
                lambda: loop.create_task(asyncio.to_thread(on_hup)),  # type: ignore[arg-type]
            )
        extra = loop.create_task(beside(stop)) if beside is not None else None  # type: ignore[operator]
        await main(stop)  # type: ignore[operator]
        if extra is not None:
            await extra

    asyncio.run(runner())


@click.command()
@config_option
@click.option(
    "--id", "planner_id", default=None, help="Name in leader elections (etcd); default host:pid."
)
@click.option("-v", "--verbose", is_flag=True, help="Log every publish and hold.")
@friendly_errors
def planner(config_path: str | None, planner_id: str | None, verbose: bool) -> None:
    """Run the planner: observe health, publish plans, hold when inputs look wrong.

    Several planners may share an etcd store: one leads by lease and publishes, the
    others stand by and take over within two lease TTLs ([planner] leader_ttl)."""
    _logging(verbose)
    config = resolve(config_path)
    store = open_store(config, create=True)
    candidate = planner_id or f"{socket.gethostname()}:{os.getpid()}"
    leadership = open_leadership(config, store, candidate)
    # on etcd several planners run: one leads by lease, the others stand by; on one
    # SQLite file a second planner is refused
    lease = claim(store, "planner") if leadership is None else None
    role = Planner(
        config,
        store,
        open_health(config, store),
        leadership=leadership,
        actor=f"planner {candidate}" if planner_id else "planner",
    )
    try:
        _run_until_signal(
            lambda stop: role.run(stop, lease), on_hup=lambda: reload_planner(role, config.path)
        )
    finally:
        if lease is not None:
            lease.release()


@click.command()
@config_option
@click.option("--id", "enactor_id", required=True, help="This enactor's name, e.g. az1.")
@click.option(
    "--protocol", type=click.Choice(PROTOCOLS), default=None, help="Default: the config's."
)
@click.option(
    "--write-delay",
    type=click.FloatRange(0, 3600),
    default=0.0,
    help="Fault injection: wait this many seconds before each write (a slow enactor).",
)
@click.option(
    "--plan-delay",
    type=click.FloatRange(0, 3600),
    default=0.0,
    help="Fault injection: wait this many seconds after choosing a plan, before writing it.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.001, 3600),
    default=None,
    help="Override the config's.",
)
@click.option("-v", "--verbose", is_flag=True)
@friendly_errors
def enactor(
    config_path: str | None,
    enactor_id: str,
    protocol: str | None,
    write_delay: float,
    plan_delay: float,
    poll_interval: float | None,
    verbose: bool,
) -> None:
    """Run one enactor: bring every endpoint to the newest plan, fenced."""
    _logging(verbose)
    config = resolve(config_path)
    chosen = protocol or config.enactors.protocol
    if chosen == "legacy":
        err_console.print(f"[bold red]{legacy.WARNING}[/]")
    store = open_store(config, create=True)
    knobs = config.enactors.config
    if poll_interval is not None:
        knobs = dataclasses.replace(knobs, poll_interval=poll_interval)
    lease = claim(store, f"enactor {enactor_id}")  # one live process per enactor id
    runner = EnactorRunner(
        enactor_id,
        store,
        knobs,
        protocol=chosen,
        write_delay=write_delay,
        plan_delay=plan_delay,
        lease=lease,
    )
    vantage = VantagePoint(config, store, enactor_id) if probes_from_enactors(config) else None
    try:
        _run_until_signal(runner.run, beside=vantage.run if vantage is not None else None)
    finally:
        lease.release()


@click.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
@friendly_errors
def reconciler(config_path: str | None, verbose: bool) -> None:
    """Run the reconciler: find inconsistent state and repair it, forever."""
    _logging(verbose)
    config = resolve(config_path)
    store = open_store(config, create=True)

    async def main(stop: asyncio.Event) -> None:
        await run_reconciler(config, store, stop)

    _run_until_signal(main)


def register(cli: click.Group) -> None:
    for command in (planner, enactor, reconciler):
        cli.add_command(command)

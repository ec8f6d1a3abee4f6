"""Commands that run a region's roles: up, planner, enactor, reconciler."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from pathlib import Path

import click
from rich.console import Group
from rich.live import Live

from zonewarden.cli.common import config_option, console, err_console, friendly_errors
from zonewarden.cli.views import status_view
from zonewarden.config import DEMO_CONFIG, PROTOCOLS, Config, demo_toml, load, resolve
from zonewarden.core import legacy
from zonewarden.ports import RegionStore
from zonewarden.runtime.enactor import EnactorRunner
from zonewarden.runtime.openers import open_health, open_store
from zonewarden.runtime.operations import run_reconciler
from zonewarden.runtime.planner import Planner
from zonewarden.runtime.reload import reload_planner
from zonewarden.runtime.roles import claim
from zonewarden.runtime.status import region_status, stale_after
from zonewarden.runtime.supervisor import Supervisor, UpLock, child_roles
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
@click.option("-v", "--verbose", is_flag=True, help="Log every publish and hold.")
@friendly_errors
def planner(config_path: str | None, verbose: bool) -> None:
    """Run the planner: observe health, publish plans, hold when inputs look wrong."""
    _logging(verbose)
    config = resolve(config_path)
    store = open_store(config, create=True)
    lease = claim(store, "planner")  # one live planner per region
    role = Planner(config, store, open_health(config, store))
    try:
        _run_until_signal(
            lambda stop: role.run(stop, lease), on_hup=lambda: reload_planner(role, config.path)
        )
    finally:
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
        enactor_id, store, knobs, protocol=chosen, write_delay=write_delay, lease=lease
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


def _demo_config(protocol: str) -> Path:
    DEMO_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    if not DEMO_CONFIG.exists():
        DEMO_CONFIG.write_text(demo_toml(protocol=protocol))
    return DEMO_CONFIG


def _view(config: Config, store: RegionStore) -> Group:
    st = region_status(store, time.time(), stale_after(config))
    return status_view(st, title=f"region {config.region.name}: ")


@click.command()
@config_option
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default=None,
    help="Enactor protocol (legacy is UNSAFE).",
)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--no-dns", is_flag=True, help="Do not start the embedded DNS server.")
@click.option("--quiet", is_flag=True, help="No live table; just run.")
@friendly_errors
def up(
    config_path: str | None, protocol: str | None, duration: float | None, no_dns: bool, quiet: bool
) -> None:
    """Start a whole region here: planner, enactors, reconciler, DNS server.

    With no --config it runs the built-in demo region (4 endpoints, 12 LBs, 3 AZs),
    writing .zonewarden/demo.toml; then try `dig @127.0.0.1 -p 5353 kv.us-east-1.example.`.
    With an external [backend] (rfc2136, route53) the enactors write there and no
    embedded DNS server starts.
    """
    path = Path(config_path) if config_path else _demo_config(protocol or "safe")
    config = load(path)
    chosen = protocol or config.enactors.protocol
    if chosen == "legacy":
        err_console.print(f"[bold red]{legacy.WARNING}[/]")
    lock = UpLock(config.store.path.with_name(config.store.path.name + ".up.lock"))
    lock.acquire()
    store = open_store(config, create=True)
    from zonewarden.cli.main import cli

    external = config.backend.get("kind", "embedded") != "embedded"
    # with an external backend the records live at that server: an embedded server would
    # answer from the store, not from what clients are actually served
    with_dns = not no_dns and not external and "serve-dns" in cli.commands
    children = child_roles(config, path, with_dns=with_dns, protocol=chosen)
    supervisor = Supervisor(children, config.store.path.parent / "logs")
    stopping = {"now": False}

    def on_signal(*_: object) -> None:
        stopping["now"] = True

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    supervisor.start()
    console.print(
        f"[green]region {config.region.name} up[/] with {len(children)} processes; store {config.store.describe()}"
    )
    if with_dns:
        listen = config.dns.get("listen", ["127.0.0.1:5353"])[0]
        host, _, port = listen.rpartition(":")
        name = min(config.region.endpoints, key=len)
        console.print(f"try: dig @{host.strip('[]')} -p {port} {name}")
    elif external:
        console.print(
            f"records go to the external {config.backend['kind']} backend, not to an "
            "embedded server; "
            "`zonewarden backend check` shows the generation each endpoint holds there"
        )
    console.print("Ctrl-C stops everything. Logs: " + str(supervisor.log_dir))
    deadline = time.monotonic() + duration if duration else None
    try:
        if quiet or not console.is_terminal:
            while not stopping["now"] and (deadline is None or time.monotonic() < deadline):
                supervisor.poll(lambda msg: err_console.print(f"[yellow]{msg}[/]"))
                time.sleep(0.1)
        else:
            with Live(_view(config, store), console=console, refresh_per_second=2) as live:
                while not stopping["now"] and (deadline is None or time.monotonic() < deadline):
                    for _ in range(5):  # restart a dead DNS server within 0.1 s
                        supervisor.poll(lambda msg: live.console.print(f"[yellow]{msg}[/]"))
                        time.sleep(0.1)
                    live.update(_view(config, store))
    finally:
        supervisor.stop()
        store.close()
        lock.release()
    console.print("region stopped")


def register(cli: click.Group) -> None:
    for command in (up, planner, enactor, reconciler):
        cli.add_command(command)

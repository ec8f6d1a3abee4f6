"""`zonewarden up`: a whole region on this machine, and the live race replay."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
from pathlib import Path

import click
from rich.console import Group
from rich.live import Live

from zonewarden.cli.api import split_listen
from zonewarden.cli.common import config_option, console, err_console, friendly_errors
from zonewarden.cli.views import status_view
from zonewarden.config import DEFAULT_STATE_DIR, DEMO_CONFIG, PROTOCOLS, Config, demo_toml, load
from zonewarden.config.checks import listen as check_listen
from zonewarden.core import legacy
from zonewarden.core.region import demo_region
from zonewarden.errors import ConfigError
from zonewarden.ports import RegionStore
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.scenario import OTHERS_ARGS, VICTIM, VICTIM_ARGS, RaceScenario, race_toml
from zonewarden.runtime.status import region_status, stale_after
from zonewarden.runtime.supervisor import Child, Supervisor, UpLock, child_roles


def _demo_config(protocol: str) -> Path:
    DEMO_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    if not DEMO_CONFIG.exists():
        DEMO_CONFIG.write_text(demo_toml(protocol=protocol, lb_port=_free_lb_port()))
    return DEMO_CONFIG


def _free_lb_port(attempts: int = 50) -> int:
    """A port free on every demo LB address (127.0.A.I), chosen once, when the demo
    config is written, so several demo regions on one machine do not collide."""
    hosts = [lb.ipv4[0] for lb in demo_region().lbs.values()]
    for _ in range(attempts):
        with socket.socket() as first:
            first.bind((hosts[0], 0))
            port = int(first.getsockname()[1])
            held = []
            try:
                for host in hosts[1:]:
                    s = socket.socket()
                    held.append(s)
                    s.bind((host, port))
                return port
            except OSError:
                continue
            finally:
                for s in held:
                    s.close()
    raise ConfigError("no port is free on every demo load balancer address (127.0.A.I)")


def _race_config(protocol: str) -> Path:
    """A fresh store per race run: the legacy race leaves its region broken on purpose."""
    path = DEFAULT_STATE_DIR / f"race-{protocol}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = race_toml(protocol).replace('path = "region.db"', f'path = "race-{protocol}.db"')
    path.write_text(text)
    for suffix in ("", "-wal", "-shm"):
        (DEFAULT_STATE_DIR / f"race-{protocol}.db{suffix}").unlink(missing_ok=True)
    return path


def _token(config: Config) -> Path | None:
    """The API token file; `up` writes one (owner-only) where the config names it."""
    path = config.api.token_file
    if path is None:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    return path


def _listen(option: str, values: tuple[str, ...]) -> list[str]:
    try:
        return list(check_listen(list(values)))
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _view(config: Config, store: RegionStore) -> Group:
    st = region_status(store, time.time(), stale_after(config))
    return status_view(st, title=f"region {config.region.name}: ")


def _where(config: Config, dns: list[str] | None, api: str | None, logs: Path) -> None:
    if dns:
        host, port = split_listen(dns[0])
        name = min(config.region.endpoints, key=len)
        console.print(
            f"  dns   udp+tcp {', '.join(dns)}   try: dig @{host} -p {port} {name}", soft_wrap=True
        )
    elif config.backend.get("kind", "embedded") != "embedded":
        console.print(
            f"  dns   records go to the external {config.backend['kind']} backend, not to an "
            "embedded server; `zonewarden backend check` shows the generation each endpoint holds there"
        )
    if api:
        host, port = split_listen(api)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        console.print(
            f"  api   {url}/ (dashboard)  {url}/status  {url}/metrics  {url}/openapi.json"
        )
        token = config.api.token_file
        console.print(
            f'        admin token: {token} (curl -H "Authorization: Bearer $(cat {token})" '
            f"-X POST {url}/api/v1/freeze)"
            if token
            else "        read-only: set [api] token_file for freeze, pin, rollback, repair",
            soft_wrap=True,
        )
    if config.demo.get("lb_servers"):
        first = min(config.health.checks)
        check = config.health.checks[first]
        console.print(
            f"  lbs   {len(config.health.checks)} demo load balancers on port {check.port} "
            f"(one process, `lbs`), health-checked live by the planner; break one: "
            f"zonewarden lb break {first}   mend it: zonewarden lb mend {first}   "
            f"(or curl '{check.url.rsplit('/', 1)[0]}/_control?mode=stall')",
            soft_wrap=True,
        )
    console.print(f"  store {config.store.describe()}")
    console.print(f"  logs  {logs}")


@click.command()
@config_option
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default=None,
    help="Enactor protocol (legacy is UNSAFE).",
)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--dns-listen", multiple=True, help="DNS ADDR:PORT (default [dns] listen, 127.0.0.1:5353)."
)
@click.option(
    "--api-listen", default=None, help="API ADDR:PORT (default [api] listen, 127.0.0.1:8053)."
)
@click.option(
    "--dns-metrics-listen",
    default=None,
    help="The DNS server's Prometheus metrics on ADDR:PORT (default [dns] metrics_listen; off).",
)
@click.option("--no-dns", is_flag=True, help="Do not start the embedded DNS server.")
@click.option("--no-api", is_flag=True, help="Do not start the API, dashboard and status page.")
@click.option(
    "--scenario",
    type=click.Choice(["race"]),
    default=None,
    help="race: replay the 2025 race live (a slow enactor paused and resumed in a loop).",
)
@click.option("--quiet", is_flag=True, help="No live table; just run.")
@friendly_errors
def up(
    config_path: str | None,
    protocol: str | None,
    duration: float | None,
    dns_listen: tuple[str, ...],
    api_listen: str | None,
    dns_metrics_listen: str | None,
    no_dns: bool,
    no_api: bool,
    scenario: str | None,
    quiet: bool,
) -> None:
    """Start a whole region here: planner, three enactors, reconciler, DNS server, and
    the API with its dashboard and status page.

    With no --config it runs the built-in demo region (4 endpoints, 12 LBs, 3 AZs),
    writing .zonewarden/demo.toml; then try `dig @127.0.0.1 -p 5353 kv.us-east-1.example.`
    and open http://127.0.0.1:8053/. With an external [backend] (rfc2136, route53) the
    enactors write there and no embedded DNS server starts.

    `--scenario race` replays the October 2025 race on a fresh demo store: one enactor is
    slowed and paused while plans come quickly. With the safe protocol its stale writes
    are fenced out; with `--protocol legacy` a name goes empty within a minute and stays
    empty until `zonewarden repair`.
    """
    if scenario == "race":
        if config_path:
            raise ConfigError("--scenario race runs on its own demo region; drop --config")
        path = _race_config(protocol or "safe")
    else:
        path = Path(config_path) if config_path else _demo_config(protocol or "safe")
    config = load(path)
    chosen = protocol or config.enactors.protocol
    if chosen == "legacy":
        err_console.print(f"[bold red]{legacy.WARNING}[/]")
    dns = _listen("--dns-listen", dns_listen) if dns_listen else None
    api = None if no_api else (api_listen or config.api.listen)
    if api:
        split_listen(api)  # a clear error now, not a crash-looping child
    if dns_metrics_listen:
        split_listen(dns_metrics_listen)
    lock = UpLock(config.store.path.with_name(config.store.path.name + ".up.lock"))
    lock.acquire()
    store = open_store(config, create=True)
    from zonewarden.cli.main import cli

    external = config.backend.get("kind", "embedded") != "embedded"
    with_dns = not no_dns and not external and cli.has("serve-dns")
    if with_dns:
        dns = dns or list(config.dns.get("listen", ["127.0.0.1:5353"]))
    if api:
        _token(config)
    race = scenario == "race"
    children = child_roles(
        config,
        path,
        with_dns=with_dns,
        protocol=chosen,
        dns_listen=dns,
        api_listen=api,
        dns_metrics_listen=dns_metrics_listen,
        enactor_args=(
            {i: VICTIM_ARGS if i == VICTIM else OTHERS_ARGS for i in config.enactors.ids}
            if race
            else None
        ),
    )
    supervisor = Supervisor(children, config.store.path.parent / "logs")
    stopping = {"now": False}

    def on_signal(*_: object) -> None:
        stopping["now"] = True

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    replay = RaceScenario(store, protocol=chosen) if race else None
    if replay is not None:
        replay.say = lambda msg: err_console.print(f"[yellow]{msg}[/]")
    supervisor.start(lambda msg: console.print(f"[green]{msg}[/]"))
    console.print(
        f"[green]region {config.region.name} up[/] with {len(children)} processes ({chosen} protocol)"
    )
    _where(config, dns if with_dns else None, api, supervisor.log_dir)
    metrics_at = dns_metrics_listen or config.dns.get("metrics_listen")
    if with_dns and metrics_at:
        console.print(f"        dns metrics http://{metrics_at}/metrics")
    if replay is not None:
        console.print(
            f"[bold]race replay:[/] enactor {VICTIM} is slowed and paused while plans come "
            "quickly; watch the dashboard's fenced count"
            + (
                " and dig: a name goes empty and stays empty until `zonewarden repair`"
                if chosen == "legacy"
                else ""
            )
        )
    console.print("Ctrl-C stops everything.")
    victim = _child(children, f"enactor {VICTIM}")
    deadline = time.monotonic() + duration if duration else None

    def tick(report: object) -> None:
        supervisor.poll(report)  # type: ignore[arg-type]
        if replay is not None:
            replay.victim = victim.proc if victim else None
            replay.others = {
                c.role.split()[-1]: c.proc
                for c in children
                if c.role.startswith("enactor ") and c is not victim and c.proc is not None
            }
            try:
                replay.tick()
            except Exception as exc:  # the replay must never take the region down
                err_console.print(f"[yellow]race replay: {exc}[/]")

    try:
        if quiet or not console.is_terminal:
            while not stopping["now"] and (deadline is None or time.monotonic() < deadline):
                tick(lambda msg: err_console.print(f"[yellow]{msg}[/]"))
                time.sleep(0.05)
        else:
            with Live(_view(config, store), console=console, refresh_per_second=2) as live:
                while not stopping["now"] and (deadline is None or time.monotonic() < deadline):
                    for _ in range(10):  # restart a dead DNS server within 0.1 s
                        tick(lambda msg: live.console.print(f"[yellow]{msg}[/]"))
                        time.sleep(0.05)
                    live.update(_view(config, store))
    finally:
        if replay is not None:
            replay.resume()
        supervisor.stop()
        store.close()
        lock.release()
    console.print("region stopped")


def _child(children: list[Child], role: str) -> Child | None:
    return next((c for c in children if c.role == role), None)


def register(cli: click.Group) -> None:
    cli.add_command(up)

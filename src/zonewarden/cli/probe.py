"""`zonewarden probe`: resolve every endpoint like an external client, and alert."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import click

from zonewarden.backends.answer_probe import (
    agreement,
    intended,
    post_webhook,
    probe_round,
    split_server,
)
from zonewarden.backends.marker_watch import MarkerWatch, watch_round
from zonewarden.cli.common import config_option, err_console, friendly_errors, json_option
from zonewarden.config import resolve
from zonewarden.errors import ConfigError
from zonewarden.runtime.openers import open_store


@click.command()
@config_option
@click.option(
    "--server", "servers", multiple=True, required=True, help="DNS ADDR:PORT (repeatable)."
)
@click.option("--interval", type=click.FloatRange(0.05, 86400), default=5.0, show_default=True)
@click.option("--timeout", type=click.FloatRange(0.01, 60), default=1.0, show_default=True)
@click.option("--webhook", default=None, help="POST each alert as JSON to this URL.")
@click.option("--once", is_flag=True, help="One round; exit 1 if anything alerted.")
@click.option("--rounds", type=click.IntRange(1), default=None, help="Stop after N rounds.")
@json_option
@friendly_errors
def probe(
    config_path: str | None,
    servers: tuple[str, ...],
    interval: float,
    timeout: float,
    webhook: str | None,
    once: bool,
    rounds: int | None,
    as_json: bool,
) -> None:
    """Resolve every endpoint against each --server every --interval seconds and alert
    (a log line, a JSON line with --json, a webhook) on an empty answer, NXDOMAIN,
    SERVFAIL, a timeout, garbage, addresses the plan does not have, or a generation
    going backwards (an endpoint's `_zw` marker where the zone has markers, as RFC 2136
    zones do; the SOA serial at every server, which is all the embedded server exposes);
    with several servers, say which agree."""
    for s in servers:
        try:
            split_server(s)
        except ValueError as exc:
            raise ConfigError(f"--server: {exc}") from None
    config = resolve(config_path)
    store = open_store(config, create=False)
    alerted = False
    done = 0
    watch = MarkerWatch()  # generations seen so far, per server and endpoint
    try:
        while True:
            started = time.monotonic()
            allowed = intended(store)
            findings = asyncio.run(probe_round(servers, allowed, timeout=timeout))
            findings += asyncio.run(
                watch_round(
                    watch,
                    servers,
                    (name for name, _ in allowed),
                    [config.region.zone],
                    timeout=timeout,
                )
            )
            agree = agreement(findings)
            alerts = [f for f in findings if f.alert]
            alerted = alerted or bool(alerts)
            for f in alerts:
                line = {
                    "at": time.time(),
                    "alert": True,
                    "agree": agree.get(f.endpoint),
                    **f.as_json(),
                }
                if as_json:
                    click.echo(json.dumps(line, sort_keys=True))
                else:
                    err_console.print(
                        f"[bold red]ALERT[/] {f.server} {f.endpoint} {f.rtype}: {f.result} {f.detail}",
                        highlight=False,
                    )
                if webhook:
                    problem = post_webhook(webhook, line)
                    if problem:
                        err_console.print(f"[yellow]{problem}[/]")
            disagree = sorted(e for e, ok in agree.items() if not ok)
            summary = {
                "at": time.time(),
                "alert": False,
                "summary": True,
                "checked": len(findings),
                "alerts": len(alerts),
                "servers": list(servers),
                "disagree": disagree,
                "seconds": round(time.monotonic() - started, 3),
            }
            if as_json:
                click.echo(json.dumps(summary, sort_keys=True))
            else:
                err_console.print(
                    f"checked {len(findings)} answers from {len(servers)} server(s) in "
                    f"{summary['seconds']}s: {len(alerts)} alert(s)"
                    + (f"; servers disagree on {len(disagree)} name(s)" if disagree else ""),
                    highlight=False,
                )
            done += 1
            if once or (rounds is not None and done >= rounds):
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        store.close()
    if once and alerted:
        sys.exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(probe)

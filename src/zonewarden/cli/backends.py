"""`zonewarden backend ...`: check an external DNS backend before enactors use it.

`backend check` connects with the config's [backend] settings, reads the markers of
every endpoint (TCP, and TSIG-signed UPDATEs are proved by a fenced no-op write to a
scratch name), and says per endpoint which generation the server holds. For Route 53 it
also reports which compare-and-set guarantees the endpoint enforces.
"""

from __future__ import annotations

import time

import click
from rich.table import Table

from zonewarden.cli.common import config_option, console, friendly_errors, json_option, print_json
from zonewarden.config import resolve
from zonewarden.core.model import (
    Content,
    EndpointName,
    Generation,
    LbId,
    Policy,
    Record,
    RecordType,
)
from zonewarden.errors import ConfigError


@click.group("backend")
def backend_group() -> None:
    """External DNS backends (RFC 2136 servers, Route 53)."""


@backend_group.command("check")
@config_option
@json_option
@click.option("--write/--no-write", default=True, help="Prove UPDATE rights on a scratch name.")
@friendly_errors
def check(config_path: str | None, as_json: bool, write: bool) -> None:
    """Connect to the configured backend, prove the TSIG key, show live generations."""
    from zonewarden.backends.factory import open_backend

    config = resolve(config_path)
    if config.backend.get("kind", "embedded") == "embedded":
        raise ConfigError("[backend] kind is embedded: nothing external to check")
    backend = open_backend(config.backend, default_zone=config.region.zone)
    try:
        started = time.perf_counter()
        names = list(config.region.endpoints)
        live = backend.read(names)
        facts = [f"read {len(names)} endpoints in {time.perf_counter() - started:.3f}s"]
        if write:
            scratch = EndpointName(f"zonewarden-check.{backend.zone}")  # type: ignore[attr-defined]
            probe = Content(
                1, Policy.WEIGHTED_MULTI, (Record(RecordType.A, "192.0.2.1", 1, LbId("check")),)
            )
            outcome = backend.apply_fenced(Generation(int(time.time())), {scratch: probe})
            facts.append(f"fenced write to {scratch}: {outcome[scratch]}")
            backend.remove_records(scratch)
        if hasattr(backend, "probe"):
            facts += backend.probe()
    finally:
        backend.close()
    rows = [
        {
            "endpoint": n,
            "generation": int(e.marker.generation) if e.marker else None,
            "addresses": len(e.addresses),
        }
        for n, e in live.items()
    ]
    if as_json:
        print_json({"backend": backend.description, "facts": facts, "endpoints": rows})
        return
    console.print(f"[bold]{backend.description}[/]: reachable")
    for fact in facts:
        console.print(f"  {fact}")
    table = Table("endpoint", "generation at server", "addresses")
    for r in rows:
        table.add_row(str(r["endpoint"]), str(r["generation"] or "none yet"), str(r["addresses"]))
    console.print(table)


def register(cli: click.Group) -> None:
    cli.add_command(backend_group)

"""DNS commands: `serve-dns` (the embedded authoritative server) and `export zonefile`.

Rules kept here: the CLI only parses options, opens the store and delegates to
`zonewarden.backends.embedded`; the contract `zonewarden serve-dns --config FILE
--listen 127.0.0.1:5353` (what `zonewarden up` spawns) stays stable; every bad option
value is reported with what to do, never as a traceback.
"""

from __future__ import annotations

import logging
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from zonewarden.backends.embedded.settings import ServerSettings, ZoneSettings
from zonewarden.ports import ZoneStore

SOA_KEYS = ("mname", "rname", "soa_ttl", "ns_ttl", "refresh", "retry", "expire", "minimum")
SERVER_KEYS = (
    "processes",
    "max_udp_payload",
    "multi_k",
    "poll_interval",
    "tcp_idle_timeout",
    "tcp_max_connections",
)


@dataclass
class DnsOptions:
    """What the DNS commands need from the config file and the command line."""

    store: Path | None = None
    zones: list[str] = field(default_factory=list)
    dns: dict[str, Any] = field(default_factory=dict)


def read_config(path: Path) -> DnsOptions:
    """The store path, zone(s) and `[dns]` table of a region config file.

    Uses `zonewarden.config` when present; otherwise reads the few keys it needs
    (`zone`, `store`, `[dns]`, also under `[region]`) from the TOML directly."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"cannot read config {path}: {exc}") from exc
    region = data.get("region", {}) if isinstance(data.get("region"), dict) else {}
    store_table = data.get("store")
    store = store_table.get("path") if isinstance(store_table, dict) else store_table
    store = store or region.get("store")
    zone = data.get("zone") or region.get("zone")
    zones = [zone] if isinstance(zone, str) else list(zone or [])
    dns = data.get("dns", {})
    zones += list(dns.get("zones", []))
    opts = DnsOptions(Path(store) if store else None, zones, dict(dns))
    if opts.store is not None and not opts.store.is_absolute():
        opts.store = path.parent / opts.store
    return opts


def build_settings(
    opts: DnsOptions, listen: tuple[str, ...], processes: int | None
) -> ServerSettings:
    soa = {k: opts.dns[k] for k in SOA_KEYS if k in opts.dns}
    if "nameservers" in opts.dns:
        soa["nameservers"] = tuple(opts.dns["nameservers"])
    zones = tuple(ZoneSettings(z, **soa) for z in dict.fromkeys(opts.zones or ["example."]))
    server = {k: opts.dns[k] for k in SERVER_KEYS if k in opts.dns}
    settings = ServerSettings(zones=zones, **server)
    if listen or "listen" in opts.dns:
        wanted = listen or tuple(
            [opts.dns["listen"]] if isinstance(opts.dns["listen"], str) else opts.dns["listen"]
        )
        settings = replace(settings, listen=wanted)
    if processes is not None:
        settings = replace(settings, processes=processes)
    return settings


def store_opener(path: Path | None) -> Callable[[], ZoneStore]:
    if path is None:
        raise click.UsageError("no zone store: pass --store PATH (a SQLite store) or --config FILE")

    def open_store() -> ZoneStore:
        from zonewarden.stores.sqlite import SqliteStore

        return SqliteStore(path, create=False)

    return open_store


def gather(config: Path | None, store: Path | None, zones: tuple[str, ...]) -> DnsOptions:
    opts = read_config(config) if config is not None else DnsOptions()
    if store is not None:
        opts.store = store
    if zones:
        opts.zones = list(zones)
    return opts


def register(cli: click.Group) -> None:
    config_option = click.option(
        "--config", type=click.Path(dir_okay=False, path_type=Path), help="region TOML config"
    )
    store_option = click.option(
        "--store", type=click.Path(dir_okay=False, path_type=Path), help="SQLite store file"
    )
    zone_option = click.option("--zone", "zones", multiple=True, help="zone apex (repeatable)")

    @cli.command("serve-dns")
    @config_option
    @store_option
    @zone_option
    @click.option("--listen", multiple=True, help="ADDR:PORT, [ADDR6]:PORT (repeatable)")
    @click.option("--processes", type=int, help="server processes sharing the port")
    @click.option("-v", "--verbose", is_flag=True)
    def serve_dns(
        config: Path | None,
        store: Path | None,
        zones: tuple[str, ...],
        listen: tuple[str, ...],
        processes: int | None,
        verbose: bool,
    ) -> None:
        """Serve the live zone as an authoritative DNS server (UDP and TCP)."""
        from zonewarden.backends.embedded.launcher import serve

        logging.basicConfig(
            level=logging.INFO if verbose else logging.WARNING,
            format="%(asctime)s serve-dns %(levelname)s %(message)s",
        )
        opts = gather(config, store, zones)
        try:
            settings = build_settings(opts, listen, processes)
        except (ValueError, TypeError) as exc:
            raise click.BadParameter(str(exc)) from exc
        sys.exit(serve(store_opener(opts.store), settings))

    @cli.group("export")
    def export() -> None:
        """Export the live state in formats other DNS tools read."""

    @export.command("zonefile")
    @config_option
    @store_option
    @click.option("--zone", help="zone apex (default: the configured zone)")
    @click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="file")
    def export_zonefile(
        config: Path | None, store: Path | None, zone: str | None, output: Path | None
    ) -> None:
        """Write the live state of a zone as an RFC 1035 master file."""
        from zonewarden.backends.embedded.zonefile import export_zone

        opts = gather(config, store, (zone,) if zone else ())
        settings = build_settings(opts, (), None)
        zone_store = store_opener(opts.store)()
        version, entries = zone_store.changed_since(0)
        result = export_zone(settings.zones[0], version, entries)
        if output is None:
            click.echo(result.text, nl=False)
        else:
            output.write_text(result.text)
            click.echo(
                f"wrote {output}: {result.endpoints} endpoints, {result.records} records"
                + (f", {result.empty} with NO records" if result.empty else ""),
                err=True,
            )

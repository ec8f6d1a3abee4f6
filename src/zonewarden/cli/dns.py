"""DNS commands: `serve-dns` (the embedded authoritative server) and `export zonefile`.

Rules kept here: the CLI only reads the config, opens the store and delegates to
`zonewarden.backends.embedded`; the contract `zonewarden serve-dns --config FILE
--listen 127.0.0.1:5353` (what `zonewarden up` spawns) stays stable; `--store PATH`
serves a SQLite store without a config (benchmarks, tests); command-line options win
over the config's `[dns]` table; every bad value is one line saying what to do.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from zonewarden.backends.embedded.settings import ServerSettings, ZoneSettings
from zonewarden.cli.common import config_option, friendly_errors
from zonewarden.ports import ZoneStore

# config [dns] key -> ZoneSettings field
ZONE_KEYS = {
    "soa_mname": "mname",
    "soa_rname": "rname",
    "soa_refresh": "refresh",
    "soa_retry": "retry",
    "soa_expire": "expire",
    "soa_minimum": "minimum",
}
# config [dns] key -> ServerSettings field
SERVER_KEYS = {
    "listen": "listen",
    "processes": "processes",
    "udp_payload": "max_udp_payload",
    "multi_answers": "multi_k",
    "tcp_idle_timeout": "tcp_idle_timeout",
    "tcp_message_timeout": "tcp_message_timeout",
    "tcp_max_connections": "tcp_max_connections",
    "tcp_max_per_source": "tcp_max_per_source",
    "tcp_backlog": "tcp_backlog",
    "metrics_listen": "metrics_listen",
    "rrl_rate": "rrl_rate",
    "rrl_slip": "rrl_slip",
    "rrl_window": "rrl_window",
    "rrl_ipv4_prefix": "rrl_ipv4_prefix",
    "rrl_ipv6_prefix": "rrl_ipv6_prefix",
    "rrl_size": "rrl_size",
    "tsig_keys": "tsig_keys",
    "cookies": "cookies",
    "cookie_secret": "cookie_secret",
}
store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Serve this SQLite store file instead of the config's store.",
)


def settings_from(
    dns: Mapping[str, Any], zones: tuple[str, ...], listen: tuple[str, ...], processes: int | None
) -> ServerSettings:
    """ServerSettings from a config's [dns] table, overridden by command-line values."""
    zone_args = {field: dns[key] for key, field in ZONE_KEYS.items() if key in dns}
    if "ns" in dns:
        zone_args["nameservers"] = tuple(dns["ns"])
    if dns.get("nameservers"):  # names with addresses: the NS set and its glue
        servers = tuple(dns["nameservers"])
        zone_args["nameservers"] = tuple(name for name, _, _ in servers)
        zone_args["glue"] = servers
        zone_args.setdefault("mname", servers[0][0])
    server_args = {field: dns[key] for key, field in SERVER_KEYS.items() if key in dns}
    if "listen" in server_args:
        server_args["listen"] = tuple(server_args["listen"])
    settings = ServerSettings(
        zones=tuple(ZoneSettings(z, **zone_args) for z in dict.fromkeys(zones)), **server_args
    )
    if listen:
        settings = replace(settings, listen=listen)
    if processes is not None:
        settings = replace(settings, processes=processes)
    return settings


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """--dns KEY=VALUE options, each value read as TOML and checked like the config's."""
    import tomllib

    from zonewarden.config.dns import DNS_KEYS

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in DNS_KEYS:
            known = ", ".join(sorted(DNS_KEYS))
            raise ValueError(f"--dns {item!r}: expected KEY=VALUE with KEY one of {known}")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare string
        try:
            out[key] = DNS_KEYS[key](value)
        except ValueError as exc:
            raise ValueError(f"--dns {key}: {exc}") from None
    return out


def resolve(
    config_path: str | None, store_path: Path | None, zones: tuple[str, ...]
) -> tuple[Callable[[], ZoneStore], Mapping[str, Any], tuple[str, ...]]:
    """(store opener, [dns] table, zones) from --config and/or --store."""
    from zonewarden.stores.integrity import require_intact

    if store_path is not None and config_path is None:
        path = store_path
        require_intact(path)  # refuse a damaged file before serving anything from it

        def open_sqlite() -> ZoneStore:
            from zonewarden.stores.sqlite import SqliteStore

            return SqliteStore(path, create=False)

        return open_sqlite, {}, zones or ("example.",)
    from zonewarden.config import resolve as resolve_config
    from zonewarden.runtime.openers import open_store

    config = resolve_config(config_path)
    if store_path is not None:
        config = replace(config, store=replace(config.store, kind="sqlite", path=store_path))

    if config.store.kind == "sqlite":
        require_intact(config.store.path)  # before any server process starts

    def open_configured() -> ZoneStore:
        return open_store(config)

    return open_configured, config.dns, zones or (config.region.zone,)


def register(cli: click.Group) -> None:
    zone_option = click.option("--zone", "zones", multiple=True, help="Zone apex (repeatable).")

    @cli.command("serve-dns")
    @config_option
    @store_option
    @zone_option
    @click.option("--listen", multiple=True, help="ADDR:PORT or [ADDR6]:PORT (repeatable).")
    @click.option("--processes", type=int, help="Server processes sharing the port.")
    @click.option("--metrics-listen", help="ADDR:PORT serving Prometheus metrics (HTTP).")
    @click.option(
        "--dns",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set one [dns] key (TOML value), e.g. --dns tcp_max_connections=2000 (repeatable).",
    )
    @click.option(
        "--rrl-rate",
        type=click.IntRange(0),
        help="Response rate limit, answers/s per source prefix and name (0: off; default 200).",
    )
    @click.option("-v", "--verbose", is_flag=True, help="Log snapshot swaps too.")
    @friendly_errors
    def serve_dns(
        config_path: str | None,
        store_path: Path | None,
        zones: tuple[str, ...],
        listen: tuple[str, ...],
        processes: int | None,
        metrics_listen: str | None,
        overrides: tuple[str, ...],
        rrl_rate: int | None,
        verbose: bool,
    ) -> None:
        """Serve the live zone as an authoritative DNS server (UDP and TCP, IPv4 and IPv6).

        Default listen addresses: 127.0.0.1:5353 and [::1]:5353, so that
        `dig @127.0.0.1 -p 5353 <endpoint>` works right after `zonewarden up`."""
        from zonewarden.backends.embedded.launcher import serve

        logging.basicConfig(
            level=logging.INFO if verbose else logging.WARNING,
            format="%(asctime)s serve-dns %(levelname)s %(message)s",
        )
        opener, dns, served = resolve(config_path, store_path, zones)
        try:
            dns = {**dns, **parse_overrides(overrides)}
            settings = settings_from(dns, served, listen, processes)
            if metrics_listen:
                settings = replace(settings, metrics_listen=metrics_listen)
            if rrl_rate is not None:
                settings = replace(settings, rrl_rate=rrl_rate)
        except (ValueError, TypeError) as exc:
            raise click.BadParameter(str(exc)) from exc
        sys.exit(serve(opener, settings))

    @cli.group("export")
    def export() -> None:
        """Export the live state in formats other DNS tools read."""

    @export.command("zonefile")
    @config_option
    @store_option
    @click.option("--zone", help="Zone apex (default: the region's zone).")
    @click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
    @friendly_errors
    def export_zonefile(
        config_path: str | None, store_path: Path | None, zone: str | None, output: Path | None
    ) -> None:
        """Write the live state of a zone as an RFC 1035 master file."""
        from zonewarden.backends.embedded.zonefile import export_zone

        opener, dns, served = resolve(config_path, store_path, (zone,) if zone else ())
        settings = settings_from(dns, served, (), None)
        version, entries = opener().changed_since(0)
        result = export_zone(settings.zones[0], version, entries)
        if output is None:
            click.echo(result.text, nl=False)
            return
        output.write_text(result.text)
        empty = f", {result.empty} with NO records" if result.empty else ""
        click.echo(
            f"wrote {output}: {result.endpoints} endpoints, {result.records} records{empty}",
            err=True,
        )

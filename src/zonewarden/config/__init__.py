"""The region's TOML config: parsing, validation with file and line, and the demo.

Rules kept here:
- every key is known (a typo is an error, with the known keys listed), every value is
  type- and range-checked, and every error names the file and line;
- relative paths resolve against the config file's directory;
- `zonewarden up` with no config writes the built-in demo region to
  `.zonewarden/demo.toml` and uses it, so every child process reads one file.

The package: settings (the parsed values), checks (value checkers), schema (every
known key), source (file:line tracking), region/store/sections (section parsers),
demo (the built-in region).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from zonewarden.config.demo import demo_toml
from zonewarden.config.health import HealthSettings, parse_health
from zonewarden.config.region import check_nameservers, parse_region
from zonewarden.config.schema import BACKEND_REQUIRED, ENDPOINT_KEYS, LB_KEYS, SECTIONS
from zonewarden.config.sections import parse_api, parse_backend, parse_enactors, parse_planner
from zonewarden.config.settings import (
    BACKEND_KINDS,
    DEFAULT_STATE_DIR,
    DEMO_CONFIG,
    HEALTH_SOURCES,
    PROTOCOLS,
    STORE_KINDS,
    ApiSettings,
    Config,
    EnactorSettings,
    PlannerSettings,
    ReconcilerSettings,
    StoreSettings,
)
from zonewarden.config.source import Source, section
from zonewarden.config.store import TLS_KEYS, parse_store
from zonewarden.errors import ConfigError

__all__ = [
    "BACKEND_KINDS",
    "BACKEND_REQUIRED",
    "DEFAULT_STATE_DIR",
    "DEMO_CONFIG",
    "ENDPOINT_KEYS",
    "HEALTH_SOURCES",
    "LB_KEYS",
    "PROTOCOLS",
    "SECTIONS",
    "STORE_KINDS",
    "TLS_KEYS",
    "ApiSettings",
    "Config",
    "EnactorSettings",
    "HealthSettings",
    "PlannerSettings",
    "ReconcilerSettings",
    "StoreSettings",
    "demo_toml",
    "load",
    "parse",
    "resolve",
]


def load(path: Path | str) -> Config:
    """Read and validate a config file; every error names the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; pass the .toml file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    return parse(decode(raw, path), path)


def decode(raw: bytes, path: Path | None) -> str:
    """The config's text: UTF-8 (a BOM is tolerated), else a clear error, never a traceback."""
    where = str(path or "config")
    if b"\x00" in raw[:4096]:
        raise ConfigError(
            f"{where} looks like a binary file, not a TOML config (it contains NUL bytes); "
            "pass the region's .toml file"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "TOML configs are UTF-8: re-save the file as UTF-8",
            file=where,
            line=line,
        ) from None


def parse(text: str, path: Path | None = None) -> Config:
    src = Source(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ConfigError(f"not valid TOML: {exc}", file=str(path or "config"), line=line) from None
    known = set(SECTIONS) | {"lb", "endpoint"}
    for table in data:
        if table not in known:
            raise src.error(f"unknown section [{table}] (known: {', '.join(sorted(known))})", table)
    base = path.parent if path else Path.cwd()
    sections = {t: section(src, data.get(t, {}), t, keys) for t, keys in SECTIONS.items()}
    region = parse_region(src, data, sections["region"])
    check_nameservers(src, sections["dns"], region)
    return Config(
        path=path,
        region=region,
        store=parse_store(src, sections["store"], base),
        planner=parse_planner(src, sections["planner"]),
        enactors=parse_enactors(src, sections["enactors"]),
        reconciler=ReconcilerSettings(**sections["reconciler"]),
        dns=sections["dns"],
        backend=parse_backend(src, sections["backend"], base),
        health=parse_health(src, data, sections["health"], sections["planner"], region),
        api=parse_api(sections["api"], base),
        demo=sections["demo"],
    )


def resolve(path: str | Path | None) -> Config:
    """The config a command should use: the given file, else the demo one left by `up`."""
    if path is not None:
        return load(path)
    if DEMO_CONFIG.exists():
        return load(DEMO_CONFIG)
    raise ConfigError(
        "no config given and no demo region here: pass --config FILE, "
        "or run `zonewarden up` in this directory first"
    )

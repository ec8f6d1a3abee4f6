"""The region's TOML config: parsing, validation with file and line, and the demo.

Rules kept here:
- every key is known (a typo is an error, with the known keys listed), every value is
  type- and range-checked, and every error names the file and line;
- relative paths resolve against the config file's directory;
- `zonewarden up` with no config writes the built-in demo region to
  `.zonewarden/demo.toml` and uses it, so every child process reads one file.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.gates import Limits
from zonewarden.core.model import Endpoint, LbId, LoadBalancer, Policy, RecordType, check_dns_name
from zonewarden.core.region import Region, demo_region
from zonewarden.errors import ConfigError

DEFAULT_STATE_DIR = Path(".zonewarden")
DEMO_CONFIG = DEFAULT_STATE_DIR / "demo.toml"
PROTOCOLS = ("safe", "legacy")
STORE_KINDS = ("sqlite", "etcd")
HEALTH_SOURCES = ("static", "demo")
BACKEND_KINDS = ("embedded", "rfc2136", "route53")


@dataclass(frozen=True, slots=True)
class StoreSettings:
    kind: str = "sqlite"
    path: Path = DEFAULT_STATE_DIR / "region.db"
    endpoints: tuple[str, ...] = ()
    prefix: str = "/zonewarden"
    synchronous: str = "NORMAL"
    ca_file: Path | None = None  # etcd over https: the CA of the members' certificates
    cert_file: Path | None = None  # etcd client certificate and its key (both or neither)
    key_file: Path | None = None
    username: str | None = None  # etcd authentication
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """Where the region's state lives, for people: a file or a cluster and prefix."""
        if self.kind == "etcd":
            return f"etcd {', '.join(self.endpoints)} (prefix {self.prefix})"
        return str(self.path)


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    interval: float = 1.0
    limits: Limits = field(default_factory=Limits)
    max_unhealthy_fraction: float = 0.5
    health: str = "static"
    seed: int = 1


@dataclass(frozen=True, slots=True)
class EnactorSettings:
    ids: tuple[str, ...] = ("az1", "az2", "az3")
    protocol: str = "safe"
    config: EnactorConfig = field(default_factory=EnactorConfig)


@dataclass(frozen=True, slots=True)
class ReconcilerSettings:
    interval: float = 2.0
    max_lag: int = 10


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    region: Region
    store: StoreSettings = field(default_factory=StoreSettings)
    planner: PlannerSettings = field(default_factory=PlannerSettings)
    enactors: EnactorSettings = field(default_factory=EnactorSettings)
    reconciler: ReconcilerSettings = field(default_factory=ReconcilerSettings)
    dns: Mapping[str, Any] = field(default_factory=dict)
    backend: Mapping[str, Any] = field(default_factory=dict)


# -- value checkers: each returns the clean value or raises ValueError(why) --------------


def _num(lo: float, hi: float) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"expected a number, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"{v} is outside {lo}..{hi}")
        return float(v)

    return check


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected an integer, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"{v} is outside {lo}..{hi}")
        return v

    return check


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError(f"expected a non-empty string, got {v!r}")
    return v


def _choice(*options: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in options:
            raise ValueError(f"{v!r} is not one of: {', '.join(options)}")
        return str(v)

    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _strs(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ValueError(f"expected a list of strings, got {v!r}")
    return tuple(v)


def _addresses(
    kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address],
) -> Callable[[Any], tuple[str, ...]]:
    def check(v: Any) -> tuple[str, ...]:
        out = []
        for text in _strs(v) if v else ():
            try:
                out.append(str(kind(text)))
            except ValueError:
                family = "IPv4" if kind is ipaddress.IPv4Address else "IPv6"
                raise ValueError(f"{text!r} is not an {family} address") from None
        return tuple(out)

    return check


def _listen(v: Any) -> tuple[str, ...]:
    out = []
    for item in _strs(v):
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"{item!r} is not ADDR:PORT (for example 127.0.0.1:5353 or [::1]:5353)"
            )
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(f"{item!r}: {host!r} is not an IP address") from None
        out.append(item)
    return tuple(out)


SECTIONS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "region": {"name": _str, "zone": _str},
    "store": {
        "kind": _choice(*STORE_KINDS),
        "path": _str,
        "endpoints": _strs,
        "prefix": _str,
        "synchronous": _choice("OFF", "NORMAL", "FULL"),
        "ca_file": _str,
        "cert_file": _str,
        "key_file": _str,
        "username": _str,
        "password": _str,
        "password_file": _str,
    },
    "planner": {
        "interval": _num(0.005, 3600),
        "capacity_floor": _num(0, 1),
        "max_removal": _num(0, 1),
        "max_unhealthy_fraction": _num(0, 1),
        "health": _choice(*HEALTH_SOURCES),
        "seed": _int(0, 2**63),
    },
    "enactors": {
        "ids": _strs,
        "protocol": _choice(*PROTOCOLS),
        "batch_size": _int(1, 100_000),
        "poll_interval": _num(0.001, 3600),
        "backoff_base": _num(0.0001, 60),
        "backoff_cap": _num(0.001, 3600),
        "retention": _int(0, 1_000_000),
        "keep_newest": _int(1, 1_000_000),
        "cleanup": lambda v: bool(v) if isinstance(v, bool) else _choice()(v),
    },
    "reconciler": {"interval": _num(0.01, 3600), "max_lag": _int(1, 1_000_000)},
    "dns": {
        "listen": _listen,
        "processes": _int(1, 64),
        "udp_payload": _int(512, 4096),
        "multi_answers": _int(1, 64),
        "soa_mname": _str,
        "soa_rname": _str,
        "soa_refresh": _int(0, 2**31),
        "soa_retry": _int(0, 2**31),
        "soa_expire": _int(0, 2**31),
        "soa_minimum": _int(0, 86400),
        "ns": _strs,
        "tcp_idle_timeout": _num(0.1, 3600),
        "tcp_max_connections": _int(1, 100_000),
    },
    "backend": {
        "kind": _choice(*BACKEND_KINDS),
        "server": _str,
        "port": _int(1, 65535),
        "zone": _str,
        "tsig_key_name": _str,
        "tsig_secret": _str,
        "tsig_secret_file": _str,
        "tsig_algorithm": _choice(
            "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1"
        ),
        "require_tsig": _bool,
        "timeout": _num(0.05, 600),
        "batch_size": _int(1, 250),
        "verify": _bool,
        "marker_type": _choice("txt", "cname"),
        "hosted_zone_id": _str,
        "endpoint_url": _str,
        "aws_region": _str,
        "wait_insync": _bool,
        "insync_timeout": _num(0, 3600),
    },
}
BACKEND_REQUIRED = {"rfc2136": ("server",), "route53": ("hosted_zone_id",)}
LB_KEYS: dict[str, Callable[[Any], Any]] = {
    "id": _str,
    "az": _str,
    "ipv4": _addresses(ipaddress.IPv4Address),
    "ipv6": _addresses(ipaddress.IPv6Address),
    "capacity": _int(0, 10**9),
    "healthy": lambda v: v if isinstance(v, bool) else _choice()(v),
}
ENDPOINT_KEYS: dict[str, Callable[[Any], Any]] = {
    "name": _str,
    "lbs": lambda v: v if v == "*" else _strs(v),
    "types": lambda v: tuple(RecordType(_choice("A", "AAAA")(t)) for t in _strs(v)),
    "ttl": _int(0, 86400),
    "policy": lambda v: Policy(_choice(*(p.value for p in Policy))(v)),
}


class _Source:
    """Finds the line of a key in the raw TOML text, for error messages."""

    def __init__(self, path: Path | None, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def line(self, table: str, index: int | None = None, key: str | None = None) -> int | None:
        current: tuple[str, int | None] | None = None
        counts: dict[str, int] = {}
        header_line = None
        for number, raw in enumerate(self.lines, 1):
            text = raw.split("#", 1)[0].strip()
            if text.startswith("[["):
                name = text.strip("[] ")
                counts[name] = counts.get(name, -1) + 1
                current = (name, counts[name])
            elif text.startswith("["):
                current = (text.strip("[] "), None)
            else:
                if current == (table, index) and key and text.split("=", 1)[0].strip() == key:
                    return number
                continue
            if current == (table, index):
                header_line = number
        return header_line

    def error(
        self, message: str, table: str, index: int | None = None, key: str | None = None
    ) -> ConfigError:
        where = str(self.path) if self.path else "config"
        return ConfigError(message, file=where, line=self.line(table, index, key))


def _section(
    src: _Source,
    data: Mapping[str, Any],
    table: str,
    keys: Mapping[str, Callable[[Any], Any]],
    index: int | None = None,
) -> dict[str, Any]:
    out = {}
    label = f"[[{table}]]" if index is not None else f"[{table}]"
    for key, value in data.items():
        check = keys.get(key)
        if check is None:
            raise src.error(
                f"unknown key {key!r} in {label} (known: {', '.join(sorted(keys))})",
                table,
                index,
                key,
            )
        try:
            out[key] = check(value)
        except ValueError as exc:
            raise src.error(f"{label} {key}: {exc}", table, index, key) from None
    return out


def load(path: Path | str) -> Config:
    """Read and validate a config file; every error names the file and line."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse(text, path)


def parse(text: str, path: Path | None = None) -> Config:
    src = _Source(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path or "config")) from None
    known = set(SECTIONS) | {"lb", "endpoint"}
    for table in data:
        if table not in known:
            raise src.error(f"unknown section [{table}] (known: {', '.join(sorted(known))})", table)
    base = path.parent if path else Path.cwd()
    sections = {t: _section(src, data.get(t, {}), t, keys) for t, keys in SECTIONS.items()}
    region = _region(src, data, sections["region"])
    return Config(
        path=path,
        region=region,
        store=_store(src, sections["store"], base),
        planner=_planner(src, sections["planner"]),
        enactors=_enactors(src, sections["enactors"]),
        reconciler=ReconcilerSettings(**sections["reconciler"]),
        dns=sections["dns"],
        backend=_backend(src, sections["backend"], base),
    )


def _region(src: _Source, data: Mapping[str, Any], region: Mapping[str, Any]) -> Region:
    lbs, endpoints, seen = [], [], set()
    for i, raw in enumerate(data.get("lb", [])):
        item = _section(src, raw, "lb", LB_KEYS, i)
        for required in ("id", "az"):
            if required not in item:
                raise src.error(f"[[lb]] number {i + 1} needs {required!r}", "lb", i)
        if item["id"] in seen:
            raise src.error(f"duplicate load balancer id {item['id']!r}", "lb", i, "id")
        seen.add(item["id"])
        if not item.get("ipv4") and not item.get("ipv6"):
            raise src.error(f"load balancer {item['id']!r} needs an ipv4 or ipv6 address", "lb", i)
        lbs.append(LoadBalancer(LbId(item["id"]), **{k: v for k, v in item.items() if k != "id"}))
    if not lbs:
        raise src.error("the region needs at least one [[lb]]", "region")
    if all(lb.capacity == 0 for lb in lbs):
        raise src.error(
            "every load balancer has capacity 0, so every plan would have total weight 0; "
            "give at least one [[lb]] a capacity > 0",
            "lb",
            0,
            "capacity",
        )
    all_ids = tuple(lb.id for lb in lbs)
    for i, raw in enumerate(data.get("endpoint", [])):
        item = _section(src, raw, "endpoint", ENDPOINT_KEYS, i)
        if "name" not in item:
            raise src.error(f"[[endpoint]] number {i + 1} needs 'name'", "endpoint", i)
        try:
            name = check_dns_name(item["name"])
        except ValueError as exc:
            raise src.error(str(exc), "endpoint", i, "name") from None
        ids = all_ids if item.get("lbs", "*") == "*" else tuple(LbId(x) for x in item["lbs"])
        if not ids:
            raise src.error(f"endpoint {name} has no load balancers", "endpoint", i, "lbs")
        unknown = [x for x in ids if x not in seen]
        if unknown:
            raise src.error(
                f"endpoint {name} names unknown load balancer(s) {unknown}", "endpoint", i, "lbs"
            )
        endpoints.append(
            Endpoint(
                name,
                ids,
                tuple(item.get("types", (RecordType.A,))),
                item.get("ttl", 60),
                item.get("policy", Policy.WEIGHTED_MULTI),
            )
        )
    if not endpoints:
        raise src.error("the region needs at least one [[endpoint]]", "region")
    try:
        zone = str(check_dns_name(region.get("zone", "example.")))
        return Region.build(region.get("name", "region"), zone, lbs, endpoints)
    except ValueError as exc:
        raise src.error(str(exc), "region") from None


def _store(src: _Source, s: Mapping[str, Any], base: Path) -> StoreSettings:
    path = Path(s.get("path", "region.db"))
    _check_store_security(src, s)
    files = {k: _readable(src, base, k, s[k]) for k in TLS_KEYS if k in s}
    password = s.get("password")
    if "password_file" in s:
        password = _readable(src, base, "password_file", s["password_file"]).read_text().strip()
        if not password:
            raise src.error("[store] password_file is empty", "store", None, "password_file")
    return StoreSettings(
        kind=s.get("kind", "sqlite"),
        path=path if path.is_absolute() else base / path,
        endpoints=s.get("endpoints", ()),
        prefix=s.get("prefix", "/zonewarden"),
        synchronous=s.get("synchronous", "NORMAL"),
        username=s.get("username"),
        password=password,
        **files,
    )


TLS_KEYS = ("ca_file", "cert_file", "key_file")


def _check_store_security(src: _Source, s: Mapping[str, Any]) -> None:
    """The etcd TLS and auth keys go together as etcd needs them; say which to fix."""

    def fail(key: str, message: str) -> ConfigError:
        return src.error(f"[store] {message}", "store", None, key)

    schemes = set()
    for url in s.get("endpoints", ()):
        scheme, sep, host = url.partition("://")
        if not sep or scheme not in ("http", "https") or not host.strip("/"):
            raise fail(
                "endpoints", f"endpoint {url!r} is not http://HOST:PORT or https://HOST:PORT"
            )
        schemes.add(scheme)
    if len(schemes) > 1:
        raise fail("endpoints", "endpoints mix http:// and https://; every member needs the same")
    tls = [k for k in TLS_KEYS if k in s]
    if tls and schemes == {"http"}:
        raise fail(
            tls[0],
            f"{tls[0]} needs https:// endpoints: write them as https://HOST:PORT "
            "(the members serve TLS when started with --cert-file), or remove "
            f"{', '.join(tls)} for a plain-HTTP cluster",
        )
    if ("cert_file" in s) != ("key_file" in s):
        have, missing = ("cert_file", "key_file") if "cert_file" in s else ("key_file", "cert_file")
        raise fail(
            have, f"{have} needs {missing} too: the client certificate and its key go together"
        )
    if "password" in s and "password_file" in s:
        raise fail("password_file", "set password or password_file, not both")
    has_password = "password" in s or "password_file" in s
    if "username" in s and not has_password:
        raise fail("username", "username needs password or password_file")
    if has_password and "username" not in s:
        key = "password" if "password" in s else "password_file"
        raise fail(key, f"{key} needs username (the etcd user it belongs to)")


def _readable(src: _Source, base: Path, key: str, value: str) -> Path:
    """The file named by `key`, resolved against the config's directory and readable."""
    path = Path(value)
    path = path if path.is_absolute() else base / path
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise src.error(
            f"[store] {key} {path}: {exc.strerror or exc}", "store", None, key
        ) from None
    return path


def _backend(src: _Source, b: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Check the keys a backend kind needs; read the TSIG secret file if one is named."""
    kind = b.get("kind", "embedded")
    out = dict(b)
    for key in BACKEND_REQUIRED.get(kind, ()):
        if key not in b:
            raise src.error(f"[backend] kind = {kind!r} needs {key!r}", "backend", None, "kind")
    if "tsig_secret_file" in b:
        path = Path(b["tsig_secret_file"])
        path = path if path.is_absolute() else base / path
        try:
            out["tsig_secret"] = path.read_text().strip()
        except OSError as exc:
            raise src.error(
                f"[backend] tsig_secret_file {path}: {exc.strerror}",
                "backend",
                None,
                "tsig_secret_file",
            ) from None
    return out


def _planner(src: _Source, s: Mapping[str, Any]) -> PlannerSettings:
    default = Limits()
    limits = Limits(
        capacity_floor=s.get("capacity_floor", default.capacity_floor),
        max_removal=s.get("max_removal", default.max_removal),
    )
    return PlannerSettings(
        interval=s.get("interval", 1.0),
        limits=limits,
        max_unhealthy_fraction=s.get("max_unhealthy_fraction", 0.5),
        health=s.get("health", "static"),
        seed=s.get("seed", 1),
    )


def _enactors(src: _Source, s: Mapping[str, Any]) -> EnactorSettings:
    ids = s.get("ids", ("az1", "az2", "az3"))
    if len(set(ids)) != len(ids):
        raise src.error(f"[enactors] ids has duplicates: {list(ids)}", "enactors", None, "ids")
    knobs = {k: v for k, v in s.items() if k not in ("ids", "protocol")}
    return EnactorSettings(
        ids=ids, protocol=s.get("protocol", "safe"), config=EnactorConfig(**knobs)
    )


def demo_toml(*, planner_interval: float = 1.0, protocol: str = "safe") -> str:
    """The built-in demo region as TOML: four endpoints sharing twelve LBs in three AZs."""
    region = demo_region()
    out = [
        "# ZoneWarden demo region, written by `zonewarden up`; edit freely.",
        "[region]",
        f'name = "{region.name}"',
        f'zone = "{region.zone}"',
        "",
        "[store]",
        'kind = "sqlite"',
        'path = "region.db"',
        "",
        "[planner]",
        f"interval = {planner_interval}",
        'health = "demo"  # demo: capacities drift so plans keep coming',
        "",
        "[enactors]",
        'ids = ["az1", "az2", "az3"]',
        f'protocol = "{protocol}"',
        "poll_interval = 0.2",
        "",
        "[dns]",
        'listen = ["127.0.0.1:5353"]',
        "",
    ]
    for lb in region.lbs.values():
        out += [
            "[[lb]]",
            f'id = "{lb.id}"',
            f'az = "{lb.az}"',
            f"ipv4 = {list(lb.ipv4)!r}".replace("'", '"'),
            f"ipv6 = {list(lb.ipv6)!r}".replace("'", '"'),
            f"capacity = {lb.capacity}",
            "",
        ]
    for ep in region.endpoints.values():
        out += [
            "[[endpoint]]",
            f'name = "{ep.name}"',
            'lbs = "*"',
            f"types = {[str(t) for t in ep.record_types]!r}".replace("'", '"'),
            f"ttl = {ep.ttl}",
            f'policy = "{ep.policy}"',
            "",
        ]
    return "\n".join(out)


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

"""Every config key the region knows, with its checker.

Rules kept here: a key not listed here is an error (with the known keys listed); add a
key here, and read it in the section parser that builds its settings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from zonewarden.config.checks import (
    addresses,
    boolean,
    choice,
    dns_name,
    integer,
    listen,
    nonempty,
    num,
    strings,
)
from zonewarden.config.dns import DNS_KEYS
from zonewarden.config.health import HEALTH_KEYS, LB_HEALTH_KEYS, PLANNER_HEALTH_KEYS
from zonewarden.config.settings import BACKEND_KINDS, HEALTH_SOURCES, PROTOCOLS, STORE_KINDS
from zonewarden.core.gates import MAX_TTL
from zonewarden.core.model import Policy, RecordType

SECTIONS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "region": {"name": nonempty, "zone": nonempty},  # zone: checked with its line in region.py
    "store": {
        "kind": choice(*STORE_KINDS),
        "path": nonempty,
        "endpoints": strings,
        "prefix": nonempty,
        "synchronous": choice("OFF", "NORMAL", "FULL"),
        "ca_file": nonempty,
        "cert_file": nonempty,
        "key_file": nonempty,
        "username": nonempty,
        "password": nonempty,
        "password_file": nonempty,
    },
    "planner": {
        "interval": num(0.005, 3600),
        "capacity_floor": num(0, 1),
        "max_removal": num(0, 1),
        "max_unhealthy_fraction": num(0, 1),
        "health": choice(*HEALTH_SOURCES),
        "seed": integer(0, 2**63),
    },
    "enactors": {
        "ids": strings,
        "protocol": choice(*PROTOCOLS),
        "batch_size": integer(1, 100_000),
        "poll_interval": num(0.001, 3600),
        "backoff_base": num(0.0001, 60),
        "backoff_cap": num(0.001, 3600),
        "retention": integer(0, 1_000_000),
        "keep_newest": integer(1, 1_000_000),
        "history_age": num(0, 10 * 365 * 86400),
        "history_count": integer(0, 10_000_000),
        "cleanup": boolean,
        "stall_retry": num(0.01, 3600),
        "retry_budget_tokens": num(0, 1000),
        "retry_budget_ratio": num(0.001, 1),
    },
    "reconciler": {"interval": num(0.01, 3600), "max_lag": integer(1, 1_000_000)},
    "dns": DNS_KEYS,
    "api": {
        "listen": lambda v: listen([v])[0] if isinstance(v, str) else listen(v)[0],
        "token_file": nonempty,
        "rate_per_second": num(0.01, 10_000),
        "rate_burst": integer(1, 100_000),
        "max_body": integer(1024, 16 * 1024 * 1024),
    },
    # `up` starts a loopback LB server (zonewarden.health.lbserver) at every [[lb]]'s
    # check address: the built-in demo's load balancers
    "demo": {"lb_servers": boolean},
    "backend": {
        "kind": choice(*BACKEND_KINDS),
        "server": nonempty,
        "port": integer(1, 65535),
        "zone": dns_name,
        "tsig_key_name": nonempty,
        "tsig_secret": nonempty,
        "tsig_secret_file": nonempty,
        "tsig_algorithm": choice(
            "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1"
        ),
        "require_tsig": boolean,
        "timeout": num(0.05, 600),
        "batch_size": integer(1, 250),
        "verify": boolean,
        "marker_type": choice("txt", "cname"),
        "hosted_zone_id": nonempty,
        "endpoint_url": nonempty,
        "aws_region": nonempty,
        "wait_insync": boolean,
        "insync_timeout": num(0, 3600),
    },
}
BACKEND_REQUIRED = {"rfc2136": ("server",), "route53": ("hosted_zone_id",)}
LB_KEYS: dict[str, Callable[[Any], Any]] = {
    "id": nonempty,
    "az": nonempty,
    "ipv4": addresses(ipaddress.IPv4Address),
    "ipv6": addresses(ipaddress.IPv6Address),
    "capacity": integer(0, 10**9),
    "healthy": boolean,
}
ENDPOINT_KEYS: dict[str, Callable[[Any], Any]] = {
    "name": nonempty,
    "lbs": lambda v: v if v == "*" else strings(v),
    "types": lambda v: tuple(RecordType(choice("A", "AAAA")(t)) for t in strings(v)),
    "ttl": integer(0, MAX_TTL),
    "policy": lambda v: Policy(choice(*(p.value for p in Policy))(v)),
}

# health probes, the removal budget and hysteresis (config/health.py reads them)
SECTIONS["health"] = HEALTH_KEYS
SECTIONS["planner"].update(PLANNER_HEALTH_KEYS)
LB_KEYS.update(LB_HEALTH_KEYS)

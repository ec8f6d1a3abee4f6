"""Build the DNS backend a config's [backend] table names, naming the extra if missing."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from zonewarden.errors import ConfigError, MissingExtra
from zonewarden.ports import DnsBackend


def open_backend(settings: Mapping[str, Any], *, default_zone: str) -> DnsBackend:
    kind = settings.get("kind", "embedded")
    zone = settings.get("zone", default_zone)
    route53 = kind == "route53"
    common = {
        # a Route 53 batch holds 500 changes here: 40 endpoints of up to 11 records
        "batch_size": settings.get("batch_size", 40 if route53 else 100),
        # None: Route 53 reads back only where the endpoint does not fence (route53.py)
        "verify": settings.get("verify", None if route53 else True),
    }
    if kind == "rfc2136":
        from zonewarden.backends.rfc2136 import Rfc2136Backend

        return Rfc2136Backend(
            settings["server"],
            zone,
            port=settings.get("port", 53),
            tsig_name=settings.get("tsig_key_name"),
            tsig_secret=settings.get("tsig_secret"),
            tsig_algorithm=settings.get("tsig_algorithm", "hmac-sha256"),
            require_tsig=settings.get("require_tsig", True),
            timeout=settings.get("timeout", 3.0),
            marker_type=settings.get("marker_type", "cname"),
            **common,
        )
    if kind == "route53":
        try:
            module = importlib.import_module("zonewarden.backends.route53")
            importlib.import_module("boto3")
        except ModuleNotFoundError as exc:
            raise MissingExtra("the Route 53 backend", "route53") from exc
        backend: DnsBackend = module.Route53Backend(
            settings["hosted_zone_id"],
            zone,
            endpoint_url=settings.get("endpoint_url"),
            region_name=settings.get("aws_region", "us-east-1"),
            wait_insync=settings.get("wait_insync", True),
            insync_timeout=settings.get("insync_timeout", 300.0),
            **common,
        )
        return backend
    raise ConfigError(f"[backend] kind {kind!r} has no external backend (known: rfc2136, route53)")

"""Zone-file export: the live state of a served zone as an RFC 1035 master file.

Rules kept here:
- the file holds what the server serves: the synthesized SOA (serial = store version)
  and NS at the apex, and each endpoint's live records of weight > 0 (all of them when
  every weight is 0, as the server does), so NSD or Knot loaded with it answer the same
  record sets;
- weights, policy and generation are not DNS data; they go into a comment per endpoint;
- an endpoint with no records cannot be written as a name that exists (master files
  have no empty nodes), so it is listed as a comment and counted in `empty`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zonewarden.backends.embedded.settings import ZoneSettings
from zonewarden.core.model import EndpointName, Record, ZoneEntry


@dataclass(frozen=True, slots=True)
class Export:
    text: str
    endpoints: int
    records: int
    empty: int


def served_records(entry: ZoneEntry) -> list[Record]:
    """The records the server may answer with, in canonical order."""
    live = [r for r in entry.content.records if r.weight > 0]
    return live or list(entry.content.records)


def in_zone(name: str, apex: str) -> bool:
    return apex == "." or name == apex or name.endswith("." + apex)


def export_zone(
    zone: ZoneSettings, version: int, entries: Mapping[EndpointName, ZoneEntry]
) -> Export:
    """The master-file text of `zone` at store `version`."""
    apex = zone.apex
    lines = [
        f"; zone {apex} exported by ZoneWarden, zone store version {version}",
        f"$ORIGIN {apex}",
        f"$TTL {zone.soa_ttl}",
        f"@ {zone.soa_ttl} IN SOA {zone.mname} {zone.rname} ( {version % 2**32} "
        f"{zone.refresh} {zone.retry} {zone.expire} {zone.minimum} )",
    ]
    lines += [f"@ {zone.ns_ttl} IN NS {ns}" for ns in zone.nameservers]
    for name, v4, v6 in zone.glue:  # in-zone nameservers need their addresses here
        if in_zone(name, apex):
            lines += [f"{name} {zone.ns_ttl} IN A {a}" for a in v4]
            lines += [f"{name} {zone.ns_ttl} IN AAAA {a}" for a in v6]
    count = empty = records = 0
    for name, entry in sorted(entries.items()):
        if not in_zone(name, apex):
            continue
        count += 1
        content = entry.content
        weights = " ".join(f"{r.address}={r.weight}" for r in content.records)
        lines.append(
            f"; {name} generation {entry.generation} policy {content.policy} weights {weights}"
        )
        served = served_records(entry)
        if not served:
            empty += 1
            lines.append(f"; {name} has NO records (served as NOERROR with no data)")
        for r in served:
            lines.append(f"{name} {content.ttl} IN {r.rtype} {r.address}")
            records += 1
    return Export("\n".join(lines) + "\n", count, records, empty)

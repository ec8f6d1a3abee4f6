"""The plan document format (JSON or TOML): what `plan show --json` prints and
`plan publish FILE` reads, so a plan can be shown, edited and published back.

    {"endpoints": {"kv.us-east-1.example.": {"ttl": 60, "policy": "weighted-multi",
        "records": [{"type": "A", "address": "192.0.2.1", "weight": 10, "lb": "lb-1a"}]}}}

Every error names the exact place in the document, e.g.
`endpoints["kv.example."].records[2].address: '1.2.3' is not an IPv4 address`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zonewarden.core.gates import MAX_TTL
from zonewarden.core.model import (
    Content,
    EndpointName,
    LbId,
    PlanDraft,
    Policy,
    Record,
    RecordType,
    check_address,
    check_dns_name,
)
from zonewarden.core.policy import MAX_WEIGHT

RECORD_KEYS = {"type", "address", "weight", "lb"}
ENDPOINT_KEYS = {"ttl", "policy", "records"}


class PlanFileError(ValueError):
    """A plan document is malformed; the message says where."""


def to_document(
    endpoints: Mapping[EndpointName, Content], generation: int | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if generation is not None:
        doc["generation"] = generation
    doc["endpoints"] = {
        name: {
            "ttl": c.ttl,
            "policy": str(c.policy),
            "records": [
                {"type": str(r.rtype), "address": r.address, "weight": r.weight, "lb": str(r.lb)}
                for r in c.records
            ],
        }
        for name, c in endpoints.items()
    }
    return doc


def from_document(doc: Any) -> PlanDraft:
    """Parse a plan document; the store assigns the generation, so one given is ignored."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("endpoints"), Mapping):
        raise PlanFileError('a plan document needs an "endpoints" table mapping names to content')
    extra = set(doc) - {"endpoints", "generation"}
    if extra:
        raise PlanFileError(
            f"unknown top-level key(s) {sorted(extra)} (known: endpoints, generation)"
        )
    endpoints: dict[EndpointName, Content] = {}
    for raw_name, body in doc["endpoints"].items():
        where = f"endpoints[{raw_name!r}]"
        try:
            name = check_dns_name(str(raw_name))
        except ValueError as exc:
            raise PlanFileError(f"{where}: {exc}") from None
        if name in endpoints:
            raise PlanFileError(f"{where}: duplicate endpoint {name}")
        endpoints[name] = _content(where, body)
    return PlanDraft(endpoints)


def _content(where: str, body: Any) -> Content:
    if not isinstance(body, Mapping):
        raise PlanFileError(f"{where}: expected a table with ttl, policy, records")
    unknown = set(body) - ENDPOINT_KEYS
    if unknown:
        raise PlanFileError(
            f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(ENDPOINT_KEYS)})"
        )
    ttl = body.get("ttl", 60)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise PlanFileError(f"{where}.ttl: {ttl!r} is not an integer in 0..{MAX_TTL}")
    try:
        policy = Policy(body.get("policy", "weighted-multi"))
    except ValueError:
        raise PlanFileError(
            f"{where}.policy: {body.get('policy')!r} is not one of {[p.value for p in Policy]}"
        ) from None
    rows = body.get("records")
    if not isinstance(rows, list):
        raise PlanFileError(f"{where}.records: expected a list of records")
    return Content(
        ttl, policy, tuple(_record(f"{where}.records[{i}]", r) for i, r in enumerate(rows))
    )


def _record(where: str, row: Any) -> Record:
    if not isinstance(row, Mapping):
        raise PlanFileError(f"{where}: expected a table with type, address, weight, lb")
    unknown = set(row) - RECORD_KEYS
    missing = RECORD_KEYS - set(row) - {"lb"}
    if unknown or missing:
        raise PlanFileError(f"{where}: unknown {sorted(unknown)} / missing {sorted(missing)} keys")
    try:
        rtype = RecordType(row["type"])
    except ValueError:
        raise PlanFileError(f"{where}.type: {row['type']!r} is not A or AAAA") from None
    try:
        address = check_address(rtype, str(row["address"]))
    except ValueError:
        family = "IPv4" if rtype is RecordType.A else "IPv6"
        raise PlanFileError(
            f"{where}.address: {row['address']!r} is not an {family} address"
        ) from None
    weight = row["weight"]
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
        raise PlanFileError(f"{where}.weight: {weight!r} is not an integer in 0..{MAX_WEIGHT}")
    lb = row.get("lb", "manual")
    if not isinstance(lb, str) or not lb:
        raise PlanFileError(f"{where}.lb: {lb!r} is not a load balancer id (a non-empty string)")
    return Record(rtype, address, weight, LbId(lb))

"""moto_server with Route 53's documented change-batch checks: `python -m tests.backends.moto_exact -H 127.0.0.1 -p PORT`.

Stock moto 5 checks a DELETE against every value the name ever had (its change
journal), accepts a CREATE over a live record set, and deletes a weighted set by its
SetIdentifier alone, in any name of the zone. Route 53 itself (ChangeResourceRecordSets
API reference, "Action"): a DELETE must name a record set that is live with exactly
the given values (TTL, records, weight), a CREATE fails if the set exists, and the
whole batch is validated before any of it applies. ZoneWarden's fence is exactly that
check, so a race test against stock moto would test moto's journal, not the fence.

This launcher keeps moto's server, parsing and listing, and replaces only the
validation and application of a change batch with those rules, under one lock, so
two batches never interleave; a DELETE removes the set of that name, type and
SetIdentifier only. `--no-checks` keeps the scoped DELETE and skips the validation:
the race test uses it to show that the validation, i.e. the fence, is what holds.
`test_route53.py` shows stock moto and these rules side by side.
"""

from __future__ import annotations

import copy
import sys
import threading
from typing import Any

from moto.route53 import models
from moto.route53.exceptions import Route53ClientError
from moto.server import main

_lock = threading.Lock()
CHECKS = "--no-checks" not in sys.argv
Key = tuple[str, str, str]


class ChangeRejected(Route53ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidChangeBatch", message)


def _key(rrset: dict[str, Any]) -> Key:
    name = rrset["Name"].lower().rstrip(".") + "."
    return name, rrset["Type"], rrset.get("SetIdentifier") or ""


def _values(rrset: dict[str, Any]) -> tuple[str, list[str], str]:
    records = [r["Value"] if isinstance(r, dict) else r for r in rrset.get("ResourceRecords", [])]
    return str(rrset.get("TTL")), sorted(records), str(rrset.get("Weight"))


def _live(zone: Any) -> dict[Key, dict[str, Any]]:
    return {
        _key({"Name": r.name, "Type": r.type, "SetIdentifier": r.set_identifier}): {
            "TTL": r.ttl,
            "ResourceRecords": r.records,
            "Weight": r.weight,
        }
        for r in zone.rrsets
    }


def _validate(zone: Any, changes: list[dict[str, Any]]) -> None:
    state = _live(zone)
    for change in changes:
        rrset, action = change["ResourceRecordSet"], change["Action"]
        key = _key(rrset)
        what = f"[name='{key[0]}', type='{key[1]}'" + (
            f", set-identifier='{key[2]}']" if key[2] else "]"
        )
        if action == "DELETE":
            live = state.pop(key, None)
            if live is None:
                raise ChangeRejected(
                    f"Tried to delete resource record set {what} but it was not found"
                )
            if _values(live) != _values(rrset):
                raise ChangeRejected(
                    f"Tried to delete resource record set {what} but the values provided "
                    "do not match the current values"
                )
        elif action == "CREATE":
            if key in state:
                raise ChangeRejected(
                    f"Tried to create resource record set {what} but it already exists"
                )
            state[key] = rrset
        elif action == "UPSERT":
            state[key] = rrset


def change_resource_record_sets(self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
    zone = self.get_hosted_zone(zoneid)
    with _lock:
        if CHECKS:
            _validate(zone, change_list)
        for change in change_list:
            original = copy.deepcopy(change)
            rrset = dict(change["ResourceRecordSet"])
            rrset["Name"] = rrset["Name"].rstrip(".") + "."
            if "ResourceRecords" in rrset:
                rrset["ResourceRecords"] = [r["Value"] for r in rrset["ResourceRecords"]]
            if change["Action"] == "CREATE":
                zone.add_rrset(rrset)
            elif change["Action"] == "UPSERT":
                zone.upsert_rrset(rrset)
            else:
                key = _key(rrset)
                zone.rrsets = [
                    r
                    for r in zone.rrsets
                    if _key({"Name": r.name, "Type": r.type, "SetIdentifier": r.set_identifier})
                    != key
                ]
            zone.rr_changes.append(original)


models.Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]

if __name__ == "__main__":
    main([a for a in sys.argv[1:] if a != "--no-checks"])

"""Health state every store keeps: operator holds, vantage reports, the planner's status.

One mixin for every store: the typed methods and their JSON codecs live here, each store
implements two hooks over its own medium (`_health_write`: put or delete one key, with
an optional audit row in the same transaction; `_health_read`: every key under a
prefix). Keys: `hold/<scope>/<name>/<kind>`, `vantage/<name>`, `status/planner`,
`counters/<process>` (a process's resilience counters, for the API's /metrics).

Rules kept here: setting or clearing a hold is audited in the same write
(`lb-disable`, `lb-enable`, `drain`, `undrain`); a vantage report keeps each reading's
time, so the planner can judge its age; unreadable rows are skipped, never fatal (one
bad row takes down no more than itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from zonewarden.core.health import AddressReading, LbReading, VantageReport
from zonewarden.core.model import LbId
from zonewarden.core.policy import OperatorHold

HOLD_KINDS = ("disable", "drain")
HOLD_SCOPES = ("lb", "az")
AUDIT_KIND = {("disable", True): "lb-disable", ("disable", False): "lb-enable"}
AUDIT_KIND |= {("drain", True): "drain", ("drain", False): "undrain"}


class HealthStateOps:
    """The health-state part of a store (see the module doc)."""

    def _health_write(
        self, key: str, value: str | None, audit: tuple[str, str, float, str] | None
    ) -> None:
        raise NotImplementedError

    def _health_read(self, prefix: str) -> dict[str, str]:
        raise NotImplementedError

    # -- operator holds -----------------------------------------------------------------
    def operator_holds(self) -> list[OperatorHold]:
        out = []
        for value in self._health_read("hold/").values():
            try:
                d = json.loads(value)
                out.append(
                    OperatorHold(d["scope"], d["name"], d["kind"], d["reason"], d["actor"], d["at"])
                )
            except (ValueError, KeyError, TypeError):
                continue
        return sorted(out, key=lambda h: (h.scope, h.name, h.kind))

    def set_operator_hold(self, hold: OperatorHold) -> None:
        _check(hold.scope, hold.kind)
        body = json.dumps(
            {
                "scope": hold.scope,
                "name": hold.name,
                "kind": hold.kind,
                "reason": hold.reason,
                "actor": hold.actor,
                "at": hold.at,
            }
        )
        detail = f"{hold.scope} {hold.name}: {hold.reason}"
        self._health_write(
            _hold_key(hold.scope, hold.name, hold.kind),
            body,
            (AUDIT_KIND[(hold.kind, True)], hold.actor, hold.at, detail),
        )

    def clear_operator_hold(
        self, scope: str, name: str, kind: str, *, actor: str, now: float, reason: str = ""
    ) -> bool:
        """Remove a hold; False (and nothing audited) if there was none."""
        _check(scope, kind)
        key = _hold_key(scope, name, kind)
        if key not in self._health_read(key):
            return False
        detail = f"{scope} {name}" + (f": {reason}" if reason else "")
        self._health_write(key, None, (AUDIT_KIND[(kind, False)], actor, now, detail))
        return True

    # -- vantage points -----------------------------------------------------------------
    def publish_vantage(self, report: VantageReport) -> None:
        readings = {
            lb: [r.healthy, r.at, r.reason[:300], r.capacity, r.failing, _addresses_row(r)]
            for lb, r in report.readings.items()
        }
        body = json.dumps({"at": report.at, "readings": readings, "overload": report.overload})
        self._health_write(f"vantage/{report.vantage}", body, None)

    def vantage_reports(self) -> list[VantageReport]:
        out = []
        for key, value in sorted(self._health_read("vantage/").items()):
            try:
                d = json.loads(value)
                readings = {LbId(lb): _reading(row) for lb, row in d["readings"].items()}
                overload = str(d.get("overload") or "")[:500]
                name = key.removeprefix("vantage/")
                out.append(VantageReport(name, float(d["at"]), readings, overload))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    # -- resilience counters of the processes that have no /metrics of their own --------
    def publish_counters(self, process: str, counters: Mapping[str, Mapping[str, int]]) -> None:
        self._health_write(f"counters/{process}", json.dumps(counters), None)

    def published_counters(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per process, its last published `resilience.metrics.snapshot()`."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for key, value in sorted(self._health_read("counters/").items()):
            try:
                d = json.loads(value)
                out[key.removeprefix("counters/")] = {
                    str(name): {str(k): int(v) for k, v in counts.items()}
                    for name, counts in d.items()
                }
            except (ValueError, TypeError, AttributeError):
                continue  # one unreadable row takes down no more than itself
        return out

    # -- the planner's health status (for status, the API and the dashboard) -----------
    def set_health_status(self, status: Mapping[str, Any]) -> None:
        self._health_write("status/planner", json.dumps(status, default=str), None)

    def health_status(self) -> dict[str, Any]:
        """The planner's last health status: per LB verdict, planned capacity and reason,
        vantage points with their age, what the budget holds back, fail-static alarms,
        operator holds. Empty when no probing planner ran."""
        value = self._health_read("status/planner").get("status/planner")
        if value is None:
            return {}
        try:
            status = json.loads(value)
        except ValueError:
            return {}
        return status if isinstance(status, dict) else {}


def _hold_key(scope: str, name: str, kind: str) -> str:
    return f"hold/{scope}/{name}/{kind}"


def _check(scope: str, kind: str) -> None:
    if scope not in HOLD_SCOPES:
        raise ValueError(f"hold scope {scope!r} is not one of {', '.join(HOLD_SCOPES)}")
    if kind not in HOLD_KINDS:
        raise ValueError(f"hold kind {kind!r} is not one of {', '.join(HOLD_KINDS)}")


def _addresses_row(reading: LbReading) -> dict[str, list[Any]]:
    return {a: [r.healthy, r.at, r.reason[:200], r.failing] for a, r in reading.addresses.items()}


def _reading(row: list[Any]) -> LbReading:
    """A published reading; rows from before per-address probing have 4 or 5 fields."""
    healthy, at, why, capacity, *rest = row
    failing = bool(rest[0]) if rest else False
    raw = rest[1] if len(rest) > 1 and isinstance(rest[1], dict) else {}
    addresses = {
        str(a): AddressReading(bool(h), float(t), str(w), bool(f))
        for a, (h, t, w, f) in raw.items()
    }
    return LbReading(
        bool(healthy),
        float(at),
        str(why),
        None if capacity is None else int(capacity),
        failing,
        addresses,
    )

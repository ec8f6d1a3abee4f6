"""Each probed address of a load balancer as the dashboard and /metrics show it.

Read from the planner's health status (runtime/health_status.py): per LB
`addresses[addr] = {healthy, reason, down, fresh, planned, ...}` and the `waiting` lines
(`"<lb> <addr>: hold-down: ..."` for an address, `"<lb>: ..."` for a whole LB).

Rules kept here:
- an address is in exactly one state, the first that fits:
  `down` (a quorum of fresh vantage points calls it unhealthy; it may still be planned
  while the removal budget holds it), `waiting` (healthy again, kept out of the plan
  until its hold-down ends), `left-out` (healthy, but the plan leaves it out: its LB
  serves nothing, or the served capacity covers fewer addresses), `healthy` (healthy and
  planned), `unknown` (no verdict);
- every state but `healthy` is a problem; problems come first (in the order above),
  then by address;
- an LB planned as a whole (fewer than two probed addresses) gets no address rows on the
  dashboard: its own row says it all (`by_address`);
- keys of an address row this module does not know are passed on unchanged, so what
  the planner adds to the status shows without a change here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sized
from typing import Any

STATES = ("down", "waiting", "left-out", "healthy", "unknown")
PROBLEM_ORDER = {"down": 0, "waiting": 1, "left-out": 2, "unknown": 3, "healthy": 4}
WORDS = {
    "down": "down",
    "waiting": "waiting out hold-down",
    "left-out": "left out of the plan",
    "healthy": "healthy",
    "unknown": "?",
}


def waiting_by_address(lines: Iterable[object]) -> dict[tuple[str, str], str]:
    """(lb, address) -> why it waits, from the status document's `waiting` lines."""
    out: dict[tuple[str, str], str] = {}
    for line in lines:
        head, sep, why = str(line).partition(": ")
        lb, space, address = head.partition(" ")
        if sep and space and address:
            out[(lb, address)] = why
    return out


def state_of(row: Mapping[str, Any], waiting: str | None) -> str:
    healthy, planned = row.get("healthy"), row.get("planned")
    if healthy is False:
        return "down"
    if healthy is None:
        return "unknown"
    if planned is False:
        return "waiting" if waiting is not None or _waits(row) else "left-out"
    return "healthy"


def _waits(row: Mapping[str, Any]) -> bool:
    """The planner says so in the row itself: `waiting_s`, seconds of hold-down left."""
    value = row.get("waiting_s")
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def address_rows(
    lb: str, addresses: Mapping[str, Any], waiting: Mapping[tuple[str, str], str]
) -> list[dict[str, Any]]:
    """One row per probed address of `lb`, problems first."""
    rows = []
    for address, raw in addresses.items():
        row = dict(raw) if isinstance(raw, dict) else {}
        why = waiting.get((lb, address))
        state = state_of(row, why)
        rows.append(
            {
                **row,
                "address": address,
                "state": state,
                "state_text": WORDS[state],
                "problem": state != "healthy",
                "waiting_why": why,  # the planner's hold-down line, if it waits
            }
        )
    rows.sort(key=lambda r: (PROBLEM_ORDER[r["state"]], r["address"]))
    return rows


def by_address(rows: Sized) -> bool:
    """Whether the dashboard shows the LB's addresses as rows of their own."""
    return len(rows) > 1


def problem_count(lb: str, addresses: Mapping[str, Any]) -> int:
    """How many of the rows `address_rows` would give `lb` are problems, without building
    them: every LB's count sorts the LBs, the rows are built for one page only. (Whether
    a problem address waits or is left out does not change the count.)"""
    if not by_address(addresses):
        return 0
    # a status document is JSON: plain dicts (a dict check, not the slower Mapping ABC)
    return sum(
        1
        for row in addresses.values()
        if state_of(row if type(row) is dict else {}, None) != "healthy"
    )


def every_address(health: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(lb, az, row) for every probed address of every LB, problems first, then by LB."""
    waiting = waiting_by_address(health.get("waiting") or ())
    out = []
    for lb, probed in (health.get("lbs") or {}).items():
        if not isinstance(probed, Mapping):
            continue
        az = str(probed.get("az") or "")
        out += [(lb, az, r) for r in address_rows(lb, probed.get("addresses") or {}, waiting)]
    out.sort(key=lambda t: (PROBLEM_ORDER[t[2]["state"]], t[0], t[2]["address"]))
    return out

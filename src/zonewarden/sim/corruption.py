"""The CORRUPT fault: put one live endpoint in an inconsistent state on purpose.

The states are the ones L2 is about (empty records, records that do not match their
plan, a plan deleted under a live endpoint); the simulated reconciler must then repair
them with the production repair (`zonewarden.repair.repair_once`).
"""

from __future__ import annotations

from zonewarden.core.model import EMPTY_CONTENT, Content, EndpointName, ZoneEntry
from zonewarden.stores.memory import MemoryStore


def corrupt(store: MemoryStore, name: EndpointName, how: str) -> str | None:
    """Break `name` in the way `how` says (empty, mismatch, dangling); return what was
    done (empty when the asked-for breakage is impossible here), None if not live."""
    entry = store.zone.get(name)
    if entry is None:
        return None
    g = entry.generation
    if how == "dangling" and g in store.plans and g != store.newest():
        del store.plans[g]
        return how
    if how == "mismatch" and len(entry.content.records) > 1:
        c = entry.content
        store.zone[name] = ZoneEntry(name, g, Content(c.ttl, c.policy, c.records[:-1]))
        return how
    store.zone[name] = ZoneEntry(name, g, EMPTY_CONTENT)
    return "empty"

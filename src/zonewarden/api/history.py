"""Audit pages for the API and the CLI: newest or oldest first, from a sequence number
or a time, filtered by kind.

A store that has `audit_page` answers in one indexed read; otherwise the log is walked
forward with `audit_log(after, limit)` in chunks (bounded memory, cost linear in the log).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

from zonewarden.ports import AuditEvent, RegionStore

CHUNK = 5000


def audit_page(
    store: RegionStore,
    *,
    limit: int,
    after: int = 0,
    before: int | None = None,
    since: float = 0.0,
    kinds: Sequence[str] = (),
    newest_first: bool = True,
) -> list[AuditEvent]:
    native = getattr(store, "audit_page", None)
    if native is not None:
        found: list[AuditEvent] = native(
            limit=limit,
            after=after,
            before=before,
            since=since,
            kinds=tuple(kinds),
            newest_first=newest_first,
        )
        return found
    wanted = set(kinds)

    def keep(e: AuditEvent) -> bool:
        return (
            (before is None or e.seq < before)
            and e.at >= since
            and (not wanted or e.kind in wanted)
        )

    kept: collections.deque[AuditEvent] = collections.deque(maxlen=limit if newest_first else None)
    cursor = after
    while True:
        batch = store.audit_log(after=cursor, limit=CHUNK)
        if not batch:
            break
        for e in batch:
            if before is not None and e.seq >= before:
                break
            if keep(e):
                kept.append(e)
        else:
            cursor = batch[-1].seq
            if not newest_first and len(kept) >= limit:
                break
            continue
        break
    out = list(kept)
    return out[::-1] if newest_first else out[:limit]

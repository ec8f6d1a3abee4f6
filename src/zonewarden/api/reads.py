"""Read endpoints of the admin API: status, endpoints, plans, diffs, audit, enactors,
health, alarms. Everything comes from the cached snapshot except single plans, diffs and
audit pages, which are read from the store on demand (they are small and exact).

Rules kept here:
- unknown endpoints and generations are 404 with a message naming what exists;
- lists page: `offset`/`limit` for endpoints, `before`/`limit` (newest first) for
  plans, `after`/`before`/`since`/`limit`/`order` for the audit log; limits are capped.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from zonewarden.api.guards import Refused
from zonewarden.api.view import RegionView, Snapshot
from zonewarden.core.diff import diff_plans
from zonewarden.core.model import Generation, Plan
from zonewarden.ports import AuditEvent

router = APIRouter(prefix="/api/v1", tags=["read"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such endpoint, generation or page"},
    422: {"description": "a query parameter is malformed"},
}
GEN = Annotated[int, Query(ge=1, le=2**62)]


def view(request: Request) -> RegionView:
    found: RegionView = request.app.state.view
    return found


def _summary(s: Snapshot) -> dict[str, Any]:
    return {
        "newest": s.newest,
        "newest_at": s.newest_at,
        "plan_age": round(max(0.0, s.taken_at - s.newest_at), 3) if s.newest_at else None,
        "stored_plans": len(s.generations),
        "oldest_stored": s.generations[0] if s.generations else None,
        "frozen": s.frozen,
        "endpoints": len(s.endpoints),
        "empty_endpoints": s.empty_endpoints,
        "lagging_endpoints": s.lagging_endpoints,
        "taken_at": s.taken_at,
        "error": s.error,
        "alarms": len(s.alarms),
        "top_alarm": s.alarms[0].as_json() if s.alarms else None,
    }


@router.get("/status", responses=ERRORS)
def status(request: Request) -> dict[str, Any]:
    """The region at a glance, with every endpoint (no weights: see /endpoints)."""
    s = view(request).snapshot
    out = _summary(s)
    out["endpoint_list"] = [
        {
            "name": e.name,
            "generation": e.generation,
            "records": e.records,
            "lag": e.lag,
            "pinned": e.pinned,
            "empty": e.empty,
        }
        for e in s.endpoints
    ]
    out["healthy"] = bool(s.endpoints) and s.empty_endpoints == 0
    return out


def search(s: Snapshot, q: str, problems: bool) -> list[Any]:
    rows = list(s.endpoints)
    if q:
        needle = q.lower()
        rows = [e for e in rows if needle in e.name]
    if problems:
        rows = [e for e in rows if e.empty or e.lag > 0 or e.pinned]
    return rows


@router.get("/endpoints", responses=ERRORS)
def endpoints(
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    q: Annotated[str, Query(max_length=255)] = "",
    problems: bool = False,
) -> dict[str, Any]:
    """Endpoints with applied generation, records, lag and weights per LB, paged and
    searchable (`q`: substring of the name; `problems`: only empty, lagging or pinned)."""
    s = view(request).snapshot
    rows = search(s, q, problems)
    return {
        "total": len(rows),
        "offset": offset,
        "limit": limit,
        "items": [e.as_json() for e in rows[offset : offset + limit]],
    }


@router.get("/endpoints/{name}", responses=ERRORS)
def endpoint(request: Request, name: str) -> dict[str, Any]:
    s = view(request).snapshot
    wanted = name if name.endswith(".") else name + "."
    for e in s.endpoints:
        if e.name == wanted.lower():
            return e.as_json()
    raise Refused(404, f"unknown endpoint {name!r} ({len(s.endpoints)} endpoints; search with ?q=)")


def _header_json(h: Any) -> dict[str, Any]:
    return {
        "generation": h.generation,
        "digest": h.digest,
        "endpoints": h.endpoint_count,
        "source": h.source,
        "created_at": h.created_at,
    }


@router.get("/plans", responses=ERRORS)
def plans(
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Stored plans, newest first; page with `before` = the last generation shown."""
    v = view(request)
    gens = [g for g in reversed(v.snapshot.generations) if before is None or g < before]
    page = gens[:limit]
    headers = [v.store.header(Generation(g)) for g in page]
    items = [_header_json(h) for h in headers if h is not None]
    more = len(gens) > limit
    return {"items": items, "next_before": page[-1] if more and page else None}


def _plan(request: Request, generation: int) -> Plan:
    found = view(request).store.plan(Generation(generation))
    if found is None:
        gens = view(request).snapshot.generations
        span = f"{gens[0]}..{gens[-1]}" if gens else "none"
        raise Refused(404, f"plan {generation} is not stored (stored: {span})")
    return found


@router.get("/plans/{generation}", responses=ERRORS)
def plan(request: Request, generation: int) -> dict[str, Any]:
    found = _plan(request, generation)
    return {
        "generation": found.generation,
        "digest": found.digest,
        "source": found.source,
        "created_at": found.created_at,
        "endpoints": {
            name: {
                "ttl": c.ttl,
                "policy": str(c.policy),
                "records": [
                    {"type": str(r.rtype), "address": r.address, "weight": r.weight, "lb": r.lb}
                    for r in c.records
                ],
            }
            for name, c in found.endpoints.items()
        },
    }


@router.get("/diffs/{a}/{b}", responses=ERRORS)
def diff(request: Request, a: int, b: int) -> dict[str, Any]:
    """What changes from plan A to plan B, per endpoint."""
    old, new = _plan(request, a), _plan(request, b)
    return {
        "from": a,
        "to": b,
        "changes": [c.as_json() for c in diff_plans(old.endpoints, new.endpoints)],
    }


def event_json(e: AuditEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "kind": e.kind,
        "endpoint": e.endpoint,
        "generation": e.generation,
        "detail": e.detail,
    }


@router.get("/audit", responses=ERRORS)
def audit(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    since: Annotated[float, Query(ge=0, le=1e11)] = 0.0,
    kind: Annotated[list[str] | None, Query(max_length=20)] = None,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> dict[str, Any]:
    """The audit log, newest first by default; `since` is a UNIX time, `after`/`before`
    sequence numbers (page back with before = the last seq shown)."""
    from zonewarden.api.history import audit_page

    events = audit_page(
        view(request).store,
        limit=limit,
        after=after,
        before=before,
        since=since,
        kinds=tuple(kind or ()),
        newest_first=order == "desc",
    )
    more = len(events) == limit
    last = events[-1].seq if events else None
    return {
        "items": [event_json(e) for e in events],
        "next": ({"before": last} if order == "desc" else {"after": last}) if more else None,
    }


@router.get("/enactors", responses=ERRORS)
def enactors(request: Request) -> dict[str, Any]:
    """Every enactor's (and the planner's) last heartbeat: plan, phase, outcome counts."""
    s = view(request).snapshot
    return {
        "items": [
            {
                "actor": h.actor,
                "age": round(s.taken_at - h.at, 3),
                "generation": h.generation,
                "behind": max(0, s.newest - h.generation),
                "phase": h.phase,
                "detail": h.detail,
            }
            for h in s.heartbeats
        ]
    }


@router.get("/health", responses=ERRORS)
def health(request: Request) -> dict[str, Any]:
    """Per load balancer: endpoints served, total weight now, the planner's verdict, and
    per probed address its verdict (`address_health`) and state (`address_rows`: down,
    waiting, left-out, healthy, problems first); and whether the planner is holding
    (fail-static)."""
    from zonewarden.api.lbs import lb_health

    return lb_health(view(request))


@router.get("/alarms", responses=ERRORS)
def alarms(request: Request) -> dict[str, Any]:
    """What is wrong right now, ranked: the one that matters is first."""
    return {"items": [a.as_json() for a in view(request).snapshot.alarms]}

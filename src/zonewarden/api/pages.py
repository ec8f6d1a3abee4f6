"""Pages for people and scrapers: the dashboard, the public status page, /status.json,
the Atom feed, /metrics, and the one JSON document the dashboard polls.

The HTML pages are static files whose scripts poll JSON, so they update live without a
reload and cost the server nothing per page view beyond the JSON.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from zonewarden.api import statuspage
from zonewarden.api.lbs import lb_health
from zonewarden.api.metrics import CONTENT_TYPE, render
from zonewarden.api.reads import _summary, event_json, search
from zonewarden.api.view import RegionView

router = APIRouter()
STATIC = resources.files("zonewarden.api") / "static"
TIMELINE_KINDS = frozenset({"publish", "fenced", "refused", "hold", "repair"})


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((STATIC / name).read_text(), headers={"Cache-Control": "no-cache"})


@router.get("/", include_in_schema=False)
def dashboard_page() -> HTMLResponse:
    return _page("dashboard.html")


@router.get("/status", include_in_schema=False)
def status_page() -> HTMLResponse:
    return _page("status.html")


def _view(request: Request) -> RegionView:
    found: RegionView = request.app.state.view
    return found


@router.get("/status.json", tags=["public"])
def status_json(request: Request) -> dict[str, Any]:
    """The public status in the shape of Statuspage's /api/v2/summary.json."""
    v = _view(request)
    return statuspage.summary(
        v.incidents,
        region=request.app.state.config.region.name,
        now=v.snapshot.taken_at or request.app.state.started,
        started=request.app.state.started,
    )


@router.get("/feed.atom", tags=["public"], response_class=Response)
def feed(request: Request) -> Response:
    """Incidents as an Atom feed, newest first."""
    v = _view(request)
    body = statuspage.atom(
        v.incidents,
        region=request.app.state.config.region.name,
        now=v.snapshot.taken_at or request.app.state.started,
        base=str(request.base_url),
    )
    return Response(body, media_type="application/atom+xml")


@router.get("/metrics", tags=["public"], response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of the control plane."""
    return Response(render(request.app.state.registry), media_type=CONTENT_TYPE)


def _lb_page(v: RegionView, offset: int, limit: int, q: str) -> dict[str, Any]:
    """The LB page as /api/v1/health has it, less `address_health`: the dashboard draws
    `address_rows`, which carry the same fields and the state (one copy on the wire)."""
    page = lb_health(v, offset, limit, q)
    page["lbs"] = [{k: x for k, x in r.items() if k != "address_health"} for r in page["lbs"]]
    return page


@router.get("/api/v1/dashboard", tags=["read"])
def dashboard(
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    q: Annotated[str, Query(max_length=255)] = "",
    problems: bool = False,
    lb_offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    lb_limit: Annotated[int, Query(ge=1, le=500)] = 50,
    lb_q: Annotated[str, Query(max_length=255)] = "",
) -> dict[str, Any]:
    """Everything the dashboard draws, in one document: one page of endpoints and one of
    load balancers (problems first), with totals over all of them."""
    v = _view(request)
    s = v.snapshot
    rows = search(s, q, problems)
    recent = s.recent
    timeline = [
        {"at": e.at, "generation": e.generation, "kind": e.kind, "actor": e.actor}
        for e in recent[-3000:]
        if e.kind in TIMELINE_KINDS and e.generation
    ][-400:]
    return {
        "region": request.app.state.config.region.name,
        "summary": _summary(s),
        "alarms": [a.as_json() for a in s.alarms[:20]],
        "counts": dict(s.counts),
        "timeline": timeline,
        "enactors": [
            {
                "actor": h.actor,
                "age": round(s.taken_at - h.at, 3),
                "generation": h.generation,
                "behind": max(0, s.newest - h.generation),
                "phase": h.phase,
                "detail": h.detail,
            }
            for h in s.heartbeats
        ],
        "health": _lb_page(v, lb_offset, lb_limit, lb_q),
        "endpoints": {
            "all": len(s.endpoints),
            "total": len(rows),
            "offset": offset,
            "limit": limit,
            "items": [e.as_json() for e in rows[offset : offset + limit]],
        },
        "audit": [event_json(e) for e in reversed(recent[-50:])],
    }

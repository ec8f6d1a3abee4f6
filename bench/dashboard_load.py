"""The dashboard's first page load with 50,000 endpoints in Debian's headless Chromium
(Playwright, executable_path=/usr/bin/chromium; never a downloaded browser), beside a
plain uvicorn + Starlette page with a 100-row table (the browser's own floor).

    .venv/bin/python bench/dashboard_load.py [--endpoints 50000] [--loads 5] [--refresh 0.5]
        [--addresses 2]

With `--addresses N` (default 2) the store holds a probing planner's health status with N
addresses per LB and one address down on every 100th LB, so the LB page carries its
per-address rows (only the page's 50 LBs are sent, whatever the endpoints).

A load is timed from navigation until the endpoints table shows its first page (the
dashboard fetches /api/v1/dashboard after the HTML); the peer until its table exists.
Reports medians, the ratio and this process's CPU (the servers) per load. The API
refreshes its snapshot in the background as `up` runs it (every 0.5 s by default), so its
CPU includes that. Shared machine: quote the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.harness import api_region, chromium, report, served

from zonewarden.api.app import ApiOptions, create_app
from zonewarden.config import Config


def loads(page: Any, url: str, selector: str, n: int) -> tuple[list[float], float]:
    times = []
    cpu = time.process_time()
    for _ in range(n):
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_selector(selector, timeout=60_000)
        times.append(time.perf_counter() - start)
    return times, (time.process_time() - cpu) / n


def address_status(region: Any, per_lb: int, now: float) -> dict[str, Any]:
    """A probing planner's health status over the region's LBs, `per_lb` addresses each
    (the first the LB's own, the rest made up), one address down on every 100th LB, the
    shape runtime/health_status.py writes."""
    lbs = {}
    for n, (lb, config) in enumerate(sorted(region.lbs.items())):
        down = n % 100 == 0
        addresses = {
            a: {
                "healthy": not (down and i == per_lb - 1),
                "reason": "2/2 say unhealthy: http 503" if down and i == per_lb - 1 else "",
                "down": 2 if down and i == per_lb - 1 else 0,
                "fresh": 2,
                "planned": not (down and i == per_lb - 1),
            }
            for i, a in enumerate(
                [*config.ipv4[:1], *(f"fd00:{n:x}::{i}" for i in range(1, per_lb))]
            )
        }
        lbs[str(lb)] = {
            "az": config.az,
            "healthy": True,
            "reason": "http 200",
            "capacity": config.capacity,
            "served": config.capacity,
            "weight": 1,
            "addresses": addresses,
        }
    vantage = {"fresh": ["planner", "az1"], "stale": [], "overload": []}
    return {"at": now, "action": "unchanged", "fail_static": [], "lbs": lbs, "vantage": vantage}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoints", type=int, default=50_000)
    p.add_argument("--loads", type=int, default=5)
    p.add_argument("--refresh", type=float, default=ApiOptions().refresh)
    p.add_argument("--addresses", type=int, default=2, help="per LB in the health status; 0: none")
    args = p.parse_args()
    region, store = api_region(args.endpoints)
    if args.addresses:
        store.set_health_status(address_status(region, args.addresses, time.time()))
    asgi, _ = create_app(Config(path=None, region=region), store, ApiOptions(refresh=args.refresh))
    table = "".join(f"<tr><td>ep{i}</td><td>1</td><td>8</td></tr>" for i in range(100))

    async def plain(_: Any) -> HTMLResponse:
        return HTMLResponse(
            f"<html><body><table id='t'><tbody>{table}</tbody></table></body></html>"
        )

    with ExitStack() as running:
        our_port = running.enter_context(served(asgi))
        peer_port = running.enter_context(served(Starlette(routes=[Route("/", plain)])))
        page = running.enter_context(chromium()).new_page()
        first = "#endpoints tbody tr[data-endpoint]"
        loads(page, f"http://127.0.0.1:{our_port}/", first, 1)  # warm up both
        loads(page, f"http://127.0.0.1:{peer_port}/", "#t tr", 1)
        ours_t, ours_cpu = loads(page, f"http://127.0.0.1:{our_port}/", first, args.loads)
        peer_t, peer_cpu = loads(page, f"http://127.0.0.1:{peer_port}/", "#t tr", args.loads)
        with urllib.request.urlopen(f"http://127.0.0.1:{our_port}/api/v1/dashboard") as r:
            body = r.read()  # the document the first page polls
        lb_page = json.loads(body)["health"]["lbs"]
    summary = {
        "endpoints": args.endpoints,
        "loads": args.loads,
        "refresh_s": args.refresh,
        "lbs": len(region.lbs),
        "addresses_per_lb": args.addresses,
        "dashboard_first_page_ms_median": round(1000 * statistics.median(ours_t), 1),
        "dashboard_each_ms": [round(1000 * t, 1) for t in ours_t],
        "dashboard_server_cpu_ms_per_load": round(1000 * ours_cpu, 1),
        "dashboard_json_bytes": len(body),
        "lbs_on_page": len(lb_page),
        "address_rows_on_page": sum(len(lb["address_rows"]) for lb in lb_page),
        "problem_address_rows": sum(a["problem"] for lb in lb_page for a in lb["address_rows"]),
        "plain_page_ms_median": round(1000 * statistics.median(peer_t), 1),
        "plain_server_cpu_ms_per_load": round(1000 * peer_cpu, 1),
    }
    return report(summary, ours_t, peer_t)


if __name__ == "__main__":
    sys.exit(main())

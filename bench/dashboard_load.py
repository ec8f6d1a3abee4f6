"""The dashboard's first page load with 50,000 endpoints in Debian's headless Chromium
(Playwright, executable_path=/usr/bin/chromium; never a downloaded browser), beside a
plain uvicorn + Starlette page with a 100-row table (the browser's own floor).

    .venv/bin/python bench/dashboard_load.py [--endpoints 50000] [--loads 5] [--refresh 0.5]

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
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.api_status import serve
from bench.region import Shape, assignments, build_region

from zonewarden.api.app import ApiOptions, create_app
from zonewarden.config import Config
from zonewarden.core.planner import build_draft
from zonewarden.stores.memory import MemoryStore

FLAGS = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]  # fmt: skip


def loads(page: Any, url: str, selector: str, n: int) -> tuple[list[float], float]:
    times = []
    cpu = time.process_time()
    for _ in range(n):
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_selector(selector, timeout=60_000)
        times.append(time.perf_counter() - start)
    return times, (time.process_time() - cpu) / n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoints", type=int, default=50_000)
    p.add_argument("--loads", type=int, default=5)
    p.add_argument("--refresh", type=float, default=ApiOptions().refresh)
    args = p.parse_args()
    shape = Shape(endpoints=args.endpoints)
    region = build_region(shape, assignments(shape))
    store = MemoryStore()
    plan = store.publish(build_draft(region, {}), source="bench", actor="bench", now=time.time())
    store.apply_if_newer(plan.generation, list(region.endpoints), actor="bench", now=time.time())
    asgi, _ = create_app(Config(path=None, region=region), store, ApiOptions(refresh=args.refresh))
    ours, our_port = serve(asgi)
    table = "".join(f"<tr><td>ep{i}</td><td>1</td><td>8</td></tr>" for i in range(100))

    async def plain(_: Any) -> HTMLResponse:
        return HTMLResponse(
            f"<html><body><table id='t'><tbody>{table}</tbody></table></body></html>"
        )

    peer, peer_port = serve(Starlette(routes=[Route("/", plain)]))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="zw-bench-chromium-"),
            executable_path="/usr/bin/chromium",
            headless=False,  # --headless=new in FLAGS: Debian's build, the new headless mode
            args=FLAGS,
        )
        page = ctx.new_page()
        first = "#endpoints tbody tr[data-endpoint]"
        loads(page, f"http://127.0.0.1:{our_port}/", first, 1)  # warm up both
        loads(page, f"http://127.0.0.1:{peer_port}/", "#t tr", 1)
        ours_t, ours_cpu = loads(page, f"http://127.0.0.1:{our_port}/", first, args.loads)
        peer_t, peer_cpu = loads(page, f"http://127.0.0.1:{peer_port}/", "#t tr", args.loads)
        ctx.close()
    ours.should_exit = peer.should_exit = True
    summary = {
        "endpoints": args.endpoints,
        "loads": args.loads,
        "refresh_s": args.refresh,
        "dashboard_first_page_ms_median": round(1000 * statistics.median(ours_t), 1),
        "dashboard_each_ms": [round(1000 * t, 1) for t in ours_t],
        "dashboard_server_cpu_ms_per_load": round(1000 * ours_cpu, 1),
        "plain_page_ms_median": round(1000 * statistics.median(peer_t), 1),
        "plain_server_cpu_ms_per_load": round(1000 * peer_cpu, 1),
        "ratio": round(statistics.median(ours_t) / statistics.median(peer_t), 2),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
